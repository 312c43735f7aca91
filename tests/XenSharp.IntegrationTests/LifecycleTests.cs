using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>Creating, pausing, listing and destroying domains; console clients that go away.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class LifecycleTests(XenSharpHost host) : XlTestBase(host)
{
    private static bool RunningOrBlocked(DomainRow d) => d.State.Contains('r') || d.State.Contains('b');

    [Fact]
    public void TwoDomainsRunAtOnce_AndAreDestroyedOneByOne()
    {
        string a = Host.WritePvhConfig("spin-a", XenSharpHost.Guest("spin"));
        string b = Host.WritePvhConfig("spin-b", XenSharpHost.Guest("spin"));

        Host.Xl("create", a).AssertSuccess();
        Host.Xl("create", b).AssertSuccess();

        var rows = Host.List();
        var spinA = rows.SingleOrDefault(d => d.Name == "spin-a");
        var spinB = rows.SingleOrDefault(d => d.Name == "spin-b");
        string table = string.Join('\n', rows.Select(r => r.Line));
        Assert.True(spinA is not null && spinB is not null, "both domains should be listed:\n" + table);
        Assert.NotEqual(spinA.Id, spinB.Id);
        Assert.True(RunningOrBlocked(spinA) && RunningOrBlocked(spinB), "both domains should be running or blocked:\n" + table);
        Assert.Equal(3, rows.Count);

        Host.Xl("destroy", "spin-a").AssertSuccess();
        var after = Host.List();
        Assert.DoesNotContain(after, d => d.Name == "spin-a");
        Assert.Contains(after, d => d.Name == "spin-b");

        Host.Xl("destroy", "spin-b").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void CreatePaused_ShowsP_ThenUnpauseRunsTheGuestToTheEnd()
    {
        string demo = File.ReadAllText(XenSharpHost.DemoConfig);
        string text = Regex.Replace(demo, @"^name\s*=.*$", "name = \"demo-paused\"", RegexOptions.Multiline);
        Assert.Contains("name = \"demo-paused\"", text);
        string cfg = Host.WriteConfig("demo-paused", text);

        Host.Xl("create", "-p", cfg).AssertSuccess();
        var row = Host.List().SingleOrDefault(d => d.Name == "demo-paused");
        Assert.True(row is not null, "the paused domain is not listed");
        Assert.True(row.State.Contains('p'), $"expected state flag p, got \"{row.State}\"");

        // Still paused a little later: the guest has not printed anything.
        Thread.Sleep(500);
        row = Host.List().Single(d => d.Name == "demo-paused");
        Assert.True(row.State.Contains('p'), $"the domain left the paused state by itself: \"{row.State}\"");
        Assert.DoesNotContain($"(d{row.Id}) XenSharp demo:", Host.Xl("dmesg").AssertSuccess().Stdout);

        Host.Xl("unpause", "demo-paused").AssertSuccess();
        XenSharpHost.WaitUntil(() => Host.List().All(d => d.Name != "demo-paused"), TimeSpan.FromSeconds(30),
            "the unpaused demo guest to power off and leave `xl list`");
        Host.AssertOnlyDomain0();
        Assert.Contains($"(d{row.Id}) XenSharp demo: hello from domain {row.Id}", Host.Xl("dmesg").AssertSuccess().Stdout);
    }

    [Fact]
    public void KillingTheConsoleClient_LeavesTheGuestRunning()
    {
        string cfg = Host.WritePvhConfig("spin-orphan", XenSharpHost.Guest("spin"));
        using (var client = Host.StartXl("create", "-c", cfg))
        {
            client.WaitForStdout("spin: running", TimeSpan.FromSeconds(30));
            client.Kill();
        }

        Thread.Sleep(1000);
        var row = Host.List().SingleOrDefault(d => d.Name == "spin-orphan");
        Assert.True(row is not null, "the guest died with its `xl create -c` client");
        Assert.True(RunningOrBlocked(row), $"expected the guest running or blocked, got \"{row.State}\"");

        Host.Xl("destroy", "spin-orphan").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void KilledConsoleClient_DoesNotLeaveAnInternalErrorInDmesg()
    {
        string cfg = Host.WritePvhConfig("spin-orphan2", XenSharpHost.Guest("spin"));
        using (var client = Host.StartXl("create", "-c", cfg))
        {
            client.WaitForStdout("spin: running", TimeSpan.FromSeconds(30));
            client.Kill();
        }
        Host.Xl("dmesg", "-c").AssertSuccess();
        Host.Xl("destroy", "spin-orphan2").AssertSuccess();
        Thread.Sleep(500);

        var dmesg = Host.Xl("dmesg").AssertSuccess();
        Assert.True(!dmesg.Stdout.Contains("failed", StringComparison.Ordinal) && !dmesg.Stdout.Contains("Exception", StringComparison.Ordinal),
            "destroying a domain whose console client went away logged an error\n" + dmesg.Describe());
    }

    [Fact]
    public void RunningGuest_AccumulatesCpuTime()
    {
        string cfg = Host.WritePvhConfig("spin-time", XenSharpHost.Guest("spin"));
        Host.Xl("create", cfg).AssertSuccess();
        Thread.Sleep(3000);

        var row = Host.List().Single(d => d.Name == "spin-time");
        Assert.True(row.CpuSeconds >= 1.0, $"a guest spinning for 3 s shows Time(s) {row.CpuSeconds}: {row.Line}");
        Host.Xl("destroy", "spin-time").AssertSuccess();
    }
}
