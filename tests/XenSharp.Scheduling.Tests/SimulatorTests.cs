using XenSharp.Scheduling.Simulation;

namespace XenSharp.Scheduling.Tests;

public class SimulatorTests
{
    [Fact]
    public void RoundRobinSharesOnePcpuEqually()
    {
        var sim = new Simulator(new ToyPolicy(), pcpus: 1);
        var a = sim.AddVcpu(sim.AddDomain("a"), Workload.CpuBound);
        var b = sim.AddVcpu(sim.AddDomain("b"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(1));
        Assert.Equal(500_000_000, r.Vcpu(a).CpuNs);
        Assert.Equal(500_000_000, r.Vcpu(b).CpuNs);
        Assert.Equal(50.0, r.Domain("a").SharePercent, 6);
        Assert.InRange(r.Decisions, 1000, 1010);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void CatchesAVcpuRunningOnTwoPcpus()
    {
        var sim = new Simulator(new ToyPolicy(ToyPolicy.Bug.AlwaysFirst), pcpus: 2);
        var ex = Assert.Throws<SchedulerInvariantException>(() =>
            sim.AddVcpu(sim.AddDomain("a"), Workload.CpuBound));
        Assert.Contains("already running on pCPU 0", ex.Message);
        Assert.Contains("pCPU 1", ex.Message);
    }

    [Fact]
    public void CatchesHardAffinityViolation()
    {
        var sim = new Simulator(new ToyPolicy(ToyPolicy.Bug.IgnoreAffinity), pcpus: 2);
        var ex = Assert.Throws<SchedulerInvariantException>(() =>
            sim.AddVcpu(sim.AddDomain("a"), Workload.CpuBound, hard: CpuMask.Parse("1")));
        Assert.Contains("outside its hard affinity 1", ex.Message);
        Assert.Contains("d0v0", ex.Message);
    }

    [Fact]
    public void CatchesRunningABlockedVcpu()
    {
        var sim = new Simulator(new ToyPolicy(ToyPolicy.Bug.RunBlocked), pcpus: 1);
        sim.AddVcpu(sim.AddDomain("a"), Workload.IoLike(100_000, 100_000));
        var ex = Assert.Throws<SchedulerInvariantException>(() => sim.Run(TimeSpan.FromMilliseconds(1)));
        Assert.Contains("while it is Blocked", ex.Message);
        Assert.Contains("t=100000ns", ex.Message);
    }

    [Fact]
    public void CorrectToyPolicyPassesWithMixedWorkloadsAndScripts()
    {
        var sim = new Simulator(new ToyPolicy(), pcpus: 4, seed: 7);
        var d = sim.AddDomain("mix");
        var vs = new List<SchedVcpu>
        {
            sim.AddVcpu(d, Workload.CpuBound),
            sim.AddVcpu(d, Workload.IoLike(300_000, 700_000), hard: CpuMask.Parse("0-1")),
            sim.AddVcpu(d, Workload.Burst(2_000_000, 3_000_000)),
            sim.AddVcpu(d, Workload.Random(50_000, 80_000), hard: CpuMask.Parse("2-3")),
            sim.AddVcpu(d, Workload.Yielding(10_000)),
            sim.AddVcpu(d, Workload.Idle),
        };
        sim.At(TimeSpan.FromMilliseconds(5), s => s.SetAffinity(vs[0], CpuMask.Parse("3"), CpuMask.All));
        sim.At(TimeSpan.FromMilliseconds(20), s => s.WakeVcpu(vs[5]));
        sim.At(TimeSpan.FromMilliseconds(30), s => s.SetOnline(vs[2], false));
        sim.At(TimeSpan.FromMilliseconds(40), s => s.RemovePcpu(2));
        var r = sim.Run(TimeSpan.FromMilliseconds(100));
        foreach (var v in vs)
        {
            var vr = r.Vcpu(v);
            Assert.Equal(r.ElapsedNs, vr.CpuNs + vr.RunnableNs + vr.BlockedNs + vr.OfflineNs);
        }
        long cpu = r.Vcpus.Sum(v => v.CpuNs);
        Assert.Equal(r.BusyNs, cpu);
        Assert.True(r.Vcpu(vs[2]).OfflineNs >= 70_000_000);
    }

    [Fact]
    public void SameSeedSameRun()
    {
        string RunOnce()
        {
            var sim = new Simulator(new ToyPolicy(), pcpus: 3, seed: 42);
            var d = sim.AddDomain("r");
            for (int i = 0; i < 8; i++) sim.AddVcpu(d, Workload.Random(100_000, 200_000));
            return sim.Run(TimeSpan.FromMilliseconds(50)).ToString();
        }
        Assert.Equal(RunOnce(), RunOnce());
    }
}
