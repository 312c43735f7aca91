using Xunit.Abstractions;
using XenSharp.Scheduling.Simulation;

namespace XenSharp.Scheduling.Tests;

public class Credit2AffinityTests(ITestOutputHelper output)
{
    private static CpuMask RandomMask(Random rnd, int pcpus, double p)
    {
        var m = CpuMask.None;
        while (m.IsEmpty)
            for (int c = 0; c < pcpus; c++) if (rnd.NextDouble() < p) m.Set(c);
        return m;
    }

    [Theory]
    [InlineData(Credit2RunqueueArrangement.Core)]
    [InlineData(Credit2RunqueueArrangement.Socket)]
    public void HardAffinityNeverViolatedOverAMillionDecisions(Credit2RunqueueArrangement arrangement)
    {
        const int pcpus = 16;
        var rnd = new Random(2024);
        var policy = new Credit2Scheduler(arrangement, Credit2Topology.Uniform(threadsPerCore: 2, coresPerSocket: 4));
        var sim = new Simulator(policy, pcpus, seed: 77);
        long initial = sim.Decisions; // the pCPUs' first decisions, made in the constructor
        long checkedDecisions = 0, busy = 0;
        sim.Decided += d =>
        {
            checkedDecisions++;
            if (d.Next is { } n)
            {
                busy++;
                // The simulator throws on violations; check again here, explicitly.
                if (!n.HardAffinity.Contains(d.Pcpu)) throw new Xunit.Sdk.XunitException($"{n} on {d.Pcpu} outside {n.HardAffinity}");
            }
        };
        var vs = new List<SchedVcpu>();
        for (int dom = 0; dom < 12; dom++)
        {
            var d = sim.AddDomain("d" + dom, weight: 64 << rnd.Next(4));
            for (int i = 0; i < 5; i++)
            {
                Workload w = rnd.Next(4) switch
                {
                    0 => Workload.CpuBound,
                    1 => Workload.IoLike(20_000 + rnd.Next(200_000), 50_000 + rnd.Next(500_000)),
                    2 => Workload.Burst(1_000_000 + rnd.Next(3_000_000), 1_000_000 + rnd.Next(3_000_000)),
                    _ => Workload.Random(30_000 + rnd.Next(300_000), 30_000 + rnd.Next(300_000)),
                };
                vs.Add(sim.AddVcpu(d, w, hard: RandomMask(rnd, pcpus, 0.2), soft: RandomMask(rnd, pcpus, 0.3)));
            }
            if (dom % 4 == 3) sim.AdjustDomain(d, cap: 50 + 50 * rnd.Next(4));
        }
        // Random affinity changes and hotplug along the way.
        var every = TimeSpan.FromMilliseconds(7);
        int changes = 0;
        while (sim.Decisions < 1_000_000)
        {
            sim.Run(every);
            var v = vs[rnd.Next(vs.Count)];
            sim.SetAffinity(v, RandomMask(rnd, pcpus, 0.25), RandomMask(rnd, pcpus, 0.3));
            changes++;
            if (changes % 50 == 0)
            {
                int p = rnd.Next(pcpus);
                if (sim.OnlinePcpus.Contains(p)) { if (policy.CanRemovePcpu(p)) sim.RemovePcpu(p); }
                else sim.AddPcpu(p);
            }
        }
        var r = sim.Report();
        output.WriteLine($"{arrangement}: {r.Decisions} decisions checked ({checkedDecisions} seen, {busy} picked a vCPU), " +
                         $"{changes} affinity changes, {r.Migrations} migrations, virtual time {r.ElapsedNs / 1e9:F2} s, idle {100.0 * r.IdleNs / (r.IdleNs + r.BusyNs):F1}%");
        Assert.True(r.Decisions >= 1_000_000);
        Assert.Equal(r.Decisions - initial, checkedDecisions);
        foreach (var vr in r.Vcpus) Assert.Equal(r.ElapsedNs, vr.CpuNs + vr.RunnableNs + vr.BlockedNs + vr.OfflineNs);
        Assert.Equal(r.BusyNs, r.Vcpus.Sum(x => x.CpuNs));
    }

    [Fact]
    public void AffinityChangeMovesARunningVcpuAtOnce()
    {
        var policy = new Credit2Scheduler(Credit2RunqueueArrangement.Cpu);
        var sim = new Simulator(policy, pcpus: 4);
        var v = sim.AddVcpu(sim.AddDomain("d"), Workload.CpuBound, hard: CpuMask.Parse("0"));
        sim.Run(TimeSpan.FromMilliseconds(5));
        Assert.Equal(0, v.Processor);
        sim.SetAffinity(v, CpuMask.Parse("3"), CpuMask.All); // the simulator checks it left pCPU 0
        Assert.Equal(3, v.Processor);
        Assert.Equal(CpuMask.Parse("3"), policy.RunqueuePcpus(v));
        var r = sim.Run(TimeSpan.FromMilliseconds(5));
        Assert.Equal(10_000_000, r.Vcpu(v).CpuNs);
    }
}
