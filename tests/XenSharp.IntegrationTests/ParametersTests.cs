using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class ParametersCollection : ICollectionFixture<XenSharpHost> { public const string Name = "hypervisor parameters"; }

/// <summary>
/// Hypervisor parameters end to end: `xl set-parameters` changes live values (all or nothing)
/// and `xl info -p` shows them; a boot-only one is refused; `xl daemon -- NAME=VALUE` and
/// xensharpd.conf set them at boot and `xl info` shows the boot string as xen_commandline.
/// </summary>
[Collection(ParametersCollection.Name)]
public sealed class ParametersTests(XenSharpHost host) : XlTestBase(host)
{
    /// <summary>`xl info -p` as name → value.</summary>
    private static Dictionary<string, string> Parameters(XenSharpHost host)
    {
        var r = host.Xl("info", "-p").AssertSuccess();
        var values = new Dictionary<string, string>();
        foreach (var line in r.StdoutLines)
        {
            var m = Regex.Match(line, @"^(?<name>[a-z_]+)\s+: (?<value>.*)$");
            if (m.Success) values[m.Groups["name"].Value] = m.Groups["value"].Value;
        }
        Assert.True(values.Count >= 5, "xl info -p printed too few parameters\n" + r.Describe());
        return values;
    }

    private static string InfoField(XenSharpHost host, string key) =>
        host.Xl("info").AssertSuccess().StdoutLines.Select(l => Regex.Match(l, $@"^{key}\s*: ?(?<v>.*)$"))
            .First(m => m.Success).Groups["v"].Value;

    [Fact]
    public void SetParameters_ChangesLiveValues_WhichShow_AndApplyToNewDomains()
    {
        var before = Parameters(Host);
        Assert.Equal("64", before["gnttab_max_frames"]);

        var set = Host.Xl("set-parameters", "gnttab_max_frames=16 loglvl=all").AssertSuccess();
        Assert.Equal("", set.Stdout + set.Stderr);
        var after = Parameters(Host);
        Assert.Equal("16", after["gnttab_max_frames"]);
        Assert.Equal("all", after["loglvl"]);
        Assert.Contains("(XEN) set-parameters: gnttab_max_frames=16 loglvl=all", Host.Xl("dmesg").Stdout);

        // A domain whose xl.cfg does not set max_grant_frames gets the daemon's value; one that does keeps its own.
        string cfg = Host.WritePvhConfig("params-spin", XenSharpHost.Guest("spin"));
        Assert.Contains("\"max_grant_frames\": 16", Host.Xl("create", "-n", cfg).AssertSuccess().Stdout);
        string own = Host.WritePvhConfig("params-own", XenSharpHost.Guest("spin"), extra: "max_grant_frames = 8\n");
        Assert.Contains("\"max_grant_frames\": 8", Host.Xl("create", "-n", own).AssertSuccess().Stdout);
        Host.Xl("create", cfg).AssertSuccess();
        int id = Host.List().Single(d => d.Name == "params-spin").Id;
        Host.Xl("debug-keys", "g").AssertSuccess();
        Assert.Matches(new Regex($@"\(XEN\) d{id}: grant table v\d: \d+/16 frames"), Host.Xl("dmesg").Stdout);

        Host.Xl("set-parameters", "gnttab_max_frames=64 loglvl=info").AssertSuccess();
    }

    [Fact]
    public void SetParameters_XenStoreQuota_ChangesXenstoredAtOnce()
    {
        Host.Xl("set-parameters", "xenstore_quota=watches=64,transactions=3").AssertSuccess();
        string quota = InfoField(Host, "xenstore_quota");
        Assert.Contains("watches=64", quota);
        Assert.Contains("transactions=3", quota);
        Assert.Contains("nodes=1000", quota);
        Assert.StartsWith("nodes=1000,watches=64,", Parameters(Host)["xenstore_quota"]);
        Host.Xl("set-parameters", "xenstore_quota=watches=128,transactions=10").AssertSuccess();
    }

    [Fact]
    public void SetParameters_RefusesBootOnlyUnknownAndBadOnes_AndChangesNothing()
    {
        var bootOnly = Host.Xl("set-parameters", "conring_size=16k").AssertExit(1);
        Assert.Contains("xl set-parameters: conring_size can only be set at boot", bootOnly.Stderr);
        Assert.Contains("no parameter changed", bootOnly.Stderr);
        Assert.Equal("", bootOnly.Stdout);

        var mixed = Host.Xl("set-parameters", "loglvl=debug frobnicate=1 gnttab_max_frames=9999").AssertExit(1);
        Assert.Contains("unknown parameter \"frobnicate\"", mixed.Stderr);
        Assert.Contains("gnttab_max_frames: bad value \"9999\" (accepted: an integer 1..4096)", mixed.Stderr);
        var values = Parameters(Host);
        Assert.Equal("info", values["loglvl"]);
        Assert.Equal("64", values["gnttab_max_frames"]);
        Assert.Equal("256k", values["conring_size"]);

        Assert.Contains("usage: xl set-parameters", Host.Xl("set-parameters").AssertExit(1).Stderr);
    }

    [Fact]
    public void BootParameters_FromTheConfFileAndTheDaemonCommandLine_AreTheCommandLine()
    {
        using var host = new XenSharpHost();
        File.WriteAllText(Path.Combine(host.StateDir, "xensharpd.conf"), "loglvl = \"debug\"\ngnttab_max_frames = 20\n");
        using var daemon = host.StartXl("daemon", "--", "conring_size=4k", "gnttab_max_frames=24");
        XenSharpHost.WaitUntil(() => File.Exists(Path.Combine(host.StateDir, "control.sock")) && host.Xl("info").ExitCode == 0,
            TimeSpan.FromSeconds(30), "the daemon started with `xl daemon --` to answer");

        Assert.Equal("loglvl=debug gnttab_max_frames=20 conring_size=4k gnttab_max_frames=24", InfoField(host, "xen_commandline"));
        var values = Parameters(host);
        Assert.Equal(("debug", "24", "4k"), (values["loglvl"], values["gnttab_max_frames"], values["conring_size"]));

        // conring_size=4k: `xl dmesg` returns at most the newest 4 KiB, whole lines.
        host.Xl("debug-keys", "hhhhhhhhhhhhhhhhhhhh").AssertSuccess();
        string dmesg = host.Xl("dmesg").AssertSuccess().Stdout;
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(dmesg), 1, 4096);
        Assert.StartsWith("(XEN) ", dmesg);
        Assert.EndsWith("\n", dmesg);
        host.Xl("daemon-stop").AssertSuccess();
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), "xl daemon did not end after daemon-stop");
        Assert.Equal(0, daemon.ExitCode);

        var bad = new XenSharpHost();
        try
        {
            var r = bad.Xl("daemon", "--", "conring_size=1M");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("conring_size: bad value \"1M\"", r.Stderr);
        }
        finally
        {
            bad.Dispose();
        }
    }
}
