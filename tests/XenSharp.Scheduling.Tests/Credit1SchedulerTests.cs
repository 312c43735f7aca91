using XenSharp.Scheduling.Simulation;
using Xunit.Abstractions;

namespace XenSharp.Scheduling.Tests;

public class Credit1SchedulerTests(ITestOutputHelper output)
{
    private const long Ms = 1_000_000;
    private const long Us = 1_000;

    [Fact]
    public void Weights256And512OnOnePcpuShareOneToTwo()
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 1);
        var a = sim.AddVcpu(sim.AddDomain("w256", weight: 256), Workload.CpuBound);
        var b = sim.AddVcpu(sim.AddDomain("w512", weight: 512), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        double ratio = (double)r.Vcpu(b).CpuNs / r.Vcpu(a).CpuNs;
        output.WriteLine($"credit 256:512 on 1 pCPU over 10 s: {r.Domain("w256").SharePercent:F2}% / {r.Domain("w512").SharePercent:F2}%, ratio {ratio:F4} (ideal 2), decisions {r.Decisions}");
        Assert.InRange(ratio, 1.94, 2.06);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void EqualWeightsShareEquallyAndEveryPcpuStaysBusy()
    {
        // 8 CPU hogs on 4 pCPUs, all started on pCPU 0's runqueue: stealing spreads them.
        var sim = new Simulator(new CreditScheduler(), pcpus: 4);
        var vs = new List<SchedVcpu>();
        for (int i = 0; i < 8; i++) vs.Add(sim.AddVcpu(sim.AddDomain($"d{i}"), Workload.CpuBound));
        var r = sim.Run(TimeSpan.FromSeconds(10));
        var utils = vs.Select(v => r.Vcpu(v).UtilizationPercent).ToList();
        output.WriteLine($"8 hogs on 4 pCPUs: util min {utils.Min():F2}% max {utils.Max():F2}% idle {r.IdleNs} ns migrations {r.Migrations}");
        Assert.Equal(0, r.IdleNs);
        foreach (var u in utils) Assert.InRange(u, 45, 55);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cap25KeepsTheDomainBetween23And26Percent(bool withCompetitor)
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 1);
        var capped = sim.AddDomain("capped");
        var v = sim.AddVcpu(capped, Workload.CpuBound);
        sim.AdjustDomain(capped, cap: 25);
        if (withCompetitor) sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        double util = r.Vcpu(v).UtilizationPercent;
        output.WriteLine($"cap 25 ({(withCompetitor ? "with" : "without")} a competing hog): {util:F2}% of a pCPU");
        Assert.InRange(util, 23, 26);
        if (!withCompetitor) Assert.True(r.IdleNs > 7 * 1_000_000_000L); // the pCPU idles rather than exceed the cap
        else Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void CapOnATwoVcpuDomainIsForTheWholeDomain()
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 4);
        var d = sim.AddDomain("capped");
        var v0 = sim.AddVcpu(d, Workload.CpuBound);
        var v1 = sim.AddVcpu(d, Workload.CpuBound);
        sim.AdjustDomain(d, cap: 100);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine($"cap 100 on 2 vCPUs: domain {r.Domain("capped").UtilizationPercent:F2}% ({r.Vcpu(v0).UtilizationPercent:F2}% + {r.Vcpu(v1).UtilizationPercent:F2}%)");
        Assert.InRange(r.Domain("capped").UtilizationPercent, 92, 104);
    }

    [Fact]
    public void WakeBoostLetsAnIoVcpuPreemptACpuHogPromptly()
    {
        var policy = new CreditScheduler();
        var sim = new Simulator(policy, pcpus: 1);
        var hog = sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound);
        var io = sim.AddVcpu(sim.AddDomain("io"), Workload.IoLike(200 * Us, 5 * Ms));
        long blockedAt = -1, maxWait = 0, sumWait = 0, wakes = 0;
        bool sawBoost = false;
        sim.Decided += dec =>
        {
            if (ReferenceEquals(dec.Next, io) && !ReferenceEquals(dec.Prev, io) && blockedAt >= 0)
            {
                long wait = dec.Now - (blockedAt + 5 * Ms);
                maxWait = Math.Max(maxWait, wait);
                sumWait += wait;
                wakes++;
                sawBoost |= policy.Priority(io) == CreditPriority.Boost;
                Assert.Same(hog, dec.Prev); // it preempted the hog (which had run > ratelimit or reached it)
            }
            if (ReferenceEquals(dec.Prev, io) && io.State == VcpuRunstate.Blocked) blockedAt = dec.Now;
        };
        var r = sim.Run(TimeSpan.FromSeconds(10));
        double ioUtil = r.Vcpu(io).UtilizationPercent;
        output.WriteLine($"io vCPU vs hog: {wakes} wakes, wake-to-run mean {sumWait / Math.Max(1, wakes) / 1000.0:F1} us max {maxWait / 1000.0:F1} us (ratelimit {policy.RatelimitUs} us); io util {ioUtil:F2}% (demand {100.0 * 200 / 5200:F2}%)");
        Assert.True(wakes > 1500);
        Assert.True(sawBoost);
        Assert.True(maxWait <= policy.RatelimitUs * Us, $"max wake-to-run {maxWait} ns");
        Assert.InRange(ioUtil, 3.7, 3.9);
    }

    [Fact]
    public void WithoutRatelimitTheBoostedVcpuRunsAtOnce()
    {
        var policy = new CreditScheduler();
        policy.SetParameters(tsliceMs: 30, ratelimitUs: 0);
        var sim = new Simulator(policy, pcpus: 1);
        sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound);
        var io = sim.AddVcpu(sim.AddDomain("io"), Workload.IoLike(200 * Us, 5 * Ms));
        var r = sim.Run(TimeSpan.FromSeconds(2));
        output.WriteLine($"ratelimit 0: io runnable (waiting) time {r.Vcpu(io).RunnableNs} ns over {r.Vcpu(io).CpuNs / (200 * Us)} runs");
        // Only its first 30 ms slice wait: inserted (not woken) while the hog ran, so not boosted.
        // After that, every wake is boosted and preempts the hog at once.
        Assert.Equal(30 * Ms, r.Vcpu(io).RunnableNs);
    }

    [Fact]
    public void HardAffinityIsNeverViolatedWithRandomWakesAndAffinityChanges()
    {
        const int pcpus = 8;
        var sim = new Simulator(new CreditScheduler(), pcpus, seed: 2024);
        var rnd = new Random(99);
        var vs = new List<SchedVcpu>();
        CpuMask RandomMask()
        {
            var m = CpuMask.None;
            while (m.IsEmpty) for (int c = 0; c < pcpus; c++) if (rnd.Next(3) == 0) m.Set(c);
            return m;
        }
        for (int i = 0; i < 48; i++)
        {
            var d = sim.AddDomain($"d{i}", weight: 64 + rnd.Next(1024));
            var w = (i % 4) switch
            {
                0 => Workload.CpuBound,
                1 => Workload.Random(300 * Us, 2 * Ms),
                2 => Workload.Random(2 * Ms, 500 * Us),
                _ => Workload.Yielding(700 * Us),
            };
            vs.Add(sim.AddVcpu(d, w, hard: RandomMask(), soft: RandomMask()));
        }
        for (int t = 1; t < 200; t++)
        {
            var v = vs[rnd.Next(vs.Count)];
            var hard = RandomMask();
            var soft = RandomMask();
            sim.At(TimeSpan.FromMilliseconds(t * 100), s => s.SetAffinity(v, hard, soft));
        }
        long decisions = 0;
        sim.Decided += dec =>
        {
            decisions++;
            if (dec.Next is { } n) Assert.True(n.HardAffinity.Contains(dec.Pcpu), $"{n} on {dec.Pcpu} outside {n.HardAffinity}");
        };
        var r = sim.Run(TimeSpan.FromSeconds(20)); // the simulator checks every decision as well
        output.WriteLine($"48 vCPUs / 8 pCPUs, random affinities and wakes, 20 s: {decisions} decisions, {r.Migrations} migrations, idle {100.0 * r.IdleNs / (r.IdleNs + r.BusyNs):F2}%");
        Assert.True(decisions > 100_000);
        foreach (var v in vs) Assert.True(r.Vcpu(v).CpuNs > 0, $"{v} never ran");
    }

    [Fact]
    public void SoftAffinityIsPreferredWhenThereIsRoom()
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 4, seed: 5);
        var d = sim.AddDomain("d");
        var v = sim.AddVcpu(d, Workload.Random(Ms, Ms), soft: CpuMask.Parse("2"));
        sim.AddVcpu(sim.AddDomain("other"), Workload.Random(Ms, 3 * Ms));
        long onSoft = 0, elsewhere = 0;
        sim.Decided += dec =>
        {
            if (ReferenceEquals(dec.Next, v) && !ReferenceEquals(dec.Prev, v)) { if (dec.Pcpu == 2) onSoft++; else elsewhere++; }
        };
        sim.Run(TimeSpan.FromSeconds(2));
        output.WriteLine($"soft affinity 2: {onSoft} runs on pCPU 2, {elsewhere} elsewhere");
        Assert.True(onSoft > 10 * Math.Max(1, elsewhere));
    }

    [Fact]
    public void YieldingVcpuLetsTheOtherRun()
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 1);
        var y = sim.AddVcpu(sim.AddDomain("yield"), Workload.Yielding(100 * Us));
        var hog = sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(3));
        output.WriteLine($"yielding vs hog: {r.Vcpu(y).UtilizationPercent:F2}% / {r.Vcpu(hog).UtilizationPercent:F2}%");
        Assert.True(r.Vcpu(hog).UtilizationPercent > r.Vcpu(y).UtilizationPercent);
    }

    [Fact]
    public void TsliceAndRatelimitKnobs()
    {
        foreach (var (ts, perSecond) in new[] { (30, 33), (10, 100) })
        {
            var policy = new CreditScheduler();
            policy.SetParameters(ts, 1000);
            Assert.Equal(ts, policy.TsliceMs);
            Assert.Equal(10 * ts, policy.CreditsPerTslice);
            var sim = new Simulator(policy, pcpus: 1);
            var a = sim.AddVcpu(sim.AddDomain("a"), Workload.CpuBound);
            sim.AddVcpu(sim.AddDomain("b"), Workload.CpuBound);
            var r = sim.Run(TimeSpan.FromSeconds(3));
            output.WriteLine($"tslice {ts} ms: {r.Vcpu(a).Runs} runs of a in 3 s, decisions {r.Decisions}");
            Assert.InRange(r.Decisions, 3 * perSecond - 5, 3 * perSecond + 5);
        }
        var p = new CreditScheduler();
        Assert.Equal(30, p.TsliceMs);
        Assert.Equal(1000, p.RatelimitUs);
        Assert.Contains("1..1000", Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameters(0, 1000)).Message);
        Assert.Contains("100..500000", Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameters(30, 50)).Message);
        Assert.Contains("must not exceed the time slice", Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameters(1, 2000)).Message);
        p.SetParameters(5, 0);
        Assert.Equal(0, p.RatelimitUs);
    }

    [Fact]
    public void WeightChangeTakesEffect()
    {
        var sim = new Simulator(new CreditScheduler(), pcpus: 1);
        var da = sim.AddDomain("a");
        var a = sim.AddVcpu(da, Workload.CpuBound);
        var b = sim.AddVcpu(sim.AddDomain("b"), Workload.CpuBound);
        var r1 = sim.Run(TimeSpan.FromSeconds(5));
        long a1 = r1.Vcpu(a).CpuNs, b1 = r1.Vcpu(b).CpuNs;
        sim.AdjustDomain(da, weight: 768);
        var r2 = sim.Run(TimeSpan.FromSeconds(10));
        double ratio = (double)(r2.Vcpu(a).CpuNs - a1) / (r2.Vcpu(b).CpuNs - b1);
        output.WriteLine($"before: {(double)a1 / b1:F3}, after weight 768:256: {ratio:F3}");
        Assert.InRange((double)a1 / b1, 0.95, 1.05);
        Assert.InRange(ratio, 2.85, 3.15);
    }

    [Fact]
    public void PcpuRemoveAndAddMoveTheWork()
    {
        var policy = new CreditScheduler();
        var sim = new Simulator(policy, pcpus: 3);
        var vs = Enumerable.Range(0, 3).Select(i => sim.AddVcpu(sim.AddDomain($"d{i}"), Workload.CpuBound)).ToList();
        var pinned = sim.AddVcpu(sim.AddDomain("pinned"), Workload.CpuBound, hard: CpuMask.Parse("2"));
        Assert.False(policy.CanRemovePcpu(2));
        Assert.Throws<InvalidOperationException>(() => sim.RemovePcpu(2));
        sim.At(TimeSpan.FromSeconds(1), s => s.RemovePcpu(0));
        sim.At(TimeSpan.FromSeconds(2), s => s.AddPcpu(0));
        var r = sim.Run(TimeSpan.FromSeconds(3));
        Assert.Equal(0, r.IdleNs);
        Assert.True(r.Vcpu(pinned).CpuNs > 0);
        foreach (var v in vs) Assert.True(r.Vcpu(v).CpuNs > 500 * Ms);
    }
}

public class Credit1AllocationTests
{
    [Fact]
    public void ScheduleWakeSleepTimerDoNotAllocate()
    {
        var policy = new CreditScheduler();
        var tickle = CpuMask.None;
        for (int p = 0; p < 64; p++) policy.AddPcpu(p, 0, ref tickle);
        var vs = new List<SchedVcpu>();
        for (int i = 0; i < 1000; i++)
        {
            var v = new SchedVcpu(new SchedDomain(i + 1, $"d{i}") { Weight = 100 + i }, 0);
            v.SetState(VcpuRunstate.Runnable, 0);
            policy.InsertVcpu(v, 0, ref tickle);
            vs.Add(v);
        }
        long now = 1;
        var running = new SchedVcpu?[64];
        void Cycle()
        {
            for (int i = 0; i < 64; i++)
            {
                now += 50_000;
                var d = policy.Schedule(i, now, running[i], ref tickle);
                if (running[i] is { } old && !ReferenceEquals(old, d.Next)) { old.Processor = -1; old.SetState(VcpuRunstate.Runnable, now); }
                if (d.Next is { } n && !ReferenceEquals(n, running[i])) { n.Processor = i; n.LastProcessor = i; n.SetState(VcpuRunstate.Running, now); }
                running[i] = d.Next;
                if (running[i] is { } cur && i % 3 == 0)
                {
                    cur.SetState(VcpuRunstate.Blocked, now);
                    policy.Sleep(cur, now, ref tickle);
                    d = policy.Schedule(i, now, cur, ref tickle);
                    cur.Processor = -1;
                    if (d.Next is { } n2) { n2.Processor = i; n2.LastProcessor = i; n2.SetState(VcpuRunstate.Running, now); }
                    running[i] = d.Next;
                    cur.SetState(VcpuRunstate.Runnable, now);
                    policy.Wake(cur, now, ref tickle);
                }
                if (policy.NextTimerAt <= now) policy.OnTimer(now, ref tickle);
                tickle.ClearAll();
            }
        }
        for (int k = 0; k < 50; k++) Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 200; k++) Cycle();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
