namespace XenSharp.Scheduling;

/// <summary>credit2's per-vCPU data (Xen's struct csched2_unit). Intrusive list links, so queue
/// operations never allocate.</summary>
internal sealed class Credit2Vcpu(SchedVcpu v, Credit2Domain dom, Credit2Scheduler owner)
{
    public readonly SchedVcpu V = v;
    public readonly Credit2Domain Dom = dom;
    public readonly Credit2Scheduler Owner = owner;

    /// <summary>Runqueue it is assigned to (null only while the pool has no usable pCPU).</summary>
    public Credit2Runqueue? Rq;
    /// <summary>pCPU it is associated with (Xen's sched_unit_master): where it last ran or was placed.</summary>
    public int Cpu = -1;
    /// <summary>pCPU the policy is running it on, or -1.</summary>
    public int RunningOn = -1;

    public long Credit = Credit2Scheduler.CreditInit;
    /// <summary>Remainder of the last time → credit division (t2c), so short runs add up exactly.</summary>
    public long Residual;
    /// <summary>Time up to which credit (and budget) has been charged while running.</summary>
    public long StartTime;
    public int Weight = SchedDomain.DefaultWeight;

    /// <summary>pCPU tickled to pick this vCPU up (others leave it to that one), or -1.</summary>
    public int TickledCpu = -1;
    public bool Yielded;

    /// <summary>Budget grabbed from the domain pool (only meaningful when the domain is capped).</summary>
    public long Budget;
    public long BudgetQuota;
    /// <summary>Out of budget: not runnable for the policy until the domain's pool is replenished.</summary>
    public bool Parked;

    // Ordered runqueue (credit, descending).
    public bool OnRunq;
    public Credit2Vcpu? RqPrev, RqNext;
    // All vCPUs assigned to Rq.
    public Credit2Vcpu? SvcPrev, SvcNext;
    // Domain's parked list.
    public Credit2Vcpu? ParkPrev, ParkNext;

    public override string ToString() => V.ToString();
}
