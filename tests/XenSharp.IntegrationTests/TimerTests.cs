using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class TimerCollection : ICollectionFixture<XenSharpHost> { public const string Name = "timer guest"; }

/// <summary>
/// guests/build/timer-test.elf: the pvclock in vcpu_info, the wallclock, VIRQ_TIMER and the
/// singleshot timer with SCHEDOP_block, from inside a guest.
/// </summary>
[Collection(TimerCollection.Name)]
public sealed class TimerTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly Regex Summary = new(@"^timer-test: (\d+) passed, (\d+) failed\r?$", RegexOptions.Multiline);

    [Fact]
    public void The_singleshot_timer_wakes_a_blocked_vcpu_and_time_advances()
    {
        string cfg = Host.WritePvhConfig("timer-test", XenSharpHost.Guest("timer-test"), memoryMiB: 32, vcpus: 1);

        var r = Host.Xl("create", "-c", cfg).AssertSuccess();

        var failed = r.StdoutLines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList();
        Assert.True(failed.Count == 0, "the guest reported failures:\n" + string.Join('\n', failed) + "\n" + r.Describe());
        var summary = Summary.Match(r.Stdout);
        Assert.True(summary.Success, "no summary line\n" + r.Describe());
        Assert.Equal("0", summary.Groups[2].Value);
        int passed = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(passed >= 15, $"only {passed} checks passed (expected 15)\n{r.Describe()}");
        Host.AssertOnlyDomain0();
    }
}
