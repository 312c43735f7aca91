using XenSharp.Scheduling.Simulation;

namespace XenSharp.Scheduling.Tests;

public class NullSchedulerTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void EveryVcpuGetsItsOwnPcpuAtFullSpeed()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 8);
        var d = sim.AddDomain("d");
        var vs = Enumerable.Range(0, 8).Select(_ => sim.AddVcpu(d, Workload.CpuBound)).ToList();
        var r = sim.Run(TimeSpan.FromSeconds(2));
        Assert.Equal(8, vs.Select(policy.AssignedPcpu).Distinct().Count());
        foreach (var v in vs)
        {
            Assert.Equal(100.0, r.Vcpu(v).UtilizationPercent, 9);
            Assert.Equal(1, r.Vcpu(v).Runs);
        }
        Assert.Equal(0, r.Migrations);
        Assert.Equal(0, r.IdleNs);
        // No time slicing: nothing happened after the vCPUs started.
        Assert.True(r.Decisions <= 8 + 8, $"decisions {r.Decisions}");
    }

    [Fact]
    public void CpuBoundVcpuAloneGetsAllOfItsPcpu()
    {
        var sim = new Simulator(new NullScheduler(), pcpus: 4);
        var v = sim.AddVcpu(sim.AddDomain("solo"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(1));
        Assert.Equal(1_000_000_000, r.Vcpu(v).CpuNs);
        Assert.Equal(100.0, r.Domain("solo").SharePercent);
        Assert.Equal(3_000_000_000, r.IdleNs);
    }

    [Fact]
    public void NeverMigratesAcross100kDecisionsWithRandomBlockWake()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 16, seed: 12345);
        var d = sim.AddDomain("rand");
        // 16 fit; 4 more wait forever (nobody frees a pCPU).
        var vs = Enumerable.Range(0, 20).Select(_ => sim.AddVcpu(d, Workload.Random(20_000, 30_000))).ToList();
        var home = new Dictionary<SchedVcpu, int>();
        long seen = 0;
        sim.Decided += dec =>
        {
            seen++;
            if (dec.Next is { } n)
            {
                if (home.TryGetValue(n, out int h)) Assert.Equal(h, dec.Pcpu);
                else home[n] = dec.Pcpu;
            }
            if (dec.Prev is { } p && dec.Next is { } q) Assert.Same(p, q); // nothing else ever shares a pCPU
        };
        while (sim.Decisions < 100_000) sim.Run(TimeSpan.FromMilliseconds(10));
        var r = sim.Report();
        Assert.True(seen >= 100_000);
        Assert.Equal(0, r.Migrations);
        Assert.Equal(16, home.Count);
        Assert.Equal(16, home.Values.Distinct().Count());
        Assert.Equal(vs.Skip(16), policy.WaitQueue);
        foreach (var v in vs.Skip(16)) Assert.Equal(0, r.Vcpu(v).CpuNs);
        foreach (var v in vs.Take(16))
        {
            var vr = r.Vcpu(v);
            Assert.Equal(r.ElapsedNs, vr.CpuNs + vr.RunnableNs + vr.BlockedNs + vr.OfflineNs);
            Assert.Equal(0, vr.RunnableNs); // it never waits: its pCPU is always there
        }
    }

    [Fact]
    public void WaitQueueIsServedInOrderWhenPcpusFreeUp()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 2);
        var d = sim.AddDomain("d");
        var a = sim.AddVcpu(d, Workload.CpuBound);
        var b = sim.AddVcpu(d, Workload.CpuBound);
        var c = sim.AddVcpu(d, Workload.CpuBound);
        var e = sim.AddVcpu(d, Workload.IoLike(Ms / 10, Ms / 10)); // waiting vCPUs can be any kind
        var f = sim.AddVcpu(d, Workload.CpuBound);
        Assert.Equal(new[] { c, e, f }, policy.WaitQueue);
        var firstRun = new Dictionary<SchedVcpu, (long, int)>();
        sim.Decided += dec => { if (dec.Next is { } n) firstRun.TryAdd(n, (dec.Now, dec.Pcpu)); };
        int pa = policy.AssignedPcpu(a), pb = policy.AssignedPcpu(b);
        sim.At(TimeSpan.FromMilliseconds(10), s => s.RemoveVcpu(b));
        sim.At(TimeSpan.FromMilliseconds(20), s => s.SetOnline(a, false));
        sim.At(TimeSpan.FromMilliseconds(30), s => s.AddPcpu(2));
        var r = sim.Run(TimeSpan.FromMilliseconds(40));
        Assert.Equal((10 * Ms, pb), firstRun[c]);
        Assert.Equal((20 * Ms, pa), firstRun[e]);
        Assert.Equal((30 * Ms, 2), firstRun[f]);
        Assert.Empty(policy.WaitQueue);
        Assert.Equal(10 * Ms, r.Vcpu(c).RunnableNs);
        Assert.Equal(30 * Ms, r.Vcpu(f).RunnableNs);
        Assert.Equal(10 * Ms, r.Vcpu(f).CpuNs);
        Assert.Equal(0, r.Migrations);
        // a comes back online: everything is taken, so it waits at the tail.
        sim.SetOnline(a, true);
        Assert.Equal(new[] { a }, policy.WaitQueue);
    }

    [Fact]
    public void HardAffinityIsRespectedAndWaitersWithOtherAffinityAreSkipped()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 4);
        var d = sim.AddDomain("d");
        var on3 = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("3"));
        Assert.Equal(3, policy.AssignedPcpu(on3));
        var x = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("0-1"));
        var y = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("0-1"));
        var late = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("0-1"));
        Assert.Equal(new[] { late }, policy.WaitQueue); // pCPU 2 is free but outside its affinity
        var only1 = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("1"));
        var any = sim.AddVcpu(d, Workload.CpuBound);
        Assert.Equal(2, policy.AssignedPcpu(any));
        var any2 = sim.AddVcpu(d, Workload.CpuBound);
        Assert.Equal(new[] { late, only1, any2 }, policy.WaitQueue);
        int px = policy.AssignedPcpu(x);
        Assert.Equal(0, px);
        sim.RemoveVcpu(on3);   // pCPU 3: late and only1 can't go there; any2 can
        Assert.Equal(3, policy.AssignedPcpu(any2));
        sim.RemoveVcpu(x);     // pCPU 0: first waiter allowed there is late
        Assert.Equal(0, policy.AssignedPcpu(late));
        Assert.Equal(new[] { only1 }, policy.WaitQueue);
        sim.RemoveVcpu(y);     // pCPU 1
        Assert.Equal(1, policy.AssignedPcpu(only1));
        var r = sim.Run(TimeSpan.FromMilliseconds(5));
        foreach (var v in new[] { late, only1, any, any2 })
            Assert.Equal(5 * Ms, r.Vcpu(v).CpuNs);
    }

    [Fact]
    public void SoftAffinityIsPreferredAtPlacement()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 4);
        var d = sim.AddDomain("d");
        var v = sim.AddVcpu(d, Workload.CpuBound, soft: CpuMask.Parse("2-3"));
        Assert.Equal(2, policy.AssignedPcpu(v));
        var w = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("0-2"), soft: CpuMask.Parse("2"));
        Assert.Equal(0, policy.AssignedPcpu(w)); // soft pCPU taken: any in hard
    }

    [Fact]
    public void AffinityChangeMovesTheVcpuOnlyThen()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 4);
        var d = sim.AddDomain("d");
        var v = sim.AddVcpu(d, Workload.CpuBound);
        var waiting = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("0"));
        Assert.Equal(0, policy.AssignedPcpu(v));
        sim.Run(TimeSpan.FromMilliseconds(1));
        sim.SetAffinity(v, CpuMask.Parse("2"), CpuMask.All);
        Assert.Equal(2, policy.AssignedPcpu(v));
        Assert.Equal(2, v.Processor);
        Assert.Equal(0, policy.AssignedPcpu(waiting));
        Assert.Equal(0, waiting.Processor);
        var r = sim.Run(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, r.Migrations);
        Assert.Equal(2 * Ms, r.Vcpu(v).CpuNs);
        Assert.Equal(Ms, r.Vcpu(waiting).CpuNs);
    }

    [Fact]
    public void BlockedVcpuKeepsItsPcpuWhichIdles()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 1);
        var d = sim.AddDomain("d");
        var io = sim.AddVcpu(d, Workload.IoLike(Ms, 3 * Ms));
        var other = sim.AddVcpu(d, Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromMilliseconds(40));
        Assert.Equal(10 * Ms, r.Vcpu(io).CpuNs);
        Assert.Equal(30 * Ms, r.Vcpu(io).BlockedNs);
        Assert.Equal(0, r.Vcpu(other).CpuNs);
        Assert.Equal(30 * Ms, r.IdleNs);
        Assert.Equal(new[] { other }, policy.WaitQueue);
    }

    [Fact]
    public void RemovingAPcpuThatWouldStrandAVcpuIsRefused()
    {
        var policy = new NullScheduler();
        var sim = new Simulator(policy, pcpus: 2);
        var d = sim.AddDomain("d");
        sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("1"));
        var free = sim.AddVcpu(d, Workload.CpuBound);
        Assert.False(policy.CanRemovePcpu(1));
        Assert.Throws<InvalidOperationException>(() => sim.RemovePcpu(1));
        Assert.True(policy.CanRemovePcpu(0));
        sim.RemovePcpu(0);
        Assert.Equal(new[] { free }, policy.WaitQueue);
        Assert.Equal(-1, free.Processor);
        sim.AddPcpu(0);
        Assert.Equal(0, free.Processor);
    }

    [Fact]
    public void RunstateAccountingSumsToElapsedTime()
    {
        var sim = new Simulator(new NullScheduler(), pcpus: 3, seed: 3);
        var d = sim.AddDomain("d");
        var vs = new[]
        {
            sim.AddVcpu(d, Workload.CpuBound),
            sim.AddVcpu(d, Workload.Burst(2 * Ms, 3 * Ms)),
            sim.AddVcpu(d, Workload.Random(Ms / 3, Ms / 2)),
            sim.AddVcpu(d, Workload.Yielding(Ms / 7)),
            sim.AddVcpu(d, Workload.IoLike(Ms, Ms), online: false),
        };
        sim.At(TimeSpan.FromMilliseconds(15), s => s.SetOnline(vs[4], true));
        sim.At(TimeSpan.FromMilliseconds(25), s => s.SetOnline(vs[1], false));
        var r = sim.Run(TimeSpan.FromMilliseconds(50));
        foreach (var v in vs)
        {
            var vr = r.Vcpu(v);
            Assert.Equal(50 * Ms, vr.CpuNs + vr.RunnableNs + vr.BlockedNs + vr.OfflineNs);
            Assert.Equal(vr.CpuNs, v.RunningNs(sim.Now));
        }
        Assert.Equal(50 * Ms, r.Vcpu(vs[0]).CpuNs);
        Assert.Equal(10 * Ms, r.Vcpu(vs[1]).CpuNs);           // on 0-2, 5-7 … 20-22; offline from 25
        Assert.Equal(25 * Ms, r.Vcpu(vs[1]).OfflineNs);
        Assert.Equal(15 * Ms, r.Vcpu(vs[4]).OfflineNs);
        Assert.Equal(35 * Ms, r.Vcpu(vs[4]).RunnableNs);    // 3 pCPUs taken: it waits behind vs[3]
        Assert.Equal(25 * Ms, r.Vcpu(vs[3]).CpuNs);         // got vs[1]'s pCPU when it went offline
        Assert.Equal(r.BusyNs, r.Vcpus.Sum(v => v.CpuNs));
    }
}

public class NullSchedulerAllocationTests
{
    [Fact]
    public void ScheduleWakeSleepDoNotAllocate()
    {
        var policy = new NullScheduler();
        var tickle = CpuMask.None;
        for (int p = 0; p < 64; p++) policy.AddPcpu(p, 0, ref tickle);
        var d = new SchedDomain(1, "d");
        var vs = new List<SchedVcpu>();
        for (int i = 0; i < 1000; i++)
        {
            var v = new SchedVcpu(d, i);
            v.SetState(VcpuRunstate.Runnable, 0);
            policy.InsertVcpu(v, 0, ref tickle);
            vs.Add(v);
        }
        void Cycle(long now)
        {
            for (int i = 0; i < 64; i++)
            {
                var v = vs[i];
                v.SetState(VcpuRunstate.Blocked, now);
                policy.Sleep(v, now, ref tickle);
                policy.Schedule(i, now, null, ref tickle);
                v.SetState(VcpuRunstate.Runnable, now);
                policy.Wake(v, now, ref tickle);
                policy.Schedule(i, now, null, ref tickle);
            }
        }
        Cycle(1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 2; k < 100; k++) Cycle(k);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
