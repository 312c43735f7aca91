namespace XenSharp.Scheduling;

/// <summary>Xen's RUNSTATE_* (public/vcpu.h).</summary>
public enum VcpuRunstate
{
    /// <summary>On a pCPU right now.</summary>
    Running = 0,
    /// <summary>Wants to run, waiting for a pCPU.</summary>
    Runnable = 1,
    /// <summary>Waiting for an event (SCHEDOP_block, HLT, paused by itself).</summary>
    Blocked = 2,
    /// <summary>Not schedulable: down, paused by the toolstack, not yet started.</summary>
    Offline = 3,
}

/// <summary>
/// A vCPU as the scheduler sees it. The mechanism (real pCPU threads or the simulator) owns
/// <see cref="State"/>, <see cref="Processor"/> and the runstate times and updates them through
/// <see cref="SetState"/>; policies only read them. Affinity is changed through
/// <see cref="ISchedulerPolicy.SetAffinity"/>.
/// </summary>
public sealed class SchedVcpu
{
    private CpuMask _hard = CpuMask.All;
    private CpuMask _soft = CpuMask.All;
    private readonly long[] _stateNs = new long[4];

    public SchedVcpu(SchedDomain domain, int vcpuId, long now = 0)
    {
        Domain = domain ?? throw new ArgumentNullException(nameof(domain));
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuId);
        VcpuId = vcpuId;
        StateEntered = now;
        domain.AddVcpu(this);
    }

    public SchedDomain Domain { get; }

    /// <summary>vCPU number inside its domain.</summary>
    public int VcpuId { get; }

    /// <summary>pCPUs this vCPU may run on (the policy must never run it elsewhere).</summary>
    public ref readonly CpuMask HardAffinity => ref _hard;

    /// <summary>pCPUs this vCPU prefers (a hint).</summary>
    public ref readonly CpuMask SoftAffinity => ref _soft;

    public VcpuRunstate State { get; private set; } = VcpuRunstate.Offline;

    /// <summary>Time the current <see cref="State"/> was entered.</summary>
    public long StateEntered { get; private set; }

    /// <summary>True for Running and Runnable.</summary>
    public bool IsRunnable => State is VcpuRunstate.Running or VcpuRunstate.Runnable;

    /// <summary>pCPU the vCPU is on right now (its state may already be Blocked while the pCPU is
    /// rescheduling it away), or -1.</summary>
    public int Processor { get; set; } = -1;

    /// <summary>pCPU it last ran on, or -1 if it never ran.</summary>
    public int LastProcessor { get; set; } = -1;

    /// <summary>Scratch slot for the policy (Xen's unit->priv).</summary>
    public object? PolicyData { get; set; }

    /// <summary>The mechanism's object for this vCPU (the hypervisor's vCPU); policies never touch it.</summary>
    public object? Owner { get; set; }

    /// <summary>Simulator's index for this vCPU (-1 = not in a simulator).</summary>
    internal int SimIndex = -1;

    /// <summary>Mechanism use: moves to <paramref name="state"/> at <paramref name="now"/>, charging the
    /// time since the last change to the old state.</summary>
    public void SetState(VcpuRunstate state, long now)
    {
        if (now < StateEntered)
            throw new ArgumentOutOfRangeException(nameof(now), now, $"time went backwards for {this}: state entered at {StateEntered}");
        _stateNs[(int)State] += now - StateEntered;
        State = state;
        StateEntered = now;
    }

    /// <summary>Total ns spent in <paramref name="state"/> up to <paramref name="now"/> (vcpu_runstate_info.time[]).</summary>
    public long TimeIn(VcpuRunstate state, long now)
        => _stateNs[(int)state] + (State == state ? Math.Max(0, now - StateEntered) : 0);

    public long RunningNs(long now) => TimeIn(VcpuRunstate.Running, now);
    public long RunnableNs(long now) => TimeIn(VcpuRunstate.Runnable, now);
    public long BlockedNs(long now) => TimeIn(VcpuRunstate.Blocked, now);
    public long OfflineNs(long now) => TimeIn(VcpuRunstate.Offline, now);

    /// <summary>Mechanism/policy use (via <see cref="ISchedulerPolicy.SetAffinity"/>): stores new masks.
    /// Throws if the hard mask is empty.</summary>
    public void SetAffinityMasks(in CpuMask hard, in CpuMask soft)
    {
        if (hard.IsEmpty) throw new ArgumentException($"hard affinity of {this} must not be empty", nameof(hard));
        _hard = hard;
        _soft = soft;
    }

    public override string ToString() => $"d{Domain.Id}v{VcpuId}";
}
