using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Guests that take interrupts and exceptions and return from them: INT n, INT3, #UD/#GP/#NP/#PF
/// fixups, IRET to ring 3, event-channel upcalls, CMPXCHG8B/16B, and IRET frames that must
/// fault — in 32-bit protected mode (paging off, 32-bit, PAE) and in long mode. This host's
/// KVM refuses IRET and INT n at CPL0; XenSharp completes them.
///
/// Limits of this host are outside XenSharp's reach and are the only exceptions the
/// assertions allow: at CPL3 KVM turns INT n/IRET into a #UD for the guest without exiting,
/// and it refuses CR0.PG in 32-bit protected mode (the guests report those checks as SKIP with
/// that reason); in 64-bit mode KVM runs IRETQ itself, completing one to a non-canonical RIP
/// instead of raising #GP (the guest's iretq-noncanonical-rip check). On a host whose KVM does
/// none of this, those checks simply pass.
/// </summary>
[Collection(TrapCollection.Name)]
public sealed class TrapTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly string[] HostCausedFailures = ["iretq-noncanonical-rip"];

    /// <summary>What the guests print when this host's KVM stops a check before XenSharp sees it.</summary>
    private static readonly string[] HostLimits = ["raised #UD", "refused CR0.PG"];

    [Theory]
    [InlineData("trap-test", 20)]
    [InlineData("iret-bad", 10)]
    [InlineData("trap64-test", 20)]
    public void TrapGuest_PassesEveryCheckThisHostAllows(string guest, int minimumPassed)
    {
        string cfg = Host.WritePvhConfig(guest, XenSharpHost.Guest(guest), memoryMiB: 32);
        var run = Host.Xl(TimeSpan.FromSeconds(120), "create", "-c", cfg);
        var lines = run.StdoutLines.ToList();

        var summary = lines.Select(l => Regex.Match(l, $@"^{Regex.Escape(guest)}: (\d+) passed, (\d+) failed$")).LastOrDefault(m => m.Success);
        Assert.True(summary is not null, $"no summary line\n{run.Describe()}");
        int passed = int.Parse(summary.Groups[1].Value), failed = int.Parse(summary.Groups[2].Value);

        var failures = lines.Where(l => l.StartsWith("FAIL ", StringComparison.Ordinal)).ToList();
        var unexpected = failures.Where(f => !HostCausedFailures.Any(h => f.StartsWith($"FAIL {h}:", StringComparison.Ordinal))).ToList();
        Assert.True(unexpected.Count == 0, $"failed checks:\n{string.Join('\n', unexpected)}\n{run.Describe()}");
        var skips = lines.Where(l => l.StartsWith("SKIP ", StringComparison.Ordinal)).ToList();
        Assert.True(skips.All(s => HostLimits.Any(s.Contains)), $"skips for another reason than this host's limits:\n{string.Join('\n', skips)}");
        Assert.True(passed >= minimumPassed, $"only {passed} checks passed\n{run.Describe()}");
        Assert.Equal(failures.Count, failed);
        run.AssertExit(failed == 0 ? 0 : 2);
        Host.AssertOnlyDomain0();
    }

    /// <summary>
    /// Under KVM, the instructions this host's KVM refused and XenSharp completed are counted by
    /// kind; on the software CPU every guest instruction is XenSharp's, and xl info counts them.
    /// </summary>
    [Fact]
    public void EmulatedInstructions_AreCountedInXlInfo()
    {
        string cfg = Host.WritePvhConfig("trap-count", XenSharpHost.Guest("trap-test"), memoryMiB: 32);
        long Retired() => long.Parse(Host.Xl("info").AssertSuccess().StdoutLines.Single(l => l.StartsWith("guest_insns")).Split(':')[1].Trim());
        string accelerator = Host.Xl("info").AssertSuccess().StdoutLines.Single(l => l.StartsWith("accelerator ")).Split(':')[1].Trim();
        long before = accelerator == "soft-x86" ? Retired() : 0;
        Host.Xl(TimeSpan.FromSeconds(120), "create", "-c", cfg);
        if (accelerator == "soft-x86")
        {
            Assert.True(Retired() > before + 10_000, "trap-test ran on the software CPU but guest_insns did not grow");
            return;
        }
        string line = Host.Xl("info").AssertSuccess().StdoutLines.Single(l => l.StartsWith("emulated_insns"));
        Assert.Matches(new Regex(@"IRETD=[1-9]"), line);
        Assert.Matches(new Regex(@"\bINT=[1-9]"), line);
    }
}
