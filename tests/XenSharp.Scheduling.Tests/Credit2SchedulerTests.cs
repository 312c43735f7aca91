using Xunit.Abstractions;
using XenSharp.Scheduling.Simulation;

namespace XenSharp.Scheduling.Tests;

public class Credit2SchedulerTests(ITestOutputHelper output)
{
    private const long Us = 1_000;
    private const long Ms = 1_000_000;

    [Fact]
    public void Weights256And512ShareOnePcpuOneToTwo()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 1);
        var a = sim.AddVcpu(sim.AddDomain("a", weight: 256), Workload.CpuBound);
        var b = sim.AddVcpu(sim.AddDomain("b", weight: 512), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        double ratio = (double)r.Vcpu(b).CpuNs / r.Vcpu(a).CpuNs;
        output.WriteLine($"b/a = {ratio:F4}, a={r.Domain("a").SharePercent:F3}% b={r.Domain("b").SharePercent:F3}%");
        Assert.InRange(ratio, 2 * 0.99, 2 * 1.01);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void FourDomainsWeighted1To1To2To4()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 1);
        int[] weights = [256, 256, 512, 1024];
        var vs = weights.Select((w, i) => sim.AddVcpu(sim.AddDomain("d" + i, weight: w), Workload.CpuBound)).ToArray();
        var r = sim.Run(TimeSpan.FromSeconds(10));
        output.WriteLine(r.ToString());
        double total = weights.Sum();
        for (int i = 0; i < vs.Length; i++)
        {
            double expected = 100.0 * weights[i] / total;
            double got = r.Vcpu(vs[i]).SharePercent;
            output.WriteLine($"d{i}: expected {expected:F3}% got {got:F3}% (rel err {(got / expected - 1) * 100:F3}%)");
            Assert.InRange(got / expected, 0.99, 1.01);
        }
    }

    [Fact]
    public void EqualWeightsShareManyPcpusEqually()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 4);
        var vs = Enumerable.Range(0, 6).Select(i => sim.AddVcpu(sim.AddDomain("d" + i), Workload.CpuBound)).ToArray();
        var r = sim.Run(TimeSpan.FromSeconds(5));
        output.WriteLine(r.ToString());
        foreach (var v in vs) Assert.InRange(r.Vcpu(v).UtilizationPercent, 66.67 * 0.99, 66.67 * 1.01);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void RatelimitStopsAWakingVcpuFromPreemptingAFreshlyStartedOne()
    {
        foreach (int ratelimitUs in new[] { 1000, 0 })
        {
            var policy = new Credit2Scheduler();
            policy.SetRatelimit(ratelimitUs);
            var sim = new Simulator(policy, pcpus: 1);
            var hog = sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound);
            var waker = sim.AddVcpu(sim.AddDomain("waker"), Workload.Idle); // runs 0 ns, blocks
            var picks = new List<(long Now, SchedVcpu? Next)>();
            sim.Decided += d => { if (d.Next != null && d.Next != d.Prev) picks.Add((d.Now, d.Next)); };
            // 50 ms: the waker preempts a hog that has run for ages, runs 0 ns; the hog restarts at 50 ms.
            sim.At(TimeSpan.FromMilliseconds(50), s => s.WakeVcpu(waker));
            // 50.3 ms: the hog has run 300 µs.
            sim.AtNs(50 * Ms + 300 * Us, s => s.WakeVcpu(waker));
            sim.Run(TimeSpan.FromMilliseconds(60));
            var wakerRuns = picks.Where(p => p.Next == waker).Select(p => p.Now).ToList();
            output.WriteLine($"ratelimit={ratelimitUs}us waker ran at: {string.Join(", ", wakerRuns)}");
            Assert.Equal(3, wakerRuns.Count);                 // once at start, then the two wakes
            Assert.Equal(50 * Ms, wakerRuns[1]);               // hog ran for ages: preempted at once
            long expected = ratelimitUs == 0 ? 50 * Ms + 300 * Us : 50 * Ms + ratelimitUs * Us;
            Assert.Equal(expected, wakerRuns[2]);              // not before the hog ran `ratelimit`
        }
    }

    [Fact]
    public void IoVcpuWithMoreCreditPreemptsAHogWithinRatelimit()
    {
        foreach (int hogs in new[] { 1, 2 })
        {
            var sim = new Simulator(new Credit2Scheduler(), pcpus: 1, seed: 5);
            for (int i = 0; i < hogs; i++) sim.AddVcpu(sim.AddDomain("hog" + i), Workload.CpuBound);
            var io = sim.AddVcpu(sim.AddDomain("io"), Workload.Random(meanRunNs: 50 * Us, meanBlockNs: 2 * Ms));
            // At t=0 everyone has the same credit, so nobody preempts anybody (ties never do);
            // measure once the io vCPU has built up its credit advantage.
            long lastRunnable = 0, maxWait = 0, episodes = 0, immediate = 0, waited = 0;
            sim.Decided += d =>
            {
                if (d.Next != io || d.Prev == io) return;
                long runnable = io.RunnableNs(d.Now);
                long wait = runnable - lastRunnable;
                lastRunnable = runnable;
                if (d.Now < 100 * Ms) return;
                episodes++;
                waited += wait;
                if (wait == 0) immediate++;
                maxWait = Math.Max(maxWait, wait);
            };
            var r = sim.Run(TimeSpan.FromSeconds(10));
            double meanWait = (double)waited / episodes;
            output.WriteLine($"hogs={hogs}: io runs={episodes} immediate={immediate} mean wait={meanWait / 1000:F1}us max wait={maxWait / 1000.0:F1}us io util={r.Vcpu(io).UtilizationPercent:F2}%");
            Assert.True(episodes > 3000, $"episodes {episodes}");
            Assert.True(maxWait <= 1000 * Us, $"max wake→run delay {maxWait} ns exceeds the 1 ms ratelimit");
        }
    }

    [Fact]
    public void LoadBalancingSpreadsFourHogsOverTwoRunqueues()
    {
        // 4 pCPUs, 2 sockets of 2 → 2 runqueues {0,1} {2,3}. All hogs start pinned to socket 0.
        var policy = new Credit2Scheduler(Credit2RunqueueArrangement.Socket, Credit2Topology.Uniform(threadsPerCore: 1, coresPerSocket: 2));
        var sim = new Simulator(policy, pcpus: 4);
        Assert.Equal(2, policy.RunqueueCount);
        var vs = Enumerable.Range(0, 4)
            .Select(i => sim.AddVcpu(sim.AddDomain("d" + i), Workload.CpuBound, hard: CpuMask.Parse("0-1")))
            .ToArray();
        var r0 = sim.Run(TimeSpan.FromMilliseconds(100));
        foreach (var v in vs) Assert.InRange(r0.Vcpu(v).UtilizationPercent, 45, 55);
        foreach (var v in vs) sim.SetAffinity(v, CpuMask.All, CpuMask.All);
        var r1 = sim.Run(TimeSpan.FromMilliseconds(100));
        var before = vs.Select(v => r1.Vcpu(v).CpuNs).ToArray();
        long migrationsBefore = r1.Migrations;
        var r2 = sim.Run(TimeSpan.FromSeconds(1));
        output.WriteLine(r2.ToString());
        for (int i = 0; i < vs.Length; i++)
        {
            double util = 100.0 * (r2.Vcpu(vs[i]).CpuNs - before[i]) / (1000 * Ms);
            output.WriteLine($"{vs[i]}: {util:F3}% of a pCPU over the last second, runqueue {policy.RunqueuePcpus(vs[i])}");
            Assert.Equal(100.0, util, 6);
        }
        Assert.Equal(2, vs.Count(v => policy.RunqueuePcpus(v) == CpuMask.Parse("2-3")));
        Assert.Equal(migrationsBefore, r2.Migrations); // settled: nothing moves any more
    }

    [Fact]
    public void SoftAffinityIsHonouredWhenItsPcpusAreFree()
    {
        foreach (var arrangement in new[] { Credit2RunqueueArrangement.Socket, Credit2RunqueueArrangement.Cpu })
        {
            var sim = new Simulator(new Credit2Scheduler(arrangement), pcpus: 4, seed: 9);
            SchedVcpu? io = null, hog = null;
            long onSoft = 0, offSoft = 0, hogOnSoft = 0, hogOff = 0;
            var who = new SchedVcpu?[4];
            var since = new long[4];
            void Flush(int p, long now)
            {
                if (who[p] == io) { if (p >= 2) onSoft += now - since[p]; else offSoft += now - since[p]; }
                if (who[p] == hog) { if (p == 3) hogOnSoft += now - since[p]; else hogOff += now - since[p]; }
            }
            sim.Decided += d => { Flush(d.Pcpu, d.Now); who[d.Pcpu] = d.Next; since[d.Pcpu] = d.Now; };
            var busy = sim.AddDomain("busy");
            for (int i = 0; i < 3; i++) sim.AddVcpu(busy, Workload.CpuBound, hard: CpuMask.Parse("0-1"));
            io = sim.AddVcpu(sim.AddDomain("io"), Workload.Random(200 * Us, 300 * Us), soft: CpuMask.Parse("2-3"));
            hog = sim.AddVcpu(sim.AddDomain("hog"), Workload.CpuBound, soft: CpuMask.Parse("3"));
            var r = sim.Run(TimeSpan.FromSeconds(2));
            for (int p = 0; p < 4; p++) Flush(p, sim.Now);
            double pct = 100.0 * onSoft / (onSoft + offSoft);
            double hogPct = 100.0 * hogOnSoft / (hogOnSoft + hogOff);
            output.WriteLine($"{arrangement}: io ran {onSoft} ns on its soft pCPUs 2-3, {offSoft} ns elsewhere ({pct:F3}%); hog {hogPct:F3}% on pCPU 3; decisions {r.Decisions}");
            Assert.Equal(onSoft + offSoft, r.Vcpu(io).CpuNs);
            Assert.Equal(100.0, pct, 6);
            Assert.Equal(100.0, hogPct, 6);
        }
    }

    [Fact]
    public void YieldLetsAnotherVcpuRun()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 1);
        var y = sim.AddVcpu(sim.AddDomain("y"), Workload.Yielding(100 * Us));
        var c = sim.AddVcpu(sim.AddDomain("c"), Workload.CpuBound);
        var r = sim.Run(TimeSpan.FromSeconds(1));
        output.WriteLine(r.ToString());
        Assert.True(r.Vcpu(c).CpuNs > r.Vcpu(y).CpuNs);
        Assert.Equal(0, r.IdleNs);
    }

    [Fact]
    public void AdjustDomainPicksUpWeightChanges()
    {
        var sim = new Simulator(new Credit2Scheduler(), pcpus: 1);
        var da = sim.AddDomain("a");
        var a = sim.AddVcpu(da, Workload.CpuBound);
        var b = sim.AddVcpu(sim.AddDomain("b"), Workload.CpuBound);
        var r1 = sim.Run(TimeSpan.FromSeconds(2));
        Assert.InRange((double)r1.Vcpu(a).CpuNs / r1.Vcpu(b).CpuNs, 0.99, 1.01);
        sim.AdjustDomain(da, weight: 768);
        long a0 = r1.Vcpu(a).CpuNs, b0 = r1.Vcpu(b).CpuNs;
        var r2 = sim.Run(TimeSpan.FromSeconds(4));
        double ratio = (double)(r2.Vcpu(a).CpuNs - a0) / (r2.Vcpu(b).CpuNs - b0);
        output.WriteLine($"after weight 768:256 → {ratio:F4}");
        Assert.InRange(ratio, 3 * 0.99, 3 * 1.01);
    }

    [Fact]
    public void RunqueuesFollowTheArrangement()
    {
        var topo = Credit2Topology.Uniform(threadsPerCore: 2, coresPerSocket: 2, socketsPerNode: 2); // 16 pCPUs: 8 cores, 4 sockets, 2 nodes
        int Count(Credit2RunqueueArrangement a)
        {
            var p = new Credit2Scheduler(a, topo);
            var t = CpuMask.None;
            for (int i = 0; i < 16; i++) p.AddPcpu(i, 0, ref t);
            return p.RunqueueCount;
        }
        Assert.Equal(16, Count(Credit2RunqueueArrangement.Cpu));
        Assert.Equal(8, Count(Credit2RunqueueArrangement.Core));
        Assert.Equal(4, Count(Credit2RunqueueArrangement.Socket));
        Assert.Equal(2, Count(Credit2RunqueueArrangement.Node));
        Assert.Equal(1, Count(Credit2RunqueueArrangement.All));
        Assert.Equal(1, new Simulator(new Credit2Scheduler(), pcpus: 16).Policy is Credit2Scheduler c ? c.RunqueueCount : -1);
    }

    [Fact]
    public void KnobsAreValidated()
    {
        var p = new Credit2Scheduler();
        Assert.Equal(1000, p.RatelimitUs);
        Assert.Equal(10 * Ms, p.CapPeriodNs);
        p.SetRatelimit(0);
        p.SetRatelimit(100);
        p.SetRatelimit(500_000);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => p.SetRatelimit(50));
        Assert.Contains("100..500000", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => p.SetRatelimit(500_001));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.CapPeriodNs = 999_999);
        p.CapPeriodNs = 20 * Ms;
        Assert.Equal(20 * Ms, p.CapPeriodNs);
        Assert.Throws<ArgumentOutOfRangeException>(() => p.MigrateResistNs = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => p.BalancePeriodNs = 5);
    }

    [Fact]
    public void PcpuHotplugAndVcpuRemovalKeepEverythingRunning()
    {
        var policy = new Credit2Scheduler(Credit2RunqueueArrangement.Cpu);
        var sim = new Simulator(policy, pcpus: 4, seed: 2);
        var d = sim.AddDomain("d");
        var vs = new List<SchedVcpu>();
        for (int i = 0; i < 6; i++) vs.Add(sim.AddVcpu(d, i % 2 == 0 ? Workload.CpuBound : Workload.Random(300 * Us, 500 * Us)));
        var pinned = sim.AddVcpu(d, Workload.CpuBound, hard: CpuMask.Parse("3"));
        sim.At(TimeSpan.FromMilliseconds(20), s => s.RemovePcpu(1));
        sim.At(TimeSpan.FromMilliseconds(40), s => s.RemoveVcpu(vs[0]));
        sim.At(TimeSpan.FromMilliseconds(60), s => s.AddPcpu(1));
        sim.At(TimeSpan.FromMilliseconds(80), s => s.SetOnline(vs[2], false));
        var r = sim.Run(TimeSpan.FromMilliseconds(200));
        Assert.False(policy.CanRemovePcpu(3));
        foreach (var v in vs.Skip(1).Append(pinned))
        {
            var vr = r.Vcpu(v);
            Assert.Equal(r.ElapsedNs, vr.CpuNs + vr.RunnableNs + vr.BlockedNs + vr.OfflineNs);
            Assert.True(vr.CpuNs > 10 * Ms, $"{v} only got {vr.CpuNs} ns");
        }
        Assert.Equal(r.BusyNs, r.Vcpus.Sum(v => v.CpuNs));
    }
}
