namespace XenSharp.Scheduling;

/// <summary>
/// One credit2 runqueue (Xen's struct csched2_runqueue_data): the pCPUs sharing it, the runnable
/// vCPUs waiting in it ordered by credit (highest first; equal credits in arrival order), and the
/// list of every vCPU assigned to it (credit resets walk that list).
/// </summary>
internal sealed class Credit2Runqueue(int id, long key)
{
    public readonly int Id = id;
    public readonly long Key = key;
    public CpuMask Active;
    public int NrCpus;
    /// <summary>pCPUs of this runqueue running a vCPU.</summary>
    public int Running;
    public int MaxWeight = 1;
    public int PickBias;

    public Credit2Vcpu? Head, Tail;
    public int Queued;

    public Credit2Vcpu? SvcHead;
    public int SvcCount;

    /// <summary>Instantaneous load: runnable vCPUs queued or running here (Xen's rqd->load).</summary>
    public int Load => Queued + Running;

    public void Insert(Credit2Vcpu svc)
    {
        // Walk from the tail: insert after the last vCPU whose credit is ≥ svc's.
        var after = Tail;
        while (after != null && after.Credit < svc.Credit) after = after.RqPrev;
        svc.RqPrev = after;
        svc.RqNext = after == null ? Head : after.RqNext;
        if (svc.RqNext != null) svc.RqNext.RqPrev = svc; else Tail = svc;
        if (after != null) after.RqNext = svc; else Head = svc;
        svc.OnRunq = true;
        Queued++;
    }

    public void Remove(Credit2Vcpu svc)
    {
        if (svc.RqPrev != null) svc.RqPrev.RqNext = svc.RqNext; else Head = svc.RqNext;
        if (svc.RqNext != null) svc.RqNext.RqPrev = svc.RqPrev; else Tail = svc.RqPrev;
        svc.RqPrev = svc.RqNext = null;
        svc.OnRunq = false;
        Queued--;
    }

    public void Assign(Credit2Vcpu svc)
    {
        svc.Rq = this;
        svc.SvcPrev = null;
        svc.SvcNext = SvcHead;
        if (SvcHead != null) SvcHead.SvcPrev = svc;
        SvcHead = svc;
        SvcCount++;
        if (svc.Weight > MaxWeight) MaxWeight = svc.Weight;
    }

    public void Deassign(Credit2Vcpu svc)
    {
        if (svc.SvcPrev != null) svc.SvcPrev.SvcNext = svc.SvcNext; else SvcHead = svc.SvcNext;
        if (svc.SvcNext != null) svc.SvcNext.SvcPrev = svc.SvcPrev;
        svc.SvcPrev = svc.SvcNext = null;
        svc.Rq = null;
        SvcCount--;
        if (svc.Weight == MaxWeight) RecomputeMaxWeight();
    }

    public void RecomputeMaxWeight()
    {
        int max = 1;
        for (var s = SvcHead; s != null; s = s.SvcNext) if (s.Weight > max) max = s.Weight;
        MaxWeight = max;
    }

    public override string ToString() => $"rq{Id}[{Active}]";
}
