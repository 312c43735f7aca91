using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>Guests that crash: what `xl create -c`, `xl list` and `xl dmesg` show.</summary>
[Collection(CrashCollection.Name)]
public sealed class CrashTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void TripleFault_ExitsTwo_AndTheDomainIsGone()
    {
        string cfg = Host.WritePvhConfig("triple-fault", XenSharpHost.Guest("triple-fault"));

        var r = Host.Xl("create", "-c", cfg).AssertExit(2);

        Assert.True(r.Stderr.Contains("triple fault", StringComparison.OrdinalIgnoreCase), "stderr does not mention the triple fault\n" + r.Describe());
        Assert.Contains("triple-fault: loading an empty IDT", r.Stdout);
        Assert.DoesNotContain(Host.List(), d => d.Name == "triple-fault");
        Host.AssertOnlyDomain0();

        var dmesg = Host.Xl("dmesg").AssertSuccess();
        var boot = Regex.Matches(dmesg.Stdout, @"^\(d(\d+)\) triple-fault: loading", RegexOptions.Multiline);
        Assert.True(boot.Count > 0, "the guest's console_io line is not in `xl dmesg`\n" + dmesg.Describe());
        string domid = boot[^1].Groups[1].Value;
        Assert.True(Regex.IsMatch(dmesg.Stdout, $@"^\(XEN\) d{domid}: crashed", RegexOptions.Multiline),
            $"`xl dmesg` has no \"d{domid}: crashed\" line\n{dmesg.Describe()}");
    }

    [Fact]
    public void CrashWithOnCrashPreserve_KeepsTheDomainUntilDestroyed()
    {
        string cfg = Host.WriteConfig("crash-preserve", $"""
            name = "crash-preserve"
            type = "pvh"
            kernel = "{XenSharpHost.Guest("crash")}"
            memory = 16
            on_crash = "preserve"
            """);

        var r = Host.Xl("create", "-c", cfg).AssertExit(2);
        Assert.Contains("crash: calling SCHEDOP_shutdown(SHUTDOWN_crash)", r.Stdout);

        var row = Host.List().SingleOrDefault(d => d.Name == "crash-preserve");
        Assert.True(row is not null, "the preserved domain is not in `xl list`");
        Assert.True(row.State.Contains('s') && row.State.Contains('c'), $"expected state flags s and c, got \"{row.State}\"");

        Host.Xl("destroy", "crash-preserve").AssertSuccess();
        Host.AssertOnlyDomain0();
    }
}
