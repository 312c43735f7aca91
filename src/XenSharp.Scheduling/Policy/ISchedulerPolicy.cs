namespace XenSharp.Scheduling;

/// <summary>What a pCPU runs next, and for how long at most.</summary>
/// <param name="Next">vCPU to run, or null to idle.</param>
/// <param name="SliceNs">Relative time after which the mechanism calls Schedule on this pCPU again
/// (&gt; 0), or <see cref="Infinite"/> to wait for a block, yield or tickle.</param>
public readonly record struct ScheduleDecision(SchedVcpu? Next, long SliceNs)
{
    public const long Infinite = long.MaxValue;

    public static ScheduleDecision Idle => new(null, Infinite);
}

/// <summary>
/// A scheduling policy (Xen's struct scheduler ops), pure logic: no threads, no clocks —
/// every call passes the time <c>now</c> in ns (virtual or real, monotonic).
/// All calls on one instance are serialised by the caller (one lock per policy / cpupool).
///
/// Contract with the mechanism (the real pCPU threads and the simulator behave the same):
/// <list type="bullet">
/// <item>The mechanism owns <see cref="SchedVcpu.State"/>/<see cref="SchedVcpu.Processor"/>: it sets
/// the new state <i>before</i> calling Sleep (Blocked or Offline) or Wake (Runnable).</item>
/// <item>It calls <see cref="Schedule"/> on a pCPU when: the slice returned last time expires; the
/// running vCPU blocked/went offline (after Sleep) or yielded (after Yield); the pCPU is tickled.
/// <c>prev</c> is the vCPU that was on the pCPU (null if idle), already in its new state.
/// The policy charges prev for the time since its previous decision on that pCPU, and if it does not
/// pick prev again and prev is still runnable, keeps it queued. The decision takes effect at once:
/// prev is off the pCPU when Schedule returns, so another pCPU may pick it immediately.</item>
/// <item>Schedule must return null or a vCPU that is runnable, inserted, not running on another pCPU,
/// and whose hard affinity contains the pCPU.</item>
/// <item>A <c>tickle</c> mask is an output: the policy sets the pCPUs that should call Schedule
/// soon (the mechanism runs them at the same instant, after the current call returns). Tickles
/// are requests, not preemptions: what happens is what that pCPU's Schedule decides. The mask
/// passed in may already have bits set; never clear bits.</item>
/// <item>No allocation in Schedule, Sleep, Wake, Yield, OnTimer.</item>
/// <item>Global parameters (ratelimit, tick…) are policy-specific typed methods, not part of this interface.</item>
/// </list>
/// </summary>
public interface ISchedulerPolicy
{
    /// <summary>Short name as Xen's sched= option: "null", "credit2", "credit".</summary>
    string Name { get; }

    /// <summary>Adds a pCPU (init_pdata/switch_sched). Waiting vCPUs may be placed on it.</summary>
    void AddPcpu(int pcpu, long now, ref CpuMask tickle);

    /// <summary>True if removing <paramref name="pcpu"/> leaves every inserted vCPU at least one
    /// pCPU of its hard affinity.</summary>
    bool CanRemovePcpu(int pcpu);

    /// <summary>Removes a pCPU (deinit_pdata). Throws <see cref="InvalidOperationException"/> if
    /// <see cref="CanRemovePcpu"/> is false. Whatever ran there is treated as preempted and still
    /// runnable: the policy re-queues it elsewhere; the mechanism then takes it off the pCPU without
    /// calling Schedule there.</summary>
    void RemovePcpu(int pcpu, long now, ref CpuMask tickle);

    /// <summary>Adds a vCPU (insert_unit). Usually Offline at this point; if it is Runnable the
    /// policy treats it as woken. Its domain is known to the policy from then on.</summary>
    void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle);

    /// <summary>Removes a vCPU (remove_unit). Precondition: it is not running
    /// (<see cref="SchedVcpu.Processor"/> == -1).</summary>
    void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle);

    /// <summary>v stopped being runnable (state already Blocked or Offline). If it is running, the
    /// mechanism calls Schedule on its pCPU right after (no need to tickle it); the tickle mask is for
    /// other pCPUs that may now have work (e.g. a pCPU freed by a vCPU going offline).</summary>
    void Sleep(SchedVcpu v, long now, ref CpuMask tickle);

    /// <summary>v became runnable (state already Runnable); set the pCPUs to tickle.</summary>
    void Wake(SchedVcpu v, long now, ref CpuMask tickle);

    /// <summary>The running v yields (SCHEDOP_yield); Schedule on its pCPU follows.</summary>
    void Yield(SchedVcpu v, long now);

    /// <summary>do_schedule: pick what <paramref name="pcpu"/> runs next (see the contract above).</summary>
    ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle);

    /// <summary>Hard/soft affinity change (the policy stores them with
    /// <see cref="SchedVcpu.SetAffinityMasks"/>). If v is running outside its new hard affinity the
    /// policy tickles its pCPU.</summary>
    void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle);

    /// <summary>The domain's parameters (<see cref="SchedDomain.Weight"/>, <see cref="SchedDomain.Cap"/>)
    /// changed (adjust, XEN_DOMCTL_SCHEDOP_putinfo).</summary>
    void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle);

    /// <summary>Absolute time of the policy's next global timer (accounting tick, budget
    /// replenishment), or <see cref="long.MaxValue"/> for none. Read after every call.</summary>
    long NextTimerAt { get; }

    /// <summary>Called once <c>now &gt;= NextTimerAt</c>.</summary>
    void OnTimer(long now, ref CpuMask tickle);
}
