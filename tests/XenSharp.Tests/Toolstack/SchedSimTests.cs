using XenSharp.Scheduling;
using XenSharp.Scheduling.Simulation;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Scheduling;

namespace XenSharp.Tests.Toolstack;

/// <summary>`xl sched-sim` scenarios: the xl.cfg-syntax format, its errors, and the example files' results.</summary>
public sealed class SchedSimTests
{
    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "XenSharp.slnx"))) return dir.FullName;
            throw new InvalidOperationException($"no XenSharp.slnx above {AppContext.BaseDirectory}");
        }
    }

    private static string Example(string name) => Path.Combine(RepoRoot, "examples", "sched-sim", name);

    [Fact]
    public void ParsesAGoodScenario()
    {
        var s = SimScenario.Parse("""
            sched = "credit"
            pcpus = 2
            seconds = 3
            seed = 7
            domains = [ "name=web,weight=512,cap=150,vcpus=2,workload=cpu,cpus=0-1",
                        "name=batch, weight=256, workload=io:200us:1ms, cpus=0,1, soft=1",
                        "name=b,workload=burst:5ms:1s",
                        "name=r,workload=random:100ns:2ms" ]
            """, "s.cfg");
        Assert.Equal(("credit", 2, 3, 7), (s.Sched, s.Pcpus, s.Seconds, s.Seed));
        Assert.Equal(["web", "batch", "b", "r"], s.Domains.Select(d => d.Name));
        var web = s.Domains[0];
        Assert.Equal((512, 150, 2), (web.Weight, web.Cap, web.Vcpus));
        Assert.Equal(Workload.CpuBound, web.Workload);
        Assert.Equal(CpuMask.Range(0, 1), web.Cpus);
        Assert.Null(web.Soft);
        Assert.Equal(5, web.Line);
        var batch = s.Domains[1];
        Assert.Equal((256, 0, 1), (batch.Weight, batch.Cap, batch.Vcpus));
        Assert.Equal(Workload.IoLike(200_000, 1_000_000), batch.Workload);
        Assert.Equal(CpuMask.Of(0, 1), batch.Cpus);
        Assert.Equal(CpuMask.Of(1), batch.Soft);
        Assert.Equal(6, batch.Line);
        Assert.Equal(Workload.Burst(5_000_000, 1_000_000_000), s.Domains[2].Workload);
        Assert.Equal(Workload.Random(100, 2_000_000), s.Domains[3].Workload);
    }

    [Fact]
    public void DefaultsAreCredit2OnePcpuTenSeconds()
    {
        var s = SimScenario.Parse("domains = [ \"name=a\" ]", "d.cfg");
        Assert.Equal(("credit2", 1, 10, 1), (s.Sched, s.Pcpus, s.Seconds, s.Seed));
        Assert.Equal(new SimDomainSpec("a", 256, 0, 1, Workload.CpuBound, null, null, 1), s.Domains[0]);
    }

    [Theory]
    [InlineData("sched = \"fifo\"\ndomains=[\"name=a\"]", "e.cfg:1: sched: bad value 'fifo' (accepted: credit, credit2, null")]
    [InlineData("pcpus = 0\ndomains=[\"name=a\"]", "e.cfg:1: pcpus: bad value '0' (accepted: an integer 1..64)")]
    [InlineData("seconds = 1.5\ndomains=[\"name=a\"]", "e.cfg:1: syntax error")]
    [InlineData("seconds = 0\ndomains=[\"name=a\"]", "e.cfg:1: seconds: bad value '0' (accepted: virtual seconds, an integer 1..3600)")]
    [InlineData("pcpu = 2\ndomains=[\"name=a\"]", "e.cfg:1: pcpu: unknown key (accepted: sched, pcpus, seconds, seed, domains)")]
    [InlineData("pcpus = 2", "e.cfg: domains: missing (a list of")]
    [InlineData("domains = \"name=a\"", "e.cfg:1: domains: bad value 'name=a' (accepted: a list of")]
    [InlineData("domains = [ ]", "e.cfg:1: domains: bad value '[ ]' (accepted: a list of")]
    [InlineData("domains = [\n \"name=a\",\n \"weight=3\" ]", "e.cfg:3: domains[1]: name: missing (each domain needs name=NAME)")]
    [InlineData("domains = [ \"name=a\", 5 ]", "e.cfg:1: domains[1]: bad value '5' (accepted: a quoted string")]
    [InlineData("domains = [ \"name=a,color=red\" ]", "e.cfg:1: domains[0]: bad field 'color=red' (accepted: name=..., weight=...")]
    [InlineData("domains = [ \"name=a,weight=0\" ]", "e.cfg:1: domains[0]: weight: bad value '0' (accepted: an integer 1..65535 (default 256))")]
    [InlineData("domains = [ \"name=a,weight=x\" ]", "e.cfg:1: domains[0]: weight: bad value 'x' (accepted: an integer 1..65535")]
    [InlineData("domains = [ \"name=a,cap=150\" ]", "e.cfg:1: domains[0]: cap: bad value '150' (accepted: percent of one pCPU, 0..100 (100 × 1 vCPU(s)); 0 = no cap)")]
    [InlineData("domains = [ \"name=a,vcpus=0\" ]", "e.cfg:1: domains[0]: vcpus: bad value '0' (accepted: an integer 1..64)")]
    [InlineData("domains = [ \"name=a,workload=io:200us\" ]", "e.cfg:1: domains[0]: workload: bad value 'io:200us' (accepted: cpu, io:RUN:BLOCK, burst:ON:OFF or random:RUN:BLOCK")]
    [InlineData("domains = [ \"name=a,workload=io:200:1ms\" ]", "e.cfg:1: domains[0]: workload: bad value 'io:200:1ms' (accepted: cpu,")]
    [InlineData("domains = [ \"name=a,workload=burst:0ms:1ms\" ]", "e.cfg:1: domains[0]: workload: bad value 'burst:0ms:1ms'")]
    [InlineData("domains = [ \"name=a,workload=idle\" ]", "e.cfg:1: domains[0]: workload: bad value 'idle'")]
    [InlineData("pcpus = 2\ndomains = [ \"name=a,cpus=4-5\" ]", "e.cfg:2: domains[0]: cpus: bad value '4-5' (accepted: a CPU list such as \"0-1,^3\" or \"all\" naming at least one of pCPUs 0..1)")]
    [InlineData("domains = [ \"name=a,soft=x\" ]", "e.cfg:1: domains[0]: soft: bad value 'x' (accepted: a CPU list")]
    [InlineData("domains = [ \"name=a,weight=1,weight=2\" ]", "e.cfg:1: domains[0]: weight: bad value '2' (accepted: each field once per domain)")]
    [InlineData("domains = [ \"name=a\", \"name=a\" ]", "e.cfg:1: domains[1]: name: bad value 'a' (accepted: a name not used by another domain")]
    public void BadValuesNameFileLineKeyAndWhatIsAccepted(string text, string expectedStart)
    {
        var e = Assert.Throws<XlConfigException>(() => SimScenario.Parse(text, "e.cfg"));
        Assert.StartsWith(expectedStart, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileIsAConfigError()
    {
        var e = Assert.Throws<XlConfigException>(() => SimScenario.ParseFile("/nonexistent/x.cfg"));
        Assert.Contains("no such file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsExampleSharesOnePcpuOneToTwo()
    {
        var s = SimScenario.ParseFile(Example("weights.cfg"));
        var r = s.Run();
        double light = r.Domain("light").SharePercent, heavy = r.Domain("heavy").SharePercent;
        Assert.InRange(heavy / light, 1.98, 2.02);
        Assert.InRange(light, 32.33, 34.33);
        Assert.InRange(heavy, 65.67, 67.67);
        string table = s.Format(r);
        Assert.Contains("light", table, StringComparison.Ordinal);
        Assert.Contains("Runnable(ms)", table, StringComparison.Ordinal);
    }

    [Fact]
    public void CapExampleHoldsTheCappedDomainNearItsCap()
    {
        var r = SimScenario.ParseFile(Example("cap.cfg")).Run();
        Assert.InRange(r.Domain("capped").UtilizationPercent, 24.0, 25.5);
    }

    [Fact]
    public void CapAboveOnePcpuWorksForMultiVcpuDomainsAndRunsAreDeterministic()
    {
        const string text = """
            pcpus = 4
            seconds = 2
            domains = [ "name=wide,vcpus=3,cap=150", "name=io,workload=io:200us:1ms,cpus=0-1" ]
            """;
        var a = SimScenario.Parse(text, "w.cfg");
        var r1 = a.Run();
        Assert.InRange(r1.Domain("wide").UtilizationPercent, 140, 155);
        Assert.Equal(a.Format(r1), a.Format(SimScenario.Parse(text, "w.cfg").Run()));
    }
}
