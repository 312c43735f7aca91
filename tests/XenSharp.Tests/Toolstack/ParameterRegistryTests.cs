using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Daemon;
using XenSharp.Toolstack.Parameters;
using XenSharp.XenStore;

namespace XenSharp.Tests.Toolstack;

/// <summary>The hypervisor parameter registry: parsing, messages, live vs boot-only, all-or-nothing, and the daemon's file and command line.</summary>
public sealed class ParameterRegistryTests
{
    private static ParameterRegistry Registry() => HypervisorParameters.CreateRegistry();

    [Fact]
    public void Defaults_AreXensWhereXenHasThem()
    {
        var r = Registry();
        Assert.Equal("info", r.GetText("loglvl"));
        Assert.Equal("256k", r.GetText("conring_size"));
        Assert.Equal(64, r.Get<int>("gnttab_max_frames"));
        Assert.Equal(1023, r.Get<int>("max_event_channels"));
        Assert.Equal(XenStoreQuotas.Default, r.Get<XenStoreQuotas>("xenstore_quota"));
        Assert.Equal("", r.BootCommandLine);
        Assert.Equal("credit2", r.GetText("sched"));
        Assert.Equal(Environment.ProcessorCount, r.Get<int>("maxcpus"));
        Assert.Equal("socket", r.GetText("credit2_runqueue"));
        Assert.Equal(10, r.Get<int>("credit2_cap_period_ms"));
        Assert.Equal("auto", r.GetText("accel"));
        Assert.Equal(["accel", "conring_size", "credit2_cap_period_ms", "credit2_runqueue", "gnttab_max_frames", "loglvl", "max_event_channels", "maxcpus", "sched", "xenstore_quota"], r.Definitions.Select(d => d.Name));
        string[] bootOnly = ["accel", "conring_size", "credit2_cap_period_ms", "credit2_runqueue", "maxcpus", "sched"];
        Assert.All(bootOnly, n => Assert.False(r.Find(n)!.Live));
        Assert.True(r.Definitions.Where(d => !bootOnly.Contains(d.Name)).All(d => d.Live));
    }

    [Fact]
    public void SetLive_ChangesLiveValues_AndReturnsThemFormatted()
    {
        var r = Registry();
        var applied = r.SetLive("  loglvl=all/warning   gnttab_max_frames=32 xenstore_quota=nodes=10,watches=0 ");
        Assert.Equal(["loglvl=all/warning", "gnttab_max_frames=32",
                      "xenstore_quota=nodes=10,watches=0,outstanding=20,transactions=10,transaction-nodes=1024,node-permissions=5,path-max=2048,node-size=2048"], applied);
        Assert.Equal("all/warning", r.GetText("loglvl"));
        Assert.Equal(32, r.Get<int>("gnttab_max_frames"));
        Assert.Equal(10, r.Get<XenStoreQuotas>("xenstore_quota").Nodes);
        Assert.Equal(0, r.Get<XenStoreQuotas>("xenstore_quota").Watches);
        Assert.Equal(20, r.Get<XenStoreQuotas>("xenstore_quota").Outstanding);
    }

    [Fact]
    public void ALaterAssignment_OfTheSameParameter_Wins_AndQuotasAccumulate()
    {
        var r = Registry();
        r.SetLive("gnttab_max_frames=8 xenstore_quota=nodes=5 gnttab_max_frames=9 xenstore_quota=watches=6");
        Assert.Equal(9, r.Get<int>("gnttab_max_frames"));
        Assert.Equal((5, 6), (r.Get<XenStoreQuotas>("xenstore_quota").Nodes, r.Get<XenStoreQuotas>("xenstore_quota").Watches));
    }

    [Theory]
    [InlineData("loglvl=loud", "loglvl: bad value \"loud\" (accepted: LEVEL or LEVEL/RATE-LIMITED-LEVEL, LEVEL one of none, error, warning, info, debug, all)")]
    [InlineData("loglvl=all/info/debug", "loglvl: bad value \"all/info/debug\"")]
    [InlineData("gnttab_max_frames=0", "gnttab_max_frames: bad value \"0\" (accepted: an integer 1..4096)")]
    [InlineData("gnttab_max_frames=4097", "gnttab_max_frames: bad value \"4097\"")]
    [InlineData("gnttab_max_frames=-1", "gnttab_max_frames: bad value \"-1\"")]
    [InlineData("max_event_channels=131072", "max_event_channels: bad value \"131072\" (accepted: an integer 1..131071)")]
    [InlineData("xenstore_quota=nodes", "xenstore_quota: bad value \"nodes\" (accepted: NAME=N[,NAME=N...]")]
    [InlineData("xenstore_quota=bogus=1", "xenstore_quota: bad value \"bogus=1\"")]
    [InlineData("xenstore_quota=nodes=-3", "xenstore_quota: bad value \"nodes=-3\"")]
    [InlineData("frobnicate=1", "unknown parameter \"frobnicate\" (known: accel, conring_size, credit2_cap_period_ms, credit2_runqueue, gnttab_max_frames, loglvl, max_event_channels, maxcpus, sched, xenstore_quota)")]
    [InlineData("sched=credit", "sched can only be set at boot")]
    [InlineData("accel=kvm", "accel can only be set at boot")]
    [InlineData("credit2_runqueue=core", "credit2_runqueue can only be set at boot")]
    [InlineData("loglvl", "\"loglvl\" is not NAME=VALUE")]
    [InlineData("=3", "\"=3\" is not NAME=VALUE")]
    [InlineData("conring_size=16k", "conring_size can only be set at boot (`xl daemon -- conring_size=...` or xensharpd.conf; parameters that can change at run time: gnttab_max_frames, loglvl, max_event_channels, xenstore_quota)")]
    public void SetLive_RefusesWithAMessageNamingTheParameterAndWhatIsAccepted(string assignment, string expected)
    {
        var r = Registry();
        var e = Assert.Throws<ParameterException>(() => r.SetLive(assignment));
        Assert.Contains(expected, e.Message);
        Assert.EndsWith("; no parameter changed", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void SetLive_IsAllOrNothing_AndNamesEveryBadAssignment()
    {
        var r = Registry();
        var e = Assert.Throws<ParameterException>(() => r.SetLive("loglvl=debug gnttab_max_frames=12 conring_size=8k xenstore_quota=nodes=1 max_event_channels=x"));
        Assert.Contains("conring_size can only be set at boot", e.Message);
        Assert.Contains("max_event_channels: bad value \"x\"", e.Message);
        Assert.DoesNotContain("loglvl:", e.Message);
        Assert.Equal("info", r.GetText("loglvl"));
        Assert.Equal(64, r.Get<int>("gnttab_max_frames"));
        Assert.Equal(XenStoreQuotas.Default, r.Get<XenStoreQuotas>("xenstore_quota"));
        Assert.Throws<ParameterException>(() => r.SetLive("   "));
    }

    [Fact]
    public void Boot_SetsBootOnlyParameters_AndRecordsTheCommandLine()
    {
        var r = Registry();
        r.ApplyBoot(["conring_size=64k", "loglvl=all"]);
        r.ApplyBoot(["gnttab_max_frames=16"]);
        Assert.Equal(64 * 1024L, r.Get<long>("conring_size"));
        Assert.Equal("conring_size=64k loglvl=all gnttab_max_frames=16", r.BootCommandLine);

        var e = Assert.Throws<ParameterException>(() => r.ApplyBoot(["conring_size=1M", "loglvl=none"]));
        Assert.Contains("conring_size: bad value \"1M\" (accepted: a size 4k..256k", e.Message);
        Assert.Equal("all", r.GetText("loglvl"));
        Assert.Equal("conring_size=64k loglvl=all gnttab_max_frames=16", r.BootCommandLine);
    }

    [Theory]
    [InlineData("16", 16 * 1024L)]
    [InlineData("16k", 16 * 1024L)]
    [InlineData("16K", 16 * 1024L)]
    [InlineData("8192b", 8192L)]
    [InlineData("256k", 256 * 1024L)]
    public void ConringSize_TakesXensSizeSyntax(string text, long bytes) =>
        Assert.Equal(bytes, HypervisorParameters.ParseSize(text, HypervisorParameters.MinConsoleRingBytes, HypervisorParameters.MaxConsoleRingBytes));

    [Theory]
    [InlineData("1k")]
    [InlineData("1M")]
    [InlineData("k")]
    [InlineData("16x")]
    [InlineData("99999999999999999999")]
    public void ConringSize_RefusesSizesOutsideTheRing(string text) =>
        Assert.Throws<FormatException>(() => HypervisorParameters.ParseSize(text, HypervisorParameters.MinConsoleRingBytes, HypervisorParameters.MaxConsoleRingBytes));

    [Fact]
    public void ABoundParameter_LivesInItsOwner()
    {
        var r = Registry();
        r.ApplyBoot(["xenstore_quota=nodes=50"]);
        var xenstored = new Xenstored();
        r.Bind("xenstore_quota", () => xenstored.Quotas, v => xenstored.Quotas = (XenStoreQuotas)v);
        Assert.Equal(50, xenstored.Quotas.Nodes);

        r.SetLive("xenstore_quota=watches=3");
        Assert.Equal((50, 3), (xenstored.Quotas.Nodes, xenstored.Quotas.Watches));

        xenstored.Quotas = xenstored.Quotas with { Nodes = 77 }; // e.g. xenstore-control quota set
        Assert.Equal(77, r.Get<XenStoreQuotas>("xenstore_quota").Nodes);
        r.SetLive("xenstore_quota=transactions=4");
        Assert.Equal((77, 3, 4), (xenstored.Quotas.Nodes, xenstored.Quotas.Watches, xenstored.Quotas.Transactions));
    }

    [Fact]
    public void DomainDefaults_ApplyOnlyWhereTheConfigLeftTheDefault()
    {
        var r = Registry();
        r.SetLive("gnttab_max_frames=32 max_event_channels=255");
        var plain = DomainConfig.FromFile(XlConfigParser.Parse("name = \"a\"\nkernel = \"k\"\n", "a.cfg"));
        var applied = HypervisorParameters.ApplyDomainDefaults(plain, r);
        Assert.Equal((32, 255), (applied.MaxGrantFrames, applied.MaxEventChannels));

        var own = DomainConfig.FromFile(XlConfigParser.Parse("name = \"b\"\nkernel = \"k\"\nmax_grant_frames = 8\nmax_event_channels = 100\n", "b.cfg"));
        var kept = HypervisorParameters.ApplyDomainDefaults(own, r);
        Assert.Equal((8, 100), (kept.MaxGrantFrames, kept.MaxEventChannels));
    }

    [Fact]
    public void DaemonParameters_ReadTheFileThenTheCommandLine()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xensharp-params-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "xensharpd.conf");
            Assert.Equal("", DaemonParameters.Load(path).CreateRegistry().BootCommandLine); // no file: defaults

            File.WriteAllText(path, "xenstore_quota = [ \"nodes=100\", \"watches=9\" ]\nloglvl = \"debug\"\ngnttab_max_frames = 20\n");
            var p = DaemonParameters.Load(path, ["gnttab_max_frames=24", "conring_size=32k"]);
            var r = p.CreateRegistry();
            Assert.Equal("xenstore_quota=nodes=100,watches=9 loglvl=debug gnttab_max_frames=20 gnttab_max_frames=24 conring_size=32k", r.BootCommandLine);
            Assert.Equal(24, r.Get<int>("gnttab_max_frames"));
            Assert.Equal((100, 9), (r.Get<XenStoreQuotas>("xenstore_quota").Nodes, r.Get<XenStoreQuotas>("xenstore_quota").Watches));
            Assert.Equal("debug", r.GetText("loglvl"));

            var bad = Assert.Throws<ParameterException>(() => DaemonParameters.Load(path, ["conring_size=2M"]));
            Assert.Contains("conring_size: bad value \"2M\"", bad.Message);

            File.WriteAllText(path, "loglvl = \"debug\"\nxenstore_quota = [ \"nodes=x\" ]\n");
            var e = Assert.Throws<XlConfigException>(() => DaemonParameters.Load(path));
            Assert.Contains("xensharpd.conf:2", e.Message);
            Assert.Contains("xenstore_quota: bad value \"nodes=x\"", e.Message);

            File.WriteAllText(path, "sched = \"credit\"\n");
            Assert.Equal("credit", DaemonParameters.Load(path).CreateRegistry().GetText("sched"));
            File.WriteAllText(path, "sched = \"rtds\"\n");
            e = Assert.Throws<XlConfigException>(() => DaemonParameters.Load(path));
            Assert.Contains("sched: bad value \"rtds\" (accepted: credit, credit2, null, none)", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
