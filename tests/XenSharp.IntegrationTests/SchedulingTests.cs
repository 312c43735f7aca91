using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class SchedulingCollection : ICollectionFixture<XenSharpHost> { public const string Name = "scheduling (credit2, 1 pCPU)"; }

/// <summary>
/// The credit2 scheduler on real KVM: a daemon booted with <c>sched=credit2 maxcpus=1</c>
/// (xensharpd.conf in the fixture's state directory, written before its first xl command) runs
/// guests/build/cpuhog.elf domains, which spin for <c>seconds=N</c> and report their
/// runstate (VCPUOP_get_runstate_info). Assertions are ratios of CPU time, with wide margins;
/// the measured figures go to the test output.
/// </summary>
[Collection(SchedulingCollection.Name)]
public sealed class SchedulingTests : XlTestBase
{
    private static readonly Regex Report = new(
        @"^cpuhog: loops=(\d+) elapsed_ns=(\d+) runstate running_ns=(\d+) runnable_ns=(\d+) blocked_ns=(\d+) ring=\d+\r?$",
        RegexOptions.Multiline);

    private readonly ITestOutputHelper _output;

    public SchedulingTests(XenSharpHost host, ITestOutputHelper output) : base(host)
    {
        _output = output;
        // Boot parameters for the fixture's daemon: StatePaths reads xensharpd.conf from
        // XENSHARP_STATE_DIR. Only before the daemon started (the first test of the class).
        string conf = Path.Combine(host.StateDir, "xensharpd.conf");
        if (!File.Exists(Path.Combine(host.StateDir, "control.sock")) && !File.Exists(conf))
            File.WriteAllText(conf, "sched = \"credit2\"\nmaxcpus = 1\n");
    }

    private sealed record HogReport(long Loops, long ElapsedNs, long RunningNs, long RunnableNs, long BlockedNs);

    private string HogConfig(string name, int seconds, string extra) =>
        Host.WritePvhConfig(name, XenSharpHost.Guest("cpuhog"), memoryMiB: 16, vcpus: 1,
            extra: $"cmdline = \"seconds={seconds}\"\n{extra}");

    /// <summary>Creates the domains paused, attaches their consoles, unpauses them together and waits for their reports.</summary>
    private IReadOnlyList<HogReport> RunHogs(params string[] cfgs)
    {
        var names = new List<string>();
        foreach (var cfg in cfgs)
        {
            string name = Regex.Match(File.ReadAllText(cfg), "name = \"([^\"]+)\"").Groups[1].Value;
            Host.Xl("create", "-p", cfg).AssertSuccess();
            names.Add(name);
        }
        var consoles = names.Select(n => Host.StartXl("console", n)).ToList();
        try
        {
            Thread.Sleep(300); // let the consoles attach (earlier output is kept anyway)
            foreach (var n in names) Host.Xl("unpause", n).AssertSuccess();
            var reports = new List<HogReport>();
            for (int i = 0; i < names.Count; i++)
            {
                Assert.True(consoles[i].WaitForExit(TimeSpan.FromSeconds(120)), $"{names[i]} did not finish\n{consoles[i].Stdout}");
                var m = Report.Match(consoles[i].Stdout);
                Assert.True(m.Success, $"{names[i]} printed no report:\n{consoles[i].Stdout}\n{consoles[i].Stderr}\n{Host.DaemonLogTail()}");
                long G(int g) => long.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture);
                var r = new HogReport(G(1), G(2), G(3), G(4), G(5));
                _output.WriteLine($"{names[i]}: {r}");
                reports.Add(r);
            }
            return reports;
        }
        finally
        {
            foreach (var c in consoles) c.Dispose();
        }
    }

    [Fact]
    public void Credit2_weights_512_and_256_share_one_pcpu_two_to_one()
    {
        var reports = RunHogs(
            HogConfig("hog-w256", 20, "cpu_weight = 256"),
            HogConfig("hog-w512", 20, "cpu_weight = 512"));
        double ratio = reports[1].RunningNs / (double)reports[0].RunningNs;
        double loopRatio = reports[1].Loops / (double)reports[0].Loops;
        _output.WriteLine($"running-time ratio 512:256 = {ratio:F3}; loop ratio = {loopRatio:F3}");
        // The work each guest got done is what a user sees; the runstate's running time (which
        // also counts entry/exit overhead while holding the pCPU) must agree roughly.
        Assert.True(loopRatio is > 1.7 and < 2.3, $"work ratio {loopRatio:F3} (running time {ratio:F3}) is not within 15% of 2: {string.Join("; ", reports)}");
        Assert.True(ratio is > 1.5 and < 2.5, $"running-time ratio {ratio:F3} (work {loopRatio:F3}) is not within 25% of 2: {string.Join("; ", reports)}");
        // The two compete for one pCPU: each waits (runnable) while the other runs.
        Assert.All(reports, r => Assert.True(r.RunnableNs > 0, $"no runnable time: {r}"));
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Credit2_cap_25_keeps_a_lone_hog_to_a_quarter_of_the_pcpu()
    {
        var r = RunHogs(HogConfig("hog-cap25", 10, "cap = 25"))[0];
        double share = r.RunningNs / (double)r.ElapsedNs * 100;
        _output.WriteLine($"capped share = {share:F1}% of one pCPU");
        Assert.True(share is >= 20 and <= 30, $"a cap of 25 gave {share:F1}% of one pCPU: {r}");
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Vcpu_pin_shows_in_vcpu_list()
    {
        string cfg = Host.WritePvhConfig("pinned", XenSharpHost.Guest("spin"));
        Host.Xl("create", cfg).AssertSuccess();
        var pin = Host.Xl("vcpu-pin", "pinned", "0", "0");
        if (pin.ExitCode != 0 && (pin.Stderr.Contains("unknown command", StringComparison.Ordinal)))
        {
            _output.WriteLine("xl vcpu-pin is not available in this build: the pin check was not run");
            return;
        }
        pin.AssertSuccess();
        string? line = null;
        XenSharpHost.WaitUntil(() =>
        {
            line = Host.Xl("vcpu-list", "pinned").AssertSuccess().StdoutLines.FirstOrDefault(l => l.StartsWith("pinned ", StringComparison.Ordinal));
            if (line is null) return false;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // With maxcpus=1, {0} is every pCPU: xl prints it as "all", as Xen's xl does.
            return f.Length >= 8 && f[3] == "0" && f[6] is "0" or "all";
        }, TimeSpan.FromSeconds(10), "vcpu-list to show vCPU 0 of `pinned` on CPU 0 with hard affinity 0 (= all of the one pCPU)");
        _output.WriteLine(line);
        Host.Xl("destroy", "pinned").AssertSuccess();
    }
}
