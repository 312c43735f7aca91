using System.Globalization;
using XenSharp.Toolstack.Config;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.Parameters;

/// <summary>
/// XenSharp's hypervisor parameters (Xen's command line, docs/misc/xen-command-line.pandoc),
/// set at boot by `xl daemon -- NAME=VALUE ...` and xensharpd.conf, and at run time by
/// `xl set-parameters` for the live ones:
/// <list type="bullet">
/// <item><c>loglvl</c> (live): <c>LEVEL[/LEVEL]</c>, levels none, error, warning, info, debug, all;
/// default info. Hypervisor messages above the first LEVEL are not recorded in `xl dmesg`
/// (domain crashes are errors, the rest info); the rate-limited second level is kept and shown.</item>
/// <item><c>conring_size</c> (boot only): the hypervisor log ring `xl dmesg` shows, 4k..256k
/// (Xen's size syntax: a number with B, K or M; no suffix means KiB); default 256k. The log
/// keeps 256 KiB; a smaller ring makes `xl dmesg` return only the newest conring_size bytes.</item>
/// <item><c>gnttab_max_frames</c> (live): max_grant_frames of domains created afterwards whose
/// xl.cfg does not set it, 1..4096, default 64. "Does not set it" is seen as the config value
/// being <see cref="DomainConfig.DefaultMaxGrantFrames"/>, so an xl.cfg that says
/// max_grant_frames=64 explicitly also gets the daemon's value.</item>
/// <item><c>max_event_channels</c> (live): the same for xl.cfg's max_event_channels, 1..131071,
/// default 1023 (compared with <see cref="DomainConfig.DefaultMaxEventChannels"/>).</item>
/// <item><c>xenstore_quota</c> (live): xenstored's global quotas, <c>NAME=N[,NAME=N...]</c>;
/// names not given keep their value. The live value is xenstored's own (xenstore-control
/// quota set changes it too).</item>
/// <item><c>sched</c> (boot only): the scheduler of the default cpupool — as Xen's sched= — or
/// <c>none</c>: every vCPU thread runs whenever the host lets it, without XenSharp scheduling.</item>
/// <item><c>maxcpus</c> (boot only): how many host CPUs XenSharp uses as pCPUs (0..N-1); default all.</item>
/// <item><c>credit2_runqueue</c> (boot only): how credit2 groups pCPUs in runqueues — cpu, core,
/// socket (default), node or all — from the host topology in sysfs.</item>
/// <item><c>credit2_cap_period_ms</c> (boot only): credit2's cap budget period, 1..1000, default 10.</item>
/// </list>
/// </summary>
public static class HypervisorParameters
{
    public const string LogLevel = "loglvl";
    public const string ConsoleRingSize = "conring_size";
    public const string GrantTableMaxFrames = "gnttab_max_frames";
    public const string MaxEventChannels = "max_event_channels";
    public const string XenStoreQuota = "xenstore_quota";
    public const string Scheduler = "sched";
    public const string MaxCpus = "maxcpus";
    public const string Accelerator = "accel";
    public const string Credit2Runqueue = "credit2_runqueue";
    public const string Credit2CapPeriodMs = "credit2_cap_period_ms";

    public static IReadOnlyList<string> Credit2Runqueues { get; } = ["cpu", "core", "socket", "node", "all"];

    /// <summary>The schedulers sched= accepts; "none" turns XenSharp's scheduling off.</summary>
    public static IReadOnlyList<string> Schedulers => [.. XenSharp.Scheduling.Pools.SchedulerFactory.KnownNames, "none"];

    public static readonly IReadOnlyList<string> LogLevels = ["none", "error", "warning", "info", "debug", "all"];

    /// <summary>The hypervisor log ring's capacity (ConsoleLog's), the largest conring_size.</summary>
    public const long MaxConsoleRingBytes = 256 * 1024;
    public const long MinConsoleRingBytes = 4 * 1024;

    public static ParameterRegistry CreateRegistry() => new(Definitions());

    public static IEnumerable<ParameterDefinition> Definitions()
    {
        yield return new ParameterDefinition
        {
            Name = LogLevel,
            Accepted = "LEVEL or LEVEL/RATE-LIMITED-LEVEL, LEVEL one of " + string.Join(", ", LogLevels),
            Description = "hypervisor messages recorded in `xl dmesg` (crashes are errors, the rest info)",
            Live = true,
            Default = "info",
            Parse = (text, _) => ParseLogLevel(text),
        };
        yield return new ParameterDefinition
        {
            Name = ConsoleRingSize,
            Accepted = $"a size {FormatSize(MinConsoleRingBytes)}..{FormatSize(MaxConsoleRingBytes)} (a number with B, K or M; KiB when none)",
            Description = "size of the hypervisor log ring `xl dmesg` shows",
            Live = false,
            Default = MaxConsoleRingBytes,
            Parse = (text, _) => ParseSize(text, MinConsoleRingBytes, MaxConsoleRingBytes),
            Format = v => FormatSize((long)v),
        };
        yield return new ParameterDefinition
        {
            Name = GrantTableMaxFrames,
            Accepted = $"an integer 1..{DomainConfig.MaxGrantFramesLimit}",
            Description = $"max_grant_frames of domains created afterwards whose xl.cfg leaves it at {DomainConfig.DefaultMaxGrantFrames}",
            Live = true,
            Default = DomainConfig.DefaultMaxGrantFrames,
            Parse = (text, _) => ParseInt(text, 1, DomainConfig.MaxGrantFramesLimit),
        };
        yield return new ParameterDefinition
        {
            Name = MaxEventChannels,
            Accepted = $"an integer 1..{DomainConfig.MaxEventChannelsLimit}",
            Description = $"max_event_channels of domains created afterwards whose xl.cfg leaves it at {DomainConfig.DefaultMaxEventChannels}",
            Live = true,
            Default = DomainConfig.DefaultMaxEventChannels,
            Parse = (text, _) => ParseInt(text, 1, DomainConfig.MaxEventChannelsLimit),
        };
        yield return new ParameterDefinition
        {
            Name = XenStoreQuota,
            Accepted = "NAME=N[,NAME=N...] with N >= 0 (0 turns a check off) and NAME one of " + string.Join(", ", XenStoreQuotas.Names),
            Description = "xenstored's global quotas (names not given keep their value)",
            Live = true,
            Default = XenStoreQuotas.Default,
            Parse = (text, current) => ParseQuotas(text, (XenStoreQuotas)current),
            Format = v => FormatQuotas((XenStoreQuotas)v),
        };
        yield return new ParameterDefinition
        {
            Name = Scheduler,
            Accepted = string.Join(", ", Schedulers),
            Description = "scheduler of the default cpupool (none: vCPU threads run unscheduled)",
            Live = false,
            Default = "credit2",
            Parse = (text, _) => Schedulers.Contains(text) ? text : throw new FormatException(),
        };
        yield return new ParameterDefinition
        {
            Name = Accelerator,
            Accepted = string.Join(", ", XenSharp.Toolstack.Host.AcceleratorChoice.Names),
            Description = "what runs guest code: kvm, XenSharp's software x86 CPU (soft-x86), or auto (kvm when /dev/kvm opens, else soft-x86)",
            Live = false,
            Default = XenSharp.Toolstack.Host.AcceleratorChoice.Auto,
            Parse = (text, _) => XenSharp.Toolstack.Host.AcceleratorChoice.Names.Contains(text) ? text : throw new FormatException(),
        };
        yield return new ParameterDefinition
        {
            Name = MaxCpus,
            Accepted = $"an integer 1..{Environment.ProcessorCount} (this host's CPUs)",
            Description = "host CPUs used as pCPUs",
            Live = false,
            Default = Environment.ProcessorCount,
            Parse = (text, _) => ParseInt(text, 1, Environment.ProcessorCount),
        };
        yield return new ParameterDefinition
        {
            Name = Credit2Runqueue,
            Accepted = string.Join(", ", Credit2Runqueues),
            Description = "how credit2 groups pCPUs in runqueues",
            Live = false,
            Default = "socket",
            Parse = (text, _) => Credit2Runqueues.Contains(text) ? text : throw new FormatException(),
        };
        yield return new ParameterDefinition
        {
            Name = Credit2CapPeriodMs,
            Accepted = "an integer 1..1000 (ms)",
            Description = "credit2's cap budget period",
            Live = false,
            Default = 10,
            Parse = (text, _) => ParseInt(text, 1, 1000),
        };
    }

    /// <summary>Registers credit2 with the configured runqueue arrangement, host topology and cap period.</summary>
    public static void ConfigureCredit2(ParameterRegistry parameters, int pcpus)
    {
        var arrangement = Enum.Parse<XenSharp.Scheduling.Credit2RunqueueArrangement>(parameters.Get<string>(Credit2Runqueue), ignoreCase: true);
        var topology = XenSharp.Toolstack.Host.HostTopology.Read(pcpus);
        long capPeriod = parameters.Get<int>(Credit2CapPeriodMs) * 1_000_000L;
        XenSharp.Scheduling.Pools.SchedulerFactory.Register("credit2",
            () => new XenSharp.Scheduling.Credit2Scheduler(arrangement, topology) { CapPeriodNs = capPeriod });
    }

    /// <summary>
    /// A domain's config with the daemon's defaults: max_grant_frames and max_event_channels
    /// the xl.cfg left at their defaults take gnttab_max_frames and max_event_channels.
    /// </summary>
    public static DomainConfig ApplyDomainDefaults(DomainConfig config, ParameterRegistry parameters)
    {
        if (config.MaxGrantFrames == DomainConfig.DefaultMaxGrantFrames)
            config = config with { MaxGrantFrames = parameters.Get<int>(GrantTableMaxFrames) };
        if (config.MaxEventChannels == DomainConfig.DefaultMaxEventChannels)
            config = config with { MaxEventChannels = parameters.Get<int>(MaxEventChannels) };
        return config;
    }

    /// <summary>The recording threshold of a loglvl value (its first level).</summary>
    public static XenSharp.Hypervisor.Console.ConsoleLog.Level ThresholdOf(string loglvl) =>
        Enum.Parse<XenSharp.Hypervisor.Console.ConsoleLog.Level>(loglvl.Split('/')[0], ignoreCase: true);

    private static string ParseLogLevel(string text)
    {
        var parts = text.Split('/');
        if (parts.Length > 2 || parts.Any(p => !LogLevels.Contains(p))) throw new FormatException();
        return text;
    }

    private static int ParseInt(string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new FormatException();
        return v;
    }

    /// <summary>Xen's size syntax (parse_size_and_unit): digits, then B, K, M or G; no suffix means KiB.</summary>
    public static long ParseSize(string text, long min, long max)
    {
        if (text.Length == 0) throw new FormatException();
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits])) digits++;
        if (digits == 0 || digits > 12) throw new FormatException();
        long n = long.Parse(text.AsSpan(0, digits), CultureInfo.InvariantCulture);
        int shift = text[digits..].ToLowerInvariant() switch
        {
            "" or "k" => 10,
            "b" => 0,
            "m" => 20,
            "g" => 30,
            _ => throw new FormatException(),
        };
        long bytes = n << shift;
        if (bytes >> shift != n || bytes < min || bytes > max) throw new FormatException();
        return bytes;
    }

    public static string FormatSize(long bytes) =>
        bytes % (1 << 20) == 0 ? $"{bytes >> 20}M" : bytes % 1024 == 0 ? $"{bytes >> 10}k" : $"{bytes}B";

    private static XenStoreQuotas ParseQuotas(string text, XenStoreQuotas current)
    {
        var q = current;
        foreach (var entry in text.Split(','))
        {
            var parts = entry.Split('=', 2);
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int value) ||
                q.With(parts[0], value) is not { } updated)
                throw new FormatException();
            q = updated;
        }
        return q;
    }

    public static string FormatQuotas(XenStoreQuotas q) =>
        string.Join(",", XenStoreQuotas.Names.Select(n => $"{n}={q.Get(n)}"));
}
