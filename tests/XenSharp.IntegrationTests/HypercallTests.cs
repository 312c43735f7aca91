using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>guests/build/hypercall-test.elf: CPUID, start_info and hypercall checks from inside a guest.</summary>
[Collection(HypercallCollection.Name)]
public sealed class HypercallTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly Regex Summary = new(@"^hypercall-test: (\d+) passed, (\d+) failed\r?$", RegexOptions.Multiline);

    [Fact]
    public void TwoVcpus_AllChecksPass_AndCmdlineIsPassed()
    {
        const string cmdline = "console=hvc0 xensharp.itest=two-vcpus loglevel=7";
        string cfg = Host.WritePvhConfig("hypercall-smp", XenSharpHost.Guest("hypercall-test"), memoryMiB: 32, vcpus: 2,
            extra: $"cmdline = \"{cmdline}\"");

        var r = Host.Xl("create", "-c", cfg).AssertSuccess();

        var failed = r.StdoutLines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList();
        Assert.True(failed.Count == 0, "the guest reported failures:\n" + string.Join('\n', failed) + "\n" + r.Describe());
        var summary = Summary.Match(r.Stdout);
        Assert.True(summary.Success, "no summary line\n" + r.Describe());
        int passed = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(passed >= 40, $"only {passed} checks passed (expected at least 40)\n{r.Describe()}");
        Assert.Equal("0", summary.Groups[2].Value);
        Assert.True(r.StdoutLines.Any(l => l == $"INFO cmdline: \"{cmdline}\""), "the cmdline is not echoed in the INFO line\n" + r.Describe());
        Assert.DoesNotContain(r.StdoutLines, l => l.StartsWith("SKIP vcpu-smp", StringComparison.Ordinal));
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void OneVcpu_SkipsTheSmpChecks_AndNothingFails()
    {
        string cfg = Host.WritePvhConfig("hypercall-up", XenSharpHost.Guest("hypercall-test"), memoryMiB: 32, vcpus: 1);

        var r = Host.Xl("create", "-c", cfg).AssertSuccess();

        Assert.True(r.StdoutLines.Any(l => l.StartsWith("SKIP vcpu-smp: ", StringComparison.Ordinal)), "no SKIP line for the SMP checks\n" + r.Describe());
        Assert.DoesNotContain(r.StdoutLines, l => l.StartsWith("FAIL", StringComparison.Ordinal));
        var summary = Summary.Match(r.Stdout);
        Assert.True(summary.Success && summary.Groups[2].Value == "0", "expected `hypercall-test: N passed, 0 failed`\n" + r.Describe());
        Host.AssertOnlyDomain0();
    }
}
