namespace XenSharp.Scheduling.Tests;

public class Credit2AllocationTests
{
    [Theory]
    [InlineData(Credit2RunqueueArrangement.Socket)]
    [InlineData(Credit2RunqueueArrangement.Core)]
    public void ScheduleWakeSleepTimerDoNotAllocateWith1000VcpusOn64Pcpus(Credit2RunqueueArrangement arrangement)
    {
        var policy = new Credit2Scheduler(arrangement, Credit2Topology.Uniform(threadsPerCore: 2, coresPerSocket: 8));
        var tickle = CpuMask.None;
        for (int p = 0; p < 64; p++) policy.AddPcpu(p, 0, ref tickle);
        var doms = new SchedDomain[10];
        for (int i = 0; i < doms.Length; i++) doms[i] = new SchedDomain(i + 1, "d" + i) { Weight = 128 * (i + 1) };
        var vs = new List<SchedVcpu>();
        for (int i = 0; i < 1000; i++)
        {
            var v = new SchedVcpu(doms[i % doms.Length], i / doms.Length);
            if (i % 7 == 0) v.SetAffinityMasks(CpuMask.Range(i % 64, Math.Min(63, i % 64 + 3)), CpuMask.All);
            v.SetState(VcpuRunstate.Runnable, 0);
            policy.InsertVcpu(v, 0, ref tickle);
            vs.Add(v);
        }
        doms[3].Cap = 300;
        policy.AdjustDomain(doms[3], 0, ref tickle);
        var running = new SchedVcpu?[64];

        // A mechanism-like driver: every pCPU reschedules, some vCPUs block and wake, timers fire.
        void Decide(int p, long now)
        {
            var prev = running[p];
            var d = policy.Schedule(p, now, prev, ref tickle);
            if (prev != null && !ReferenceEquals(prev, d.Next)) { prev.Processor = -1; if (prev.State == VcpuRunstate.Running) prev.SetState(VcpuRunstate.Runnable, now); }
            if (d.Next is { } n && !ReferenceEquals(prev, n)) { n.SetState(VcpuRunstate.Running, now); n.Processor = p; n.LastProcessor = p; }
            running[p] = d.Next;
        }
        long t = 0;
        void Cycle()
        {
            for (int i = 0; i < 64; i++)
            {
                t += 50_000;
                if (policy.NextTimerAt <= t) policy.OnTimer(t, ref tickle);
                var r = running[i];
                if (r != null && (t / 50_000) % 3 == 0)
                {
                    r.SetState(VcpuRunstate.Blocked, t);
                    policy.Sleep(r, t, ref tickle);
                    Decide(i, t);
                    r.SetState(VcpuRunstate.Runnable, t);
                    policy.Wake(r, t, ref tickle);
                }
                else Decide(i, t);
                if (r != null && (t / 50_000) % 5 == 0) policy.Yield(r, t);
                foreach (int p in tickle) Decide(p, t);
                tickle.ClearAll();
            }
        }
        for (int k = 0; k < 20; k++) Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 200; k++) Cycle();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Contains(running, v => v != null);
    }
}
