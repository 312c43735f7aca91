using XenSharp.Hypervisor.Console;
using XenSharp.Toolstack.Parameters;

namespace XenSharp.Tests.Hypervisor;

public sealed class ConsoleLogLevelTests
{
    [Fact]
    public void Messages_above_the_loglvl_threshold_are_not_recorded()
    {
        var log = new ConsoleLog();
        log.Xen("created d1");
        log.Xen("d1: crashed: triple fault", ConsoleLog.Level.Error);

        log.Threshold = HypervisorParameters.ThresholdOf("error");
        log.Xen("created d2");
        log.Xen("d2: crashed: triple fault", ConsoleLog.Level.Error);

        log.Threshold = HypervisorParameters.ThresholdOf("none/all");
        log.Xen("d3: crashed", ConsoleLog.Level.Error);
        log.AppendLine("(d3) guest output is not filtered");

        Assert.Equal(
            "(XEN) created d1\n(XEN) d1: crashed: triple fault\n(XEN) d2: crashed: triple fault\n(d3) guest output is not filtered\n",
            log.Read());
    }

    [Theory]
    [InlineData("info", ConsoleLog.Level.Info)]
    [InlineData("all/warning", ConsoleLog.Level.All)]
    [InlineData("debug", ConsoleLog.Level.Debug)]
    [InlineData("none", ConsoleLog.Level.None)]
    public void The_first_level_of_loglvl_is_the_threshold(string loglvl, ConsoleLog.Level expected) =>
        Assert.Equal(expected, HypervisorParameters.ThresholdOf(loglvl));
}
