using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class HostileGuestCollection : ICollectionFixture<XenSharpHost> { public const string Name = "hostile guests"; }

/// <summary>
/// guests/build/hostile-fuzz.elf fires random event_channel_op, grant_table_op and
/// add_to_physmap(grant table) hypercalls, aimed also at the domains running next to it,
/// while well-behaved guests (evtchn-pingpong pairs, virq-ticks) do their work. The
/// hypervisor, the daemon and the other domains must not notice.
/// </summary>
[Collection(HostileGuestCollection.Name)]
public sealed class HostileGuestTests(XenSharpHost host) : XlTestBase(host)
{
    private const int Iterations = 10_000;
    private const int Rounds = 5_000;

    [Fact]
    public void TwoFuzzingGuests_LeaveTheHypervisorAndWellBehavedGuestsIntact()
    {
        // Wave 1: a ping-pong pair and two fuzzers (aimed at the pair) start together.
        using var group = GuestGroup.CreatePaused(Host, PingPong("hf-ping", "ping"), PingPong("hf-pong", "pong"));
        string targets = $"{group.Id("hf-ping")},{group.Id("hf-pong")}";
        var seeds = new[] { 1, 20240607 };
        foreach (int seed in seeds)
        {
            group.AddPaused($"fuzz-{seed}", Host.WritePvhConfig($"fuzz-{seed}", XenSharpHost.Guest("hostile-fuzz"), memoryMiB: 32,
                extra: $"cmdline = \"seed={seed} iterations={Iterations} targets={targets} progress={Iterations / 4}\""));
        }
        group.LinkPeers("hf-ping", "hf-pong");
        group.UnpauseAll();

        // Wave 2, halfway through the fuzzing: a second pair and virq-ticks start next to the
        // fuzzers (which by then may have left the hypervisor in any state they can reach).
        foreach (int seed in seeds)
            group.WaitForOutput($"fuzz-{seed}", $"INFO {Iterations / 2} calls", GuestGroup.RunTimeout);
        group.AddPaused("hf-ping2", Host.WritePvhConfig("hf-ping2", XenSharpHost.Guest("evtchn-pingpong"), memoryMiB: 32,
            extra: $"cmdline = \"role=ping rounds={Rounds}\""));
        group.AddPaused("hf-pong2", Host.WritePvhConfig("hf-pong2", XenSharpHost.Guest("evtchn-pingpong"), memoryMiB: 32,
            extra: $"cmdline = \"role=pong rounds={Rounds}\""));
        group.AddPaused("hf-ticks", Host.WritePvhConfig("hf-ticks", XenSharpHost.Guest("virq-ticks"), memoryMiB: 32));
        group.LinkPeers("hf-ping2", "hf-pong2");
        foreach (var name in new[] { "hf-ping2", "hf-pong2", "hf-ticks" }) Host.Xl("unpause", name).AssertSuccess();

        var fuzzers = seeds.Select(s => group.WaitForEnd($"fuzz-{s}", GuestGroup.RunTimeout)).ToList();
        foreach (var f in fuzzers)
        {
            Assert.True(Regex.IsMatch(f.Output, $@"^hostile-fuzz: {Iterations} calls done\r?$", RegexOptions.Multiline),
                $"{f.Name} did not finish its calls\n{f.Describe()}");
            // Its own crash is allowed (a hostile guest may break itself); a hypervisor error is not.
            Assert.True(f.ExitCode is 0 or 2, $"{f.Name}: xl console exited {f.ExitCode}\n{f.Describe()}");
            Assert.DoesNotContain("internal error", f.Stderr, StringComparison.OrdinalIgnoreCase);
        }
        foreach (var name in new[] { "hf-ping", "hf-pong", "hf-ping2", "hf-pong2" })
        {
            var r = group.WaitForEnd(name, GuestGroup.RunTimeout);
            r.AssertPassed("evtchn-pingpong", minPassed: 20);
            Assert.True(r.Info("received") == Rounds.ToString(CultureInfo.InvariantCulture),
                $"{name} did not receive exactly {Rounds} events\n{r.Describe()}");
        }
        group.WaitForEnd("hf-ticks", GuestGroup.RunTimeout).AssertPassed("virq-ticks", minPassed: 13);

        // The daemon still answers, nothing is left, and it logged no internal error.
        Host.AssertOnlyDomain0();
        AssertDaemonLogClean();

        // And a new guest still runs normally.
        string cfg = Host.WritePvhConfig("hf-after", XenSharpHost.Guest("virq-ticks"), memoryMiB: 32);
        var after = Host.Xl(GuestGroup.RunTimeout, "create", "-c", cfg);
        new GuestRunResult("hf-after", -1, after.ExitCode, after.Stdout, after.Stderr, Host).AssertPassed("virq-ticks", minPassed: 13);
        Host.AssertOnlyDomain0();
        AssertDaemonLogClean();
    }

    private (string, string) PingPong(string name, string role) =>
        (name, Host.WritePvhConfig(name, XenSharpHost.Guest("evtchn-pingpong"), memoryMiB: 32,
            extra: $"cmdline = \"role={role} rounds={Rounds}\""));

    private void AssertDaemonLogClean()
    {
        string log;
        using (var s = new FileStream(Host.DaemonLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var reader = new StreamReader(s))
            log = reader.ReadToEnd();
        var bad = log.Split('\n').Where(l =>
            l.Contains("internal error", StringComparison.OrdinalIgnoreCase) ||
            l.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase)).Take(20).ToList();
        Assert.True(bad.Count == 0, "the daemon log reports internal errors:\n" + string.Join('\n', bad) + "\n--- tail ---\n" + Host.DaemonLogTail(40));
    }
}
