namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class XlHelpCollection : ICollectionFixture<XenSharpHost> { public const string Name = "xl help and shutdown -a"; }

/// <summary>`xl help [COMMAND]`, `xl COMMAND -h`, and `xl shutdown -a`.</summary>
[Collection(XlHelpCollection.Name)]
public sealed class XlHelpTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly string[] Commands =
    [
        "create", "list", "destroy", "shutdown", "reboot", "pause", "unpause", "console", "domid", "domname",
        "rename", "uptime", "vcpu-list", "dmesg", "info", "set-parameters", "debug-keys", "daemon", "daemon-stop", "help",
    ];

    [Fact]
    public void Help_ListsEveryCommandWithADescription()
    {
        var r = Host.Xl("help").AssertSuccess();
        Assert.StartsWith("Usage: xl <subcommand> [args]", r.Stdout);
        foreach (var c in Commands)
            Assert.Contains(r.StdoutLines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^ {System.Text.RegularExpressions.Regex.Escape(c)}\s+\S"));
        Assert.Equal(r.Stdout, Host.Xl("--help").AssertSuccess().Stdout);
        Assert.False(File.Exists(Path.Combine(Host.StateDir, "control.sock")), "xl help started the daemon");
    }

    [Fact]
    public void HelpCommand_AndDashH_PrintOneCommandsUsage()
    {
        var create = Host.Xl("help", "create").AssertSuccess();
        Assert.StartsWith("Usage: xl create [-c] [-p] [-n] [-q] [-F] <ConfigFile> [key=value ...]", create.Stdout);
        Assert.Contains("-F ", create.Stdout);
        Assert.Equal(create.Stdout, Host.Xl("create", "-h").AssertSuccess().Stdout);

        Assert.StartsWith("Usage: xl set-parameters <Params>", Host.Xl("set-parameters", "-h").AssertSuccess().Stdout);
        Assert.StartsWith("Usage: xl shutdown [-w] <-a|Domain>", Host.Xl("shutdown", "--help").AssertSuccess().Stdout);

        var unknown = Host.Xl("help", "frobnicate").AssertExit(1);
        Assert.Contains("xl help: unknown command 'frobnicate'", unknown.Stderr);
        Assert.Contains("try `xl help`", Host.Xl("frobnicate").AssertExit(1).Stderr);
    }

    [Fact]
    public void ShutdownAll_AsksEveryGuest_AndWaitsForAll()
    {
        const string waiting = "xenstore-test: waiting for control/shutdown";
        Host.Xl("create", Host.WritePvhConfig("sa-one", XenSharpHost.Guest("xenstore-test"), memoryMiB: 32)).AssertSuccess();
        Host.Xl("create", Host.WritePvhConfig("sa-two", XenSharpHost.Guest("xenstore-test"), memoryMiB: 32)).AssertSuccess();
        var ids = Host.List().Where(d => d.Id != 0).Select(d => d.Id).ToList();
        Assert.Equal(2, ids.Count);
        XenSharpHost.WaitUntil(() => { string log = Host.Xl("dmesg").Stdout; return ids.All(id => log.Contains($"(d{id}) {waiting}")); },
            XenSharpHost.DefaultTimeout, "both guests to reach their control/shutdown watch");

        var r = Host.Xl("shutdown", "-a", "-w").AssertSuccess();
        Assert.Contains("Waiting for 2 domains", r.Stderr);
        foreach (var id in ids) Assert.Contains($"Domain {id} has been shut down, reason code poweroff", r.Stderr);
        Host.AssertOnlyDomain0();

        Assert.Contains("You must specify -a or a domain id.", Host.Xl("shutdown").AssertExit(1).Stderr);
        Assert.Contains("-a takes no domain", Host.Xl("shutdown", "-a", "sa-one").AssertExit(1).Stderr);
        Host.Xl("shutdown", "-a").AssertSuccess(); // no guests: nothing to do
    }
}
