using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// sched_fairness: how closely credit2 on real KVM delivers weights and caps. A daemon booted
/// with <c>sched=credit2 maxcpus=1</c> (and pinned to host CPU 0 with taskset) runs
/// guests/build/cpuhog.elf domains, which spin for a fixed time and report their runstate
/// (VCPUOP_get_runstate_info). fairness_error: two hogs with cpu_weight 256 and 512 on the one
/// pCPU, % deviation of their running-time ratio from 2 (one sample per pair, the median is the
/// figure). cap_error (extra): one hog with cap=25 alone, % deviation of its share of the pCPU
/// from 25%.
/// </summary>
public static class SchedFairness
{
    private const int Seconds = 8;
    private const int Samples = 3;

    public static BenchResult Run()
    {
        string elf = Repo.Guest("cpuhog");
        using var d = new SchedBenchDaemon("sched = \"credit2\"\nmaxcpus = 1\n", "0");
        var errors = new List<double>();
        var ratios = new List<double>();
        for (int i = 0; i < Samples; i++)
        {
            var r = d.RunHogs(elf, [($"w256-{i}", Seconds, "cpu_weight = 256"), ($"w512-{i}", Seconds, "cpu_weight = 512")]);
            double ratio = r[1].RunningNs / (double)r[0].RunningNs;
            ratios.Add(Math.Round(ratio, 4));
            errors.Add(Math.Abs(ratio - 2) / 2 * 100);
        }
        var cap = d.RunHogs(elf, [("cap25", Seconds, "cap = 25")])[0];
        double share = cap.RunningNs / (double)cap.ElapsedNs * 100;

        var result = new BenchResult("sched_fairness", "%", errors);
        result.Extra["fairness_error_pct"] = BenchResult.Median(errors);
        result.Extra["weight_ratios_512_to_256"] = string.Join(",", ratios.Select(x => x.ToString("F4", CultureInfo.InvariantCulture)));
        result.Extra["cap_error_pct"] = Math.Abs(share - 25) / 25 * 100;
        result.Extra["cap25_share_pct"] = share;
        result.Extra["seconds_per_run"] = Seconds;
        result.Extra["hog_loops_per_cpu_s"] = cap.Loops / (cap.RunningNs / 1e9);
        return result;
    }
}

/// <summary>What cpuhog printed: `cpuhog: loops=N elapsed_ns=E runstate running_ns=R runnable_ns=Q blocked_ns=B ring=K`.</summary>
internal sealed record HogReport(long Loops, long ElapsedNs, long RunningNs, long RunnableNs, long BlockedNs)
{
    private static readonly Regex Line = new(
        @"^cpuhog: loops=(\d+) elapsed_ns=(\d+) runstate running_ns=(\d+) runnable_ns=(\d+) blocked_ns=(\d+)", RegexOptions.Multiline);

    public static HogReport? Parse(string output)
    {
        var m = Line.Match(output);
        if (!m.Success) return null;
        long G(int g) => long.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture);
        return new HogReport(G(1), G(2), G(3), G(4), G(5));
    }
}

/// <summary>
/// A benchmark daemon with boot parameters: like <see cref="BenchDaemon"/>, but xensharpd.conf
/// (<paramref name="conf"/>) is written into its fresh XENSHARP_STATE_DIR before the first xl
/// command starts it, under `taskset -c cpus`.
/// </summary>
internal sealed class SchedBenchDaemon : IDisposable
{
    public string Xl { get; } = Repo.Xl();
    public Dictionary<string, string> Env { get; } = new()
    {
        ["XENSHARP_STATE_DIR"] = Path.Combine(Path.GetTempPath(), $"xensharp-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"),
    };
    public string Dir => Env["XENSHARP_STATE_DIR"];

    public SchedBenchDaemon(string conf, string cpus)
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(Path.Combine(Dir, "xensharpd.conf"), conf);
        Repo.Run("taskset", ["-c", cpus, Xl, "info"], Env);
    }

    public (int Code, string Out, string Err) Run(params string[] args) => Repo.Run(Xl, args, Env);

    public string WriteConfig(string name, string elf, string cmdline, string extra)
    {
        string cfg = Path.Combine(Dir, name + ".cfg");
        File.WriteAllText(cfg, $"""
            name = "{name}"
            type = "pvh"
            kernel = "{elf}"
            memory = 16
            vcpus = 1
            on_poweroff = "destroy"
            on_crash = "destroy"
            cmdline = "{cmdline}"
            {extra}
            """);
        return cfg;
    }

    public Process StartXl(params string[] args)
    {
        var psi = new ProcessStartInfo(Xl) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in Env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    /// <summary>Creates the hogs paused, attaches consoles, unpauses them together; their reports in order.</summary>
    public IReadOnlyList<HogReport> RunHogs(string elf, IReadOnlyList<(string Name, int Seconds, string Extra)> hogs)
    {
        foreach (var h in hogs) Run("create", "-p", WriteConfig(h.Name, elf, $"seconds={h.Seconds}", h.Extra));
        var consoles = hogs.Select(h => StartXl("console", h.Name)).ToList();
        try
        {
            var outputs = consoles.Select(c => c.StandardOutput.ReadToEndAsync()).ToList();
            Thread.Sleep(300);
            foreach (var h in hogs) Run("unpause", h.Name);
            var reports = new List<HogReport>();
            for (int i = 0; i < hogs.Count; i++)
            {
                if (!consoles[i].WaitForExit(TimeSpan.FromSeconds(hogs[i].Seconds * 4 + 60)))
                    throw new TimeoutException($"{hogs[i].Name} did not finish");
                reports.Add(HogReport.Parse(outputs[i].Result)
                    ?? throw new InvalidOperationException($"{hogs[i].Name} printed no report:\n{outputs[i].Result}"));
            }
            return reports;
        }
        finally
        {
            foreach (var c in consoles)
            {
                if (!c.HasExited) c.Kill();
                c.Dispose();
            }
            foreach (var h in hogs) Repo.Run(Xl, ["destroy", h.Name], Env, allowFailure: true);
        }
    }

    public void Dispose()
    {
        Repo.Run(Xl, ["daemon-stop"], Env, allowFailure: true);
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
