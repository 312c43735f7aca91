using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class SchedulingCommandCollection : ICollectionFixture<XenSharpHost> { public const string Name = "scheduling commands"; }

/// <summary>
/// xl.cfg's cpus/cpu_weight/cap/pool and the scheduling commands end to end against a real
/// daemon (credit2, the default): vcpu-list, vcpu-pin, sched-credit2, cpupool-*.
/// </summary>
[Collection(SchedulingCommandCollection.Name)]
public sealed class SchedulingCommandTests(XenSharpHost host) : XlTestBase(host)
{
    private void CreateSpin(string name, string extra = "") =>
        Host.Xl("create", Host.WritePvhConfig(name, XenSharpHost.Guest("spin"), extra: extra)).AssertSuccess();

    /// <summary>The vcpu-list line of vCPU 0 of <paramref name="name"/>: (CPU, state, hard, soft).</summary>
    private (string Cpu, string State, string Hard, string Soft) Vcpu0(string name)
    {
        var r = Host.Xl("vcpu-list", name).AssertSuccess();
        var lines = r.StdoutLines.ToList();
        Assert.Equal("Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)", lines[0]);
        var m = Regex.Match(lines[1], @"^(\S+) +(\d+) +0 +(\d+|-) +([-rbp]{3}) +[\d.]+  (\S+) / (\S+)$");
        Assert.True(m.Success, r.Describe());
        Assert.Equal(name, m.Groups[1].Value);
        return (m.Groups[3].Value, m.Groups[4].Value, m.Groups[5].Value, m.Groups[6].Value);
    }

    [Fact]
    public void Cpus_in_config_pins_the_vcpu_and_vcpu_pin_moves_it()
    {
        CreateSpin("sched-pin", "cpus = \"1\"");
        Thread.Sleep(300);
        var v = Vcpu0("sched-pin");
        Assert.True(v.Cpu is "1" or "-", $"vCPU 0 with cpus=\"1\" ran on {v.Cpu}");
        Assert.Equal("1", v.Hard);
        Assert.Equal("all", v.Soft);

        Host.Xl("vcpu-pin", "sched-pin", "0", "0").AssertSuccess();
        XenSharpHost.WaitUntil(() => Vcpu0("sched-pin") is { Hard: "0", Cpu: "0" or "-" }, TimeSpan.FromSeconds(10), "vCPU 0 to move to pCPU 0");
        Host.Xl("vcpu-pin", "sched-pin", "all", "-", "1").AssertSuccess();
        Assert.Equal(("0", "1"), (Vcpu0("sched-pin").Hard, Vcpu0("sched-pin").Soft));
        Host.Xl("vcpu-pin", "-f", "sched-pin", "all", "all", "all").AssertSuccess();
        Assert.Equal(("all", "all"), (Vcpu0("sched-pin").Hard, Vcpu0("sched-pin").Soft));

        Assert.Contains("no such domain", Host.Xl("vcpu-pin", "no-such", "0", "0").AssertExit(1).Stderr);
        Assert.Contains("vCPU \"3\" is out of range for domain", Host.Xl("vcpu-pin", "sched-pin", "3", "0").AssertExit(1).Stderr);
        Assert.Contains("accepted: \"all\"", Host.Xl("vcpu-pin", "sched-pin", "0", "x").AssertExit(1).Stderr);
        Assert.Contains("names no CPU", Host.Xl("vcpu-pin", "sched-pin", "0", "none").AssertExit(1).Stderr);
        Assert.Contains("names no pCPU of cpupool \"Pool-0\"", Host.Xl("vcpu-pin", "sched-pin", "0", "5").AssertExit(1).Stderr);
        Host.Xl("destroy", "sched-pin").AssertSuccess();
    }

    [Fact]
    public void Bad_scheduling_config_fails_creation_and_leaves_nothing()
    {
        var r = Host.Xl("create", Host.WritePvhConfig("sched-bad", XenSharpHost.Guest("spin"), extra: "cpus = \"7\""));
        r.AssertExit(1);
        Assert.Contains("cpus: \"7\" names no pCPU of cpupool \"Pool-0\"", r.Stderr);
        r = Host.Xl("create", Host.WritePvhConfig("sched-bad", XenSharpHost.Guest("spin"), extra: "pool = \"nowhere\""));
        r.AssertExit(1);
        Assert.Contains("pool: cpupool \"nowhere\" does not exist", r.Stderr);
        r = Host.Xl("create", Host.WritePvhConfig("sched-bad", XenSharpHost.Guest("spin"), extra: "cpu_weight = 0"));
        r.AssertExit(1);
        Assert.Contains("cpu_weight: bad value '0'", r.Stderr);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Sched_credit2_sets_and_shows_weight_and_cap()
    {
        CreateSpin("sched-w", "cpu_weight = 300\ncap = 40");
        var shown = Host.Xl("sched-credit2", "-d", "sched-w").AssertSuccess().StdoutLines.ToList();
        Assert.Equal("Name                                ID Weight  Cap", shown[0]);
        Assert.Matches(@"^sched-w +\d+    300   40$", shown[1]);

        Host.Xl("sched-credit2", "-d", "sched-w", "-w", "512", "-c", "50").AssertSuccess();
        Assert.Matches(@"^sched-w +\d+    512   50$", Host.Xl("sched-credit2", "-d", "sched-w").AssertSuccess().StdoutLines.ElementAt(1));

        var all = Host.Xl("sched-credit2").AssertSuccess().StdoutLines.ToList();
        Assert.Matches(@"^Cpupool Pool-0: ratelimit=\d+us$", all[0]);
        Assert.Contains(all, l => l.StartsWith("Domain-0 ", StringComparison.Ordinal));
        Assert.Contains(all, l => Regex.IsMatch(l, @"^sched-w +\d+    512   50$"));

        Host.Xl("sched-credit2", "-s", "-r", "2000").AssertSuccess();
        Assert.Equal("Cpupool Pool-0: ratelimit=2000us", Host.Xl("sched-credit2", "-s").AssertSuccess().StdoutLines.First());
        Assert.Contains("ratelimit", Host.Xl("sched-credit2", "-s", "-r", "5").AssertExit(1).Stderr);
        Host.Xl("sched-credit2", "-s", "-r", "1000").AssertSuccess();

        Assert.Contains("weight 0 is out of range: accepted 1..65535", Host.Xl("sched-credit2", "-d", "sched-w", "-w", "0").AssertExit(1).Stderr);
        Assert.Contains("cap 101 is out of range", Host.Xl("sched-credit2", "-d", "sched-w", "-c", "101").AssertExit(1).Stderr);
        Assert.Contains("domain sched-w is in pool Pool-0 which uses credit2", Host.Xl("sched-credit", "-d", "sched-w", "-w", "10").AssertExit(1).Stderr);
        Host.Xl("destroy", "sched-w").AssertSuccess();
    }

    [Fact]
    public void Cpupool_create_list_migrate_destroy_round_trip()
    {
        CreateSpin("sched-pool");
        Assert.Contains("is busy: it belongs to cpupool \"Pool-0\"",
            Host.Xl("cpupool-create", "name=\"pool1\"", "sched=\"null\"", "cpus=\"1\"").AssertExit(1).Stderr);
        Host.Xl("cpupool-cpu-remove", "Pool-0", "1").AssertSuccess();
        var created = Host.Xl("cpupool-create", "name=\"pool1\"", "sched=\"null\"", "cpus=\"1\"");
        created.AssertSuccess();
        Assert.Contains("cpupool name:   pool1", created.Stdout);
        Assert.Contains("scheduler:      null", created.Stdout);
        Assert.Contains("number of cpus: 1", created.Stdout);
        try
        {
            var list = Host.Xl("cpupool-list").AssertSuccess().StdoutLines.ToList();
            Assert.Equal("Name               CPUs   Sched     Active   Domain count", list[0]);
            Assert.Matches(@"^Pool-0               1 +credit2       y          2$", list[1]);
            Assert.Equal("pool1                1      null       y          0", list[2]);
            var cpus = Host.Xl("cpupool-list", "-c").AssertSuccess().StdoutLines.ToList();
            Assert.Equal(["Name               CPU list", "Pool-0             0", "pool1              1"], cpus);

            Assert.Contains("already exists", Host.Xl("cpupool-create", "name=\"pool1\"").AssertExit(1).Stderr);
            Assert.Contains("busy: it belongs to cpupool \"pool1\"", Host.Xl("cpupool-create", "name=\"pool2\"", "cpus=\"1\"").AssertExit(1).Stderr);
            Assert.Contains("unknown scheduler", Host.Xl("cpupool-create", "name=\"pool3\"", "sched=\"rr\"").AssertExit(1).Stderr);
            Assert.Contains("Missing cpupool name!", Host.Xl("cpupool-create", "sched=\"null\"").AssertExit(1).Stderr);
            Assert.Contains("pCPU 0 cannot be removed from Pool-0", Host.Xl("cpupool-cpu-remove", "Pool-0", "0").AssertExit(1).Stderr);

            Host.Xl("cpupool-migrate", "sched-pool", "pool1").AssertSuccess();
            Thread.Sleep(500);
            Assert.Equal("pool1                1      null       y          1", Host.Xl("cpupool-list").AssertSuccess().StdoutLines.ElementAt(2));
            var v = Vcpu0("sched-pool");
            Assert.True(v.Cpu is "1" or "-", $"vCPU in pool1 runs on {v.Cpu}");
            Assert.Contains("sched-pool", Host.Xl("sched-null").AssertSuccess().Stdout);
            Assert.Contains("which uses null", Host.Xl("sched-credit2", "-d", "sched-pool", "-w", "5").AssertExit(1).Stderr);
            Assert.Contains("cannot be destroyed", Host.Xl("cpupool-destroy", "pool1").AssertExit(1).Stderr);

            CreateSpin("sched-pool2", "pool = \"pool1\"\ncpus = \"1\"");
            Host.Xl("destroy", "sched-pool2").AssertSuccess();

            Host.Xl("cpupool-migrate", "sched-pool", "Pool-0").AssertSuccess();
            Assert.Contains("does not exist", Host.Xl("cpupool-migrate", "sched-pool", "nowhere").AssertExit(1).Stderr);
            Thread.Sleep(300);
            Host.Xl("cpupool-cpu-remove", "pool1", "1").AssertSuccess();
            Host.Xl("cpupool-cpu-add", "pool1", "1").AssertSuccess();
        }
        finally
        {
            Host.Xl("cpupool-migrate", "sched-pool", "Pool-0");
            Host.Xl("cpupool-destroy", "pool1");
            Host.Xl("cpupool-cpu-add", "Pool-0", "1");
        }
        Assert.Contains("does not exist", Host.Xl("cpupool-destroy", "pool1").AssertExit(1).Stderr);
        Assert.Matches(@"^Pool-0               2 +credit2       y          2$", Host.Xl("cpupool-list").AssertSuccess().StdoutLines.ElementAt(1));
        Host.Xl("destroy", "sched-pool").AssertSuccess();
    }
}
