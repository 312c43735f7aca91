namespace XenSharp.Scheduling;

/// <summary>credit2's per-domain data (Xen's struct csched2_dom): weight, and the cap's budget pool.</summary>
internal sealed class Credit2Domain(SchedDomain d, Credit2Scheduler owner)
{
    public readonly SchedDomain D = d;
    public readonly Credit2Scheduler Owner = owner;
    public int Weight = d.Weight;
    /// <summary>Cap in effect (percent of one pCPU, 0 = none).</summary>
    public int Cap;
    /// <summary>Number of this domain's vCPUs inserted in the policy.</summary>
    public int NrVcpus;

    /// <summary>Budget per period: cap% × period.</summary>
    public long TotBudget;
    /// <summary>What is left in the pool (may go negative after an overrun).</summary>
    public long Budget;
    public long NextRepl = long.MaxValue;
    public Credit2Vcpu? ParkedHead;

    public bool Capped => Cap != 0;

    public void AddParked(Credit2Vcpu svc)
    {
        svc.ParkPrev = null;
        svc.ParkNext = ParkedHead;
        if (ParkedHead != null) ParkedHead.ParkPrev = svc;
        ParkedHead = svc;
    }

    public void RemoveParked(Credit2Vcpu svc)
    {
        if (svc.ParkPrev != null) svc.ParkPrev.ParkNext = svc.ParkNext; else ParkedHead = svc.ParkNext;
        if (svc.ParkNext != null) svc.ParkNext.ParkPrev = svc.ParkPrev;
        svc.ParkPrev = svc.ParkNext = null;
    }
}
