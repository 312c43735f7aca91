using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Time;
using XenSharp.Scheduling;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// The scheduling mechanism: runs vCPUs on pCPUs as a policy (<see cref="ISchedulerPolicy"/>,
/// pure logic) decides, the way Xen's schedule.c drives its schedulers.
///
/// <para><b>Model.</b> pCPU <i>p</i> is host CPU <i>p</i>. Every vCPU keeps its own host thread
/// (KVM wants a vCPU's ioctls from one thread), but that thread enters the guest only while it
/// holds a pCPU the policy granted it, and it pins itself to that host CPU first — so hard
/// affinity is real, and at most one vCPU runs per pCPU. There is no scheduler thread:
/// decisions are made, under one lock, by whichever thread caused them — a vCPU blocking,
/// yielding or preempted runs Schedule for its own pCPU; a vCPU waking runs the policy's Wake
/// and Schedule for the idle pCPUs it tickles (often granting itself, with no thread switch);
/// the timer thread runs slice expiries and the policy's timer.</para>
///
/// <para><b>Preemption.</b> A slice that expires, or a tickle of a busy pCPU, sets the running
/// vCPU's reschedule flag and kicks it out of KVM_RUN; at its next exit its thread calls
/// <see cref="Reschedule"/>. A vCPU that loses its pCPU waits for a new grant
/// (<see cref="Vcpu"/>'s grant event), then re-pins itself when the pCPU differs.</para>
///
/// <para><b>Runstates</b> are the policy model's (<see cref="SchedVcpu"/>): running while it holds
/// a pCPU, runnable while it waits for one, blocked while it waits for an event, offline
/// before start and after stop — exposed to guests by VCPUOP_get_runstate_info and to xl.</para>
///
/// Nothing here allocates after start-up: decisions, tickles and timers reuse their objects.
/// </summary>
public sealed partial class VcpuScheduler : IDisposable
{
    private sealed class Pcpu(int index)
    {
        public readonly int Index = index;
        public volatile Vcpu? Running;
        public VcpuTimer? SliceTimer;
    }

    private readonly object _lock = new();
    private readonly Pcpu[] _pcpus;
    private readonly VcpuTimer _policyTimer;
    private CpuMask _tickle;
    private long _decisions;

    public ISchedulerPolicy Policy { get; }

    /// <summary>Number of pCPUs (host CPUs 0..Count-1).</summary>
    public int PcpuCount => _pcpus.Length;

    /// <summary>Scheduling decisions made so far.</summary>
    public long Decisions => Interlocked.Read(ref _decisions);

    public VcpuScheduler(ISchedulerPolicy policy, int pcpus, TimerQueue timers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pcpus, 1);
        Policy = policy;
        _pcpus = new Pcpu[pcpus];
        _policyTimer = new VcpuTimer(timers, OnPolicyTimer, expireUnderLock: false);
        long now = HostClock.NowNs();
        lock (_lock)
        {
            for (int p = 0; p < pcpus; p++)
            {
                var pc = new Pcpu(p);
                int index = p;
                pc.SliceTimer = new VcpuTimer(timers, () => OnSliceExpired(index), expireUnderLock: false);
                _pcpus[p] = pc;
                policy.AddPcpu(p, now, ref _tickle);
            }
            ProcessTickles(now); // each new pCPU decides once (idle), as the policy asked
        }
    }

    /// <summary>The pCPU a vCPU runs on now, -1 when none.</summary>
    public int ProcessorOf(Vcpu v) => v.Sched?.Processor ?? -1;

    // ------------------------------------------------------------------ vCPU life

    /// <summary>A vCPU comes online (its thread starts): inserted runnable; the caller then waits for a grant.</summary>
    public void Insert(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            Policy.InsertVcpu(s, now, ref _tickle); // offline: the policy learns of it
            s.SetState(VcpuRunstate.Runnable, now);
            Policy.Wake(s, now, ref _tickle);       // then it comes online like a wake
            ProcessTickles(now);
        }
    }

    /// <summary>The vCPU's thread ends (offline, domain stopping): releases its pCPU and leaves the policy.</summary>
    public void Remove(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            if (s.State != VcpuRunstate.Offline)
            {
                s.SetState(VcpuRunstate.Offline, now);
                Policy.Sleep(s, now, ref _tickle);
            }
            if (s.Processor >= 0) ScheduleLocked(s.Processor, now);
            Policy.RemoveVcpu(s, now, ref _tickle);
            ProcessTickles(now);
        }
    }

    /// <summary>The running vCPU waits for an event (HLT, SCHEDOP_block/poll, pause): its pCPU goes to someone else.</summary>
    public void Block(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            if (s.State == VcpuRunstate.Blocked) return;
            s.SetState(VcpuRunstate.Blocked, now);
            Policy.Sleep(s, now, ref _tickle);
            if (s.Processor >= 0) ScheduleLocked(s.Processor, now);
            ProcessTickles(now);
        }
    }

    /// <summary>The blocked vCPU's thread was woken: runnable again; the caller then waits for a grant.</summary>
    public void Wake(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            if (s.State != VcpuRunstate.Blocked) return;
            s.SetState(VcpuRunstate.Runnable, now);
            Policy.Wake(s, now, ref _tickle);
            ProcessTickles(now);
        }
    }

    /// <summary>SCHEDOP_yield from a running vCPU.</summary>
    public void Yield(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            if (s.Processor < 0) return;
            Policy.Yield(s, now);
            ScheduleLocked(s.Processor, now);
            ProcessTickles(now);
        }
    }

    /// <summary>The running vCPU saw its reschedule flag (slice over, or its pCPU was tickled).</summary>
    public void Reschedule(Vcpu v)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            var s = v.Sched!;
            if (s.Processor < 0) return;
            ScheduleLocked(s.Processor, now);
            ProcessTickles(now);
        }
    }

    /// <summary>Hard/soft affinity change (xl vcpu-pin).</summary>
    public void SetAffinity(Vcpu v, in CpuMask hard, in CpuMask soft)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            Policy.SetAffinity(v.Sched!, hard, soft, now, ref _tickle);
            ProcessTickles(now);
        }
    }

    /// <summary>A domain's weight or cap changed.</summary>
    public void AdjustDomain(SchedDomain d)
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            Policy.AdjustDomain(d, now, ref _tickle);
            ProcessTickles(now);
        }
    }

    /// <summary>Runs <paramref name="action"/> on the policy under the scheduler's lock (policy knobs).</summary>
    public T WithPolicy<T>(Func<ISchedulerPolicy, T> action)
    {
        lock (_lock) return action(Policy);
    }

    // ------------------------------------------------------------------ decisions

    /// <summary>do_schedule on pCPU <paramref name="p"/>: ask the policy, move vCPUs on and off, arm the slice.</summary>
    private void ScheduleLocked(int p, long now)
    {
        var pc = _pcpus[p];
        var prev = pc.Running;
        var decision = Policy.Schedule(p, now, prev?.Sched, ref _tickle);
        _decisions++;
        var next = decision.Next is { } n ? (Vcpu)n.Owner! : null;
        if (prev is not null && prev != next)
        {
            var ps = prev.Sched!;
            ps.Processor = -1;
            if (ps.State == VcpuRunstate.Running) ps.SetState(VcpuRunstate.Runnable, now);
            pc.Running = null;
            prev.RevokePcpu();
        }
        if (next is not null && next != prev)
        {
            var ns = next.Sched!;
            ns.SetState(VcpuRunstate.Running, now);
            ns.Processor = p;
            ns.LastProcessor = p;
            pc.Running = next;
            next.GrantPcpu(p);
        }
        if (decision.SliceNs == ScheduleDecision.Infinite || next is null) pc.SliceTimer!.Stop();
        else pc.SliceTimer!.Set(now + decision.SliceNs);
        ArmPolicyTimer();
    }

    /// <summary>Runs the tickles the policy asked for: idle pCPUs decide now, busy ones are kicked.</summary>
    private void ProcessTickles(long now)
    {
        for (int round = 0; round < 64 && !_tickle.IsEmpty; round++)
        {
            var tickled = _tickle;
            _tickle.ClearAll();
            foreach (int p in tickled)
            {
                if ((uint)p >= (uint)_pcpus.Length) continue;
                if (_pcpus[p].Running is { } running) running.RequestReschedule();
                else ScheduleLocked(p, now);
            }
        }
        _tickle.ClearAll();
        ArmPolicyTimer();
    }

    private void OnSliceExpired(int p)
    {
        lock (_lock)
        {
            var pc = _pcpus[p];
            if (pc.Running is { } running) running.RequestReschedule();
            else
            {
                long now = HostClock.NowNs();
                ScheduleLocked(p, now);
                ProcessTickles(now);
            }
        }
    }


    private void ArmPolicyTimer()
    {
        long at = Policy.NextTimerAt;
        if (at == long.MaxValue) _policyTimer.Stop();
        else if (!_policyTimer.IsArmed || _policyTimer.Deadline != at) _policyTimer.Set(at);
    }

    private void OnPolicyTimer()
    {
        lock (_lock)
        {
            long now = HostClock.NowNs();
            if (now >= Policy.NextTimerAt) Policy.OnTimer(now, ref _tickle);
            ProcessTickles(now);
        }
    }

    /// <summary>Pins the calling thread to host CPU <paramref name="cpu"/> (best effort: a host without that CPU keeps the thread where it is).</summary>
    internal static void PinCurrentThread(int cpu)
    {
        Span<ulong> mask = stackalloc ulong[16];
        mask.Clear();
        if ((uint)cpu >= 16 * 64) return;
        mask[cpu / 64] = 1UL << (cpu % 64);
        unsafe
        {
            fixed (ulong* m = mask) _ = Native.sched_setaffinity(0, (nuint)(mask.Length * 8), m);
        }
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", SetLastError = true)]
        public static partial int sched_setaffinity(int pid, nuint size, ulong* mask);
    }

    public void Dispose()
    {
        _policyTimer.Stop();
        foreach (var pc in _pcpus) pc.SliceTimer?.Stop();
    }
}
