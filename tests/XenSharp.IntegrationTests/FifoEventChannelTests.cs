using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class FifoEventChannelCollection : ICollectionFixture<XenSharpHost> { public const string Name = "FIFO event channel guest"; }

/// <summary>
/// guests/build/fifo-test.elf: the FIFO event-channel ABI (init_control, expand_array,
/// set_priority, the queues and their LINK chains, masking, VIRQ_TIMER and IPI ports, ports
/// beyond the first event-array page, EVTCHNOP_reset back to 2-level) consumed as Linux does,
/// and max_event_channels limiting the ports a guest can bind.
/// </summary>
[Collection(FifoEventChannelCollection.Name)]
public sealed class FifoEventChannelTests(XenSharpHost host) : XlTestBase(host)
{
    /// <summary>PASS lines of `mode=fifo` when every check runs (none skipped).</summary>
    private const int FifoChecks = 63;
    /// <summary>PASS lines of `mode=limit`.</summary>
    private const int LimitChecks = 14;

    [Fact]
    public void FifoAbi_QueuesPrioritiesMaskingAndReset_WorkForAGuest()
    {
        // 1100 ports: enough for one beyond the first event-array page (1024 ports).
        string cfg = Host.WritePvhConfig("fifo-test", XenSharpHost.Guest("fifo-test"), memoryMiB: 32,
            extra: "cmdline = \"mode=fifo\"\nmax_event_channels = 1100");

        var r = Host.Xl(GuestGroup.RunTimeout, "create", "-c", cfg);

        var result = new GuestRunResult("fifo-test", -1, r.ExitCode, r.Stdout, r.Stderr, Host);
        result.AssertPassed("fifo-test", minPassed: FifoChecks);
        Assert.DoesNotContain("SKIP ", r.Stdout);
        AssertPassedExactly(result, FifoChecks);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void MaxEventChannels16_AllowsPort16_ThenENOSPC()
    {
        string cfg = Host.WritePvhConfig("fifo-limit", XenSharpHost.Guest("fifo-test"), memoryMiB: 32,
            extra: "cmdline = \"mode=limit\"\nmax_event_channels = 16");

        var r = Host.Xl(GuestGroup.RunTimeout, "create", "-c", cfg);

        var result = new GuestRunResult("fifo-limit", -1, r.ExitCode, r.Stdout, r.Stderr, Host);
        result.AssertPassed("fifo-test", minPassed: LimitChecks);
        AssertPassedExactly(result, LimitChecks);
        Host.AssertOnlyDomain0();
    }

    /// <summary>The summary names exactly <paramref name="expected"/> passes: no check went missing or was added unnoticed.</summary>
    private static void AssertPassedExactly(GuestRunResult result, int expected)
    {
        var summary = Regex.Match(result.Output, @"^fifo-test: (\d+) passed, 0 failed\r?$", RegexOptions.Multiline);
        Assert.True(summary.Success && summary.Groups[1].Value == expected.ToString(System.Globalization.CultureInfo.InvariantCulture),
            $"expected exactly {expected} passed checks\n{result.Describe()}");
    }
}
