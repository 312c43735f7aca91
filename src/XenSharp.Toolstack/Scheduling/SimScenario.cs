using System.Globalization;
using System.Text;
using XenSharp.Scheduling;
using XenSharp.Scheduling.Pools;
using XenSharp.Scheduling.Simulation;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Scheduling;

/// <summary>One entry of a scenario's <c>domains</c> list.</summary>
/// <param name="Cpus">Hard affinity (null = all pCPUs).</param>
/// <param name="Soft">Soft affinity (null = all pCPUs).</param>
/// <param name="Line">The 1-based line of the entry in the scenario file.</param>
public sealed record SimDomainSpec(string Name, int Weight, int Cap, int Vcpus, Workload Workload,
    CpuMask? Cpus, CpuMask? Soft, int Line);

/// <summary>
/// A scheduling scenario for <c>xl sched-sim</c>, written in xl.cfg syntax:
/// <code>
/// sched   = "credit2"     # credit2 | credit | null (default credit2)
/// pcpus   = 2             # 1..64 (default 1)
/// seconds = 10            # virtual seconds to simulate, 1..3600 (default 10)
/// seed    = 1             # random seed (default 1)
/// domains = [ "name=web,weight=512,cap=0,vcpus=2,workload=cpu,cpus=0-1",
///             "name=batch,weight=256,workload=io:200us:1ms" ]
/// </code>
/// Domain fields: name (required), weight (1..65535, default 256), cap (percent of one pCPU,
/// 0..100 × vcpus, 0 = none), vcpus (1..64, default 1), workload (cpu | io:RUN:BLOCK |
/// burst:ON:OFF | random:RUN:BLOCK, durations with unit ns, us, ms or s), cpus / soft (CPU lists
/// such as "0-1,^3" or "all"). Errors are <see cref="XlConfigException"/>s naming FILE:LINE, the
/// key (or <c>domains[i]</c> and field) and what is accepted.
/// </summary>
public sealed record SimScenario(string FileName, string Sched, int Pcpus, int Seconds, int Seed,
    IReadOnlyList<SimDomainSpec> Domains)
{
    public const int MaxPcpus = 64;
    public const int MaxSeconds = 3600;
    public const int MaxVcpus = 64;

    private static readonly string[] KnownKeys = ["sched", "pcpus", "seconds", "seed", "domains"];
    private static readonly string[] KnownFields = ["name", "weight", "cap", "vcpus", "workload", "cpus", "soft"];
    private const string WorkloadAccepted =
        "cpu, io:RUN:BLOCK, burst:ON:OFF or random:RUN:BLOCK with durations > 0 and a unit ns, us, ms or s, e.g. io:200us:1ms";

    /// <summary>Reads and parses the scenario file at <paramref name="path"/>.</summary>
    public static SimScenario ParseFile(string path) => From(XlConfigParser.ParseFile(path));

    /// <summary>Parses scenario text, naming it <paramref name="fileName"/> in messages.</summary>
    public static SimScenario Parse(string text, string fileName) => From(XlConfigParser.Parse(text, fileName));

    private static SimScenario From(XlConfigFile cfg)
    {
        foreach (var key in cfg.Keys)
        {
            if (!KnownKeys.Contains(key))
            {
                var s = cfg.Find(key)!;
                throw new XlConfigException($"{s.Location}: {key}: unknown key (accepted: {string.Join(", ", KnownKeys)})")
                { Location = s.Location, Key = key, Line = s.Line };
            }
        }

        string sched = "credit2";
        if (cfg.Find("sched") is { } schedSetting)
        {
            string accepted = string.Join(", ", SchedulerFactory.AvailableNames);
            sched = XlSettingReader.Text(schedSetting, accepted);
            if (!SchedulerFactory.IsAvailable(sched)) throw XlSettingReader.BadValue(schedSetting, accepted);
        }
        int pcpus = cfg.Find("pcpus") is { } p ? (int)XlSettingReader.Integer(p, 1, MaxPcpus, $"an integer 1..{MaxPcpus}") : 1;
        int seconds = cfg.Find("seconds") is { } sec
            ? (int)XlSettingReader.Integer(sec, 1, MaxSeconds, $"virtual seconds, an integer 1..{MaxSeconds}") : 10;
        int seed = cfg.Find("seed") is { } sd ? (int)XlSettingReader.Integer(sd, 0, int.MaxValue, $"an integer 0..{int.MaxValue}") : 1;

        var domainsSetting = cfg.Find("domains")
            ?? throw XlConfigExceptionMissing(cfg.FileName, "domains", "a list of \"name=NAME,weight=W,...\" strings, at least one");
        const string domainsAccepted = "a list of \"name=NAME,weight=W,cap=C,vcpus=N,workload=W,cpus=LIST\" strings, at least one";
        if (domainsSetting.Value is not XlList list || list.Count == 0)
            throw XlSettingReader.BadValue(domainsSetting, domainsAccepted);

        var domains = new List<SimDomainSpec>();
        for (int i = 0; i < list.Count; i++)
        {
            var item = list[i];
            int line = item.Line > 0 ? item.Line : domainsSetting.Line;
            string where = XlConfigException.FormatLocation(domainsSetting.File, line, domainsSetting.Override);
            if (item is not XlString str)
                throw new XlConfigException($"{where}: domains[{i}]: bad value '{XlSettingReader.Show(item)}' (accepted: a quoted string \"name=NAME,...\")")
                { Location = where, Key = "domains", Line = line };
            var spec = ParseDomain(str.Value, i, where, line, pcpus);
            if (domains.Any(d => d.Name == spec.Name))
                throw Field(where, line, i, "name", spec.Name, "a name not used by another domain of the scenario");
            domains.Add(spec);
        }
        return new SimScenario(cfg.FileName, sched, pcpus, seconds, seed, domains);
    }

    private static SimDomainSpec ParseDomain(string text, int index, string where, int line, int pcpus)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        string? last = null;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0) continue;
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0 && last is "cpus" or "soft")
            {
                fields[last] += "," + part; // a CPU list goes on after its commas: cpus=0-1,3
                continue;
            }
            string key = eq < 0 ? part : part[..eq].Trim();
            if (eq < 0 || !KnownFields.Contains(key))
                throw new XlConfigException($"{where}: domains[{index}]: bad field '{part}' (accepted: {string.Join(", ", KnownFields.Select(f => f + "=..."))})")
                { Location = where, Key = "domains", Line = line };
            if (!fields.TryAdd(key, part[(eq + 1)..].Trim()))
                throw Field(where, line, index, key, part[(eq + 1)..].Trim(), "each field once per domain");
            last = key;
        }

        if (!fields.TryGetValue("name", out var name) || name.Length == 0)
            throw new XlConfigException($"{where}: domains[{index}]: name: missing (each domain needs name=NAME)")
            { Location = where, Key = "domains", Line = line };
        int vcpus = Int(fields, "vcpus", 1, 1, MaxVcpus, $"an integer 1..{MaxVcpus}", where, line, index);
        int weight = Int(fields, "weight", 256, 1, 65535, "an integer 1..65535 (default 256)", where, line, index);
        int cap = Int(fields, "cap", 0, 0, 100 * vcpus,
            $"percent of one pCPU, 0..{100 * vcpus} (100 × {vcpus} vCPU(s)); 0 = no cap", where, line, index);
        var workload = Workload.CpuBound;
        if (fields.TryGetValue("workload", out var w))
            workload = ParseWorkload(w) ?? throw Field(where, line, index, "workload", w, WorkloadAccepted);
        var online = CpuMask.Range(0, pcpus - 1);
        CpuMask? hard = Mask(fields, "cpus", online, where, line, index, pcpus);
        CpuMask? soft = Mask(fields, "soft", online, where, line, index, pcpus);
        return new SimDomainSpec(name, weight, cap, vcpus, workload, hard, soft, line);
    }

    private static int Int(Dictionary<string, string> fields, string key, int dflt, int min, int max, string accepted,
        string where, int line, int index)
    {
        if (!fields.TryGetValue(key, out var text)) return dflt;
        if (!XlNumber.TryParse(text, out long v, out _) || v < min || v > max)
            throw Field(where, line, index, key, text, accepted);
        return (int)v;
    }

    private static CpuMask? Mask(Dictionary<string, string> fields, string key, CpuMask online,
        string where, int line, int index, int pcpus)
    {
        if (!fields.TryGetValue(key, out var text)) return null;
        string accepted = $"a CPU list such as \"0-1,^3\" or \"all\" naming at least one of pCPUs 0..{pcpus - 1}";
        if (!CpuMask.TryParse(text, out var mask, out _) || !mask.Intersects(online))
            throw Field(where, line, index, key, text, accepted);
        return mask;
    }

    /// <summary>cpu | io:RUN:BLOCK | burst:ON:OFF | random:RUN:BLOCK; null if malformed.</summary>
    public static Workload? ParseWorkload(string text)
    {
        var parts = text.Trim().Split(':');
        switch (parts[0])
        {
            case "cpu" when parts.Length == 1: return Workload.CpuBound;
            case "io" or "burst" or "random" when parts.Length == 3:
                if (ParseDuration(parts[1]) is not long a || ParseDuration(parts[2]) is not long b) return null;
                return parts[0] switch
                {
                    "io" => Workload.IoLike(a, b),
                    "burst" => Workload.Burst(a, b),
                    _ => Workload.Random(a, b),
                };
            default: return null;
        }
    }

    /// <summary>"200us", "1ms", "5s", "100ns" → ns (&gt; 0); null if malformed.</summary>
    public static long? ParseDuration(string text)
    {
        text = text.Trim();
        (string unit, long mult) = text.EndsWith("ns", StringComparison.Ordinal) ? ("ns", 1L)
            : text.EndsWith("us", StringComparison.Ordinal) ? ("us", 1_000L)
            : text.EndsWith("ms", StringComparison.Ordinal) ? ("ms", 1_000_000L)
            : text.EndsWith('s') ? ("s", 1_000_000_000L)
            : ("", 0L);
        if (mult == 0) return null;
        var digits = text[..^unit.Length];
        if (digits.Length == 0 || digits.Length > 12 || !digits.All(char.IsAsciiDigit)) return null;
        long n = long.Parse(digits, CultureInfo.InvariantCulture);
        if (n == 0 || n > long.MaxValue / mult) return null;
        return n * mult;
    }

    private static XlConfigException Field(string where, int line, int index, string field, string value, string accepted) =>
        new($"{where}: domains[{index}]: {field}: bad value '{XlString.Escape(value)}' (accepted: {accepted})")
        { Location = where, Key = "domains", Line = line };

    private static XlConfigException XlConfigExceptionMissing(string file, string key, string why) =>
        new($"{file}: {key}: missing ({why})") { Location = file, Key = key };

    /// <summary>A simulator set up with the scenario (not yet run).</summary>
    public Simulator Build()
    {
        var sim = new Simulator(SchedulerFactory.Create(Sched), Pcpus, Seed);
        foreach (var spec in Domains)
        {
            var d = sim.AddDomain(spec.Name, spec.Weight);
            for (int v = 0; v < spec.Vcpus; v++) sim.AddVcpu(d, spec.Workload, spec.Cpus, spec.Soft);
            if (spec.Cap != 0) sim.AdjustDomain(d, cap: spec.Cap);
        }
        return sim;
    }

    /// <summary>Builds and runs the scenario for <see cref="Seconds"/> virtual seconds.</summary>
    public SimulationReport Run() => Build().Run(TimeSpan.FromSeconds(Seconds));

    /// <summary>The report as xl prints it: a domain table, then a vCPU table.</summary>
    public string Format(SimulationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"sched={report.Policy} pcpus={report.Pcpus} seed={Seed} virtual time={Ms(report.ElapsedNs)}ms decisions={report.Decisions} migrations={report.Migrations} idle={Pct(report.IdleNs, report.BusyNs + report.IdleNs):F2}%");
        sb.AppendLine();
        sb.AppendLine(ci, $"{"Domain",-16} {"Weight",6} {"Cap",5} {"vCPUs",5} {"Share%",7} {"Util%",7} {"CPU(ms)",11} {"Migr",6}  Workload");
        foreach (var d in report.Domains)
        {
            var spec = Domains.FirstOrDefault(s => s.Name == d.Name);
            sb.AppendLine(ci, $"{d.Name,-16} {d.Domain.Weight,6} {d.Domain.Cap,5} {d.Vcpus.Count,5} {d.SharePercent,7:F2} {d.UtilizationPercent,7:F2} {Ms(d.CpuNs),11:F1} {d.Migrations,6}  {(spec is null ? "" : Describe(spec.Workload))}");
        }
        sb.AppendLine();
        sb.AppendLine(ci, $"{"vCPU",-20} {"Util%",7} {"CPU(ms)",11} {"Runnable(ms)",12} {"Blocked(ms)",11} {"Runs",8} {"Migr",6}");
        foreach (var d in report.Domains)
        {
            foreach (var v in d.Vcpus)
            {
                string name = $"{d.Name}.{v.Vcpu.VcpuId}";
                sb.AppendLine(ci, $"{name,-20} {v.UtilizationPercent,7:F2} {Ms(v.CpuNs),11:F1} {Ms(v.RunnableNs),12:F1} {Ms(v.BlockedNs),11:F1} {v.Runs,8} {v.Migrations,6}");
            }
        }
        return sb.ToString();
    }

    private static double Ms(long ns) => ns / 1e6;
    private static double Pct(long part, long whole) => whole == 0 ? 0 : 100.0 * part / whole;

    private static string Describe(Workload w) => w switch
    {
        CpuBoundWorkload => "cpu",
        IoLikeWorkload io => $"io:{Dur(io.RunNs)}:{Dur(io.BlockNs)}",
        BurstWorkload b => $"burst:{Dur(b.OnNs)}:{Dur(b.OffNs)}",
        RandomWorkload r => $"random:{Dur(r.MeanRunNs)}:{Dur(r.MeanBlockNs)}",
        _ => w.GetType().Name,
    };

    private static string Dur(long ns) =>
        ns % 1_000_000_000 == 0 ? $"{ns / 1_000_000_000}s"
        : ns % 1_000_000 == 0 ? $"{ns / 1_000_000}ms"
        : ns % 1_000 == 0 ? $"{ns / 1_000}us"
        : $"{ns}ns";
}
