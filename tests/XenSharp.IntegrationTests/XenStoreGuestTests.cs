using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// A guest talks to xenstored through its ring: reads and writes its own nodes, is refused
/// dom0's, uses transactions and watches, and powers off or reboots when `xl shutdown` /
/// `xl reboot` write control/shutdown.
/// </summary>
[Collection(XenStoreGuestCollection.Name)]
public sealed class XenStoreGuestTests(XenSharpHost host) : XlTestBase(host)
{
    private const string Waiting = "xenstore-test: waiting for control/shutdown";

    [Fact]
    public void GuestUsesItsRing_AndXlShutdownPowersItOff()
    {
        string cfg = Host.WritePvhConfig("xst-off", XenSharpHost.Guest("xenstore-test"), memoryMiB: 32);
        using var console = Host.StartXl("create", "-c", cfg);
        console.WaitForStdout(Waiting, XenSharpHost.DefaultTimeout);

        string output = console.Stdout;
        Assert.DoesNotContain("FAIL ", output);
        Assert.Contains("INFO read /local/domain/0/name: -13 (EACCES)", output);
        Assert.Matches(new Regex(@"INFO domid = ""\d+"""), output);
        Assert.Contains("INFO name = \"xst-off\"", output);

        var shutdown = Host.Xl("shutdown", "-w", "xst-off").AssertSuccess();
        Assert.Contains("poweroff", shutdown.Stderr);
        Assert.True(console.WaitForExit(XenSharpHost.DefaultTimeout), "xl create -c did not return after the guest powered off");
        Assert.Equal(0, console.ExitCode);
        Assert.Contains("xenstore-test: control/shutdown = poweroff", console.Stdout);
        Assert.Matches(new Regex(@"xenstore-test: \d+ passed, 0 failed"), console.Stdout);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void XlReboot_RestartsTheGuestAsANewDomain()
    {
        string cfg = Host.WritePvhConfig("xst-reboot", XenSharpHost.Guest("xenstore-test"), memoryMiB: 32,
            extra: "on_reboot = \"restart\"\n");
        Host.Xl("create", cfg).AssertSuccess();
        int firstId = Host.List().Single(d => d.Name == "xst-reboot").Id;
        XenSharpHost.WaitUntil(() => Host.Xl("dmesg").Stdout.Contains($"(d{firstId}) {Waiting}"), XenSharpHost.DefaultTimeout,
            "the guest to reach its control/shutdown watch");

        Host.Xl("reboot", "-w", "xst-reboot").AssertSuccess();
        XenSharpHost.WaitUntil(() => Host.List().Any(d => d.Name == "xst-reboot" && d.Id != firstId), XenSharpHost.DefaultTimeout,
            "the rebooted guest to come back as a new domain");
        Assert.Contains($"(d{firstId}) xenstore-test: control/shutdown = reboot", Host.Xl("dmesg").Stdout);

        Host.Xl("destroy", "xst-reboot").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Demo_TakesItsDomainIdFromXenStore()
    {
        string xenstoreWrite = XenStoreTool("xenstore-write");
        string demo = File.ReadAllText(XenSharpHost.DemoConfig);
        string cfg = Host.WriteConfig("demo-xs", Regex.Replace(demo, @"^name\s*=.*$", "name = \"demo-xs\"", RegexOptions.Multiline));
        Host.Xl("create", "-p", cfg).AssertSuccess();
        int id = Host.List().Single(d => d.Name == "demo-xs").Id;

        // The toolstack wrote the real id; replace it so the line shows where the guest looked.
        string socket = Host.Xl("info").AssertSuccess().StdoutLines.Single(l => l.StartsWith("xenstore_socket")).Split(": ", 2)[1];
        var psi = new System.Diagnostics.ProcessStartInfo(xenstoreWrite, [$"/local/domain/{id}/domid", "4242"]);
        psi.Environment["XENSTORED_PATH"] = socket;
        using (var p = System.Diagnostics.Process.Start(psi)!) { p.WaitForExit(); Assert.Equal(0, p.ExitCode); }

        Host.Xl("unpause", "demo-xs").AssertSuccess();
        XenSharpHost.WaitUntil(() => Host.List().All(d => d.Name != "demo-xs"), XenSharpHost.DefaultTimeout, "the demo to power off");
        Assert.Contains($"(d{id}) XenSharp demo: hello from domain 4242, running on Xen", Host.Xl("dmesg").Stdout);
    }

    private static string XenStoreTool(string name)
    {
        string? found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
        Assert.True(found is not null, $"{name} is not installed (./run-tests installs Debian's xenstore-utils)");
        return found!;
    }
}
