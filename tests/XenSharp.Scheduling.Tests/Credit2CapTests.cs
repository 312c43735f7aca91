using Xunit.Abstractions;
using XenSharp.Scheduling.Simulation;

namespace XenSharp.Scheduling.Tests;

public class Credit2CapTests(ITestOutputHelper output)
{
    private const long Ms = 1_000_000;

    [Fact]
    public void Cap25AloneOnAnOtherwiseIdlePcpu()
    {
        var policy = new Credit2Scheduler();
        var sim = new Simulator(policy, pcpus: 1);
        var d = sim.AddDomain("capped", cap: 25);
        var v = sim.AddVcpu(d, Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        double util = r.Domain("capped").UtilizationPercent;
        output.WriteLine($"cap 25: utilisation {util:F4}%");
        Assert.InRange(util, 24.0, 25.5);
        Assert.Equal(75.0, 100.0 * r.IdleNs / r.ElapsedNs, 1);
        // Slices end when the budget is gone: it runs 2.5 ms per 10 ms period, one slice each.
        Assert.InRange(r.Vcpu(v).Runs, 990, 1001);
    }

    [Fact]
    public void Cap50OnATwoVcpuDomainOnTwoPcpus()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 2);
        var d = sim.AddDomain("capped");
        sim.AddVcpu(d, Workload.CpuBound);
        sim.AddVcpu(d, Workload.CpuBound);
        sim.AdjustDomain(d, cap: 50);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        double util = r.Domain("capped").UtilizationPercent; // percent of one pCPU
        output.WriteLine($"cap 50 over 2 vCPUs: {util:F4}% of one pCPU");
        Assert.InRange(util, 49.0, 50.5);
    }

    [Fact]
    public void CappedDomainWithCompetitors()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 1);
        var c = sim.AddVcpu(sim.AddDomain("capped", cap: 25), Workload.CpuBound);
        var o = sim.AddVcpu(sim.AddDomain("other"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        output.WriteLine($"capped {r.Vcpu(c).UtilizationPercent:F4}% other {r.Vcpu(o).UtilizationPercent:F4}%");
        Assert.InRange(r.Vcpu(c).UtilizationPercent, 24.0, 25.5);
        Assert.InRange(r.Vcpu(o).UtilizationPercent, 74.5, 76.0);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void CappedHeavyweightAmongManyOnFourPcpus()
    {
        // A cap bounds even a domain whose weight would give it far more.
        var sim = new Simulator(new Credit2Scheduler(Credit2RunqueueArrangement.Cpu), pcpus: 4, seed: 3);
        var heavy = sim.AddDomain("heavy", weight: 4096);
        for (int i = 0; i < 4; i++) sim.AddVcpu(heavy, Workload.CpuBound);
        sim.AdjustDomain(heavy, cap: 150);
        var light = sim.AddDomain("light");
        for (int i = 0; i < 4; i++) sim.AddVcpu(light, Workload.Random(400_000, 100_000));
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        output.WriteLine($"heavy {r.Domain("heavy").UtilizationPercent:F3}% light {r.Domain("light").UtilizationPercent:F3}%");
        Assert.InRange(r.Domain("heavy").UtilizationPercent, 140.0, 150.5);
    }

    [Fact]
    public void CapCanBeChangedAndRemoved()
    {
        var policy = new Credit2Scheduler();
        var sim = new Simulator(policy, pcpus: 1);
        var d = sim.AddDomain("d");
        var v = sim.AddVcpu(d, Workload.CpuBound);
        long Cpu(TimeSpan t) { var r = sim.Run(t); return r.Vcpu(v).CpuNs; }
        long c0 = Cpu(TimeSpan.FromMilliseconds(100));
        Assert.Equal(100 * Ms, c0);
        sim.AdjustDomain(d, cap: 10);
        long c1 = Cpu(TimeSpan.FromSeconds(1)) - c0;
        Assert.InRange(c1, 99 * Ms, 101 * Ms);
        Assert.NotNull(policy.DomainBudget(d));
        sim.AdjustDomain(d, cap: 60);
        long c2 = Cpu(TimeSpan.FromSeconds(1)) - c0 - c1;
        Assert.InRange(c2, 590 * Ms, 605 * Ms);
        sim.AdjustDomain(d, cap: 0);
        Assert.Null(policy.DomainBudget(d));
        Assert.False(policy.IsParked(v));
        long c3 = Cpu(TimeSpan.FromSeconds(1)) - c0 - c1 - c2;
        output.WriteLine($"uncapped {c0} cap10 {c1} cap60 {c2} uncapped {c3}");
        Assert.InRange(c3, 995 * Ms, 1000 * Ms);
    }

    [Fact]
    public void CapPeriodIsConfigurable()
    {
        var policy = new Credit2Scheduler { CapPeriodNs = 50 * Ms };
        var sim = new Simulator(policy, pcpus: 1);
        var d = sim.AddDomain("d", cap: 20);
        var slices = new List<long>();
        long start = -1;
        sim.Decided += dec =>
        {
            bool wasV = dec.Prev?.Domain == d, isV = dec.Next?.Domain == d;
            if (isV && !wasV) start = dec.Now;
            else if (wasV && !isV) slices.Add(dec.Now - start);
        };
        var v = sim.AddVcpu(d, Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(2));
        Assert.InRange(r.Vcpu(v).UtilizationPercent, 19.5, 20.0);
        // Budget 10 ms per 50 ms period, taken as one 10 ms slice (the longest slice).
        Assert.Equal(40, slices.Count);
        Assert.All(slices, s => Assert.Equal(10 * Ms, s));
    }
}
