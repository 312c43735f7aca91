using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class ApicCollection : ICollectionFixture<XenSharpHost> { public const string Name = "apic guest"; }

/// <summary>
/// guests/build/apic-test.elf: XenSharp's emulated local APIC under real KVM, from inside a
/// guest with an IDT — xAPIC MMIO registers, self-IPIs with ISR/IRR/EOI, TPR blocking, the
/// one-shot and periodic LVT timer and its mask, then x2APIC MSRs (ID, LDR, SELF IPI, ICR, EOI)
/// and the TSC-deadline timer.
/// </summary>
[Collection(ApicCollection.Name)]
public sealed class ApicTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly Regex Summary = new(@"^apic-test: (\d+) passed, (\d+) failed\r?$", RegexOptions.Multiline);

    /// <summary>The checks apic-test makes (all of them run on one vCPU with x2APIC available).</summary>
    private const int ExpectedChecks = 52;

    [Fact]
    public void The_emulated_local_apic_delivers_ipis_and_timer_interrupts_in_xapic_and_x2apic_mode()
    {
        string cfg = Host.WritePvhConfig("apic-test", XenSharpHost.Guest("apic-test"), memoryMiB: 32, vcpus: 1);

        var r = Host.Xl("create", "-c", cfg).AssertSuccess();

        var failed = r.StdoutLines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList();
        Assert.True(failed.Count == 0, "the guest reported failures:\n" + string.Join('\n', failed) + "\n" + r.Describe());
        var summary = Summary.Match(r.Stdout);
        Assert.True(summary.Success, "no summary line\n" + r.Describe());
        Assert.Equal("0", summary.Groups[2].Value);
        int passed = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(passed >= ExpectedChecks, $"only {passed} checks passed (expected {ExpectedChecks})\n{r.Describe()}");
        Host.AssertOnlyDomain0();
    }
}
