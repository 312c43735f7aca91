using System.Diagnostics;
using System.Globalization;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class DaemonRecoveryCollection : ICollectionFixture<XenSharpHost> { public const string Name = "daemon recovery"; }

/// <summary>
/// What happens to `xl` when the daemon is gone: a daemon killed outright leaves its socket file
/// behind, and a stale socket file may be there from an earlier boot. `xl` must notice the
/// socket answers nobody, start a fresh daemon and carry on — and every command naming a domain
/// that does not exist fails with one line naming it and exit 1.
/// </summary>
[Collection(DaemonRecoveryCollection.Name)]
public sealed class DaemonRecoveryTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void A_killed_daemon_leaves_a_dead_socket_and_the_next_xl_starts_a_new_one()
    {
        Host.Xl("info").AssertSuccess();
        string pidFile = Path.Combine(Host.StateDir, "xensharpd.pid");
        int pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        using (var daemon = Process.GetProcessById(pid))
        {
            daemon.Kill();
            Assert.True(daemon.WaitForExit(10_000), "the daemon did not die");
        }
        Assert.True(File.Exists(Path.Combine(Host.StateDir, "control.sock")), "the killed daemon's socket file should still be there");

        var list = Host.Xl("list").AssertSuccess();
        Assert.Contains("Domain-0", list.Stdout);
        int newPid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        Assert.NotEqual(pid, newPid);
    }

    [Fact]
    public void A_stale_socket_file_without_a_daemon_is_replaced()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xensharp-stale-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "control.sock"), ""); // a plain file where the socket should be
        var env = new Dictionary<string, string> { ["XENSHARP_STATE_DIR"] = dir };
        try
        {
            var r = Run(env, "list");
            Assert.True(r.ExitCode == 0, $"xl list with a stale socket file: exit {r.ExitCode}\n{r.Stderr}");
            Assert.Contains("Domain-0", r.Stdout);
        }
        finally
        {
            Run(env, "daemon-stop");
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    public static TheoryData<string[]> DomainCommands => new()
    {
        new[] { "destroy", "nosuch" }, new[] { "shutdown", "nosuch" }, new[] { "reboot", "nosuch" },
        new[] { "pause", "nosuch" }, new[] { "unpause", "nosuch" }, new[] { "console", "nosuch" },
        new[] { "domid", "nosuch" }, new[] { "rename", "nosuch", "other" }, new[] { "vcpu-list", "nosuch" },
        new[] { "vcpu-pin", "nosuch", "0", "0" }, new[] { "vcpu-set", "nosuch", "1" },
        new[] { "mem-set", "nosuch", "64" }, new[] { "mem-max", "nosuch", "64" }, new[] { "dump-core", "nosuch" },
        new[] { "sched-credit2", "-d", "nosuch" }, new[] { "cpupool-migrate", "nosuch", "Pool-0" },
    };

    [Theory]
    [MemberData(nameof(DomainCommands))]
    public void Every_command_naming_an_unknown_domain_fails_with_one_line_naming_it(string[] args)
    {
        var r = Host.Xl(args).AssertExit(1);
        Assert.Contains(r.ErrorLines, l => l.Contains("nosuch", StringComparison.Ordinal));
    }

    private (int ExitCode, string Stdout, string Stderr) Run(Dictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo(Host.XlPath) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"xl {string.Join(' ', args)} did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
