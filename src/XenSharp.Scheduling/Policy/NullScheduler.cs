namespace XenSharp.Scheduling;

// The null scheduler (Xen's sched=null, xen/common/sched/null.c), re-implemented.
//
// Idea: no time sharing at all. Each vCPU is statically assigned to one pCPU, which runs only
// that vCPU; when it blocks, the pCPU idles. Meant for static partitioning (embedded, NFV,
// one vCPU per pCPU) where scheduling overhead and jitter must be zero.
//
// Invariants:
//  - a pCPU has at most one assigned vCPU, and an assigned vCPU's hard affinity contains its pCPU;
//  - an assigned vCPU never migrates: it keeps its pCPU while blocked, and loses it only when it
//    goes Offline, is removed, its pCPU is removed, or an affinity change excludes that pCPU;
//  - a vCPU that is not Offline is either assigned or in the wait queue (never both);
//    Offline vCPUs are neither;
//  - slices are infinite: Schedule is only called on blocks, wakes (tickles) and yields.
// Placement: a free pCPU in hard ∩ soft affinity, else in hard affinity (its last pCPU first).
// Wait queue: FIFO. When a pCPU becomes free (vCPU removed/offline, pCPU added, affinity change)
// it takes the first waiter whose soft affinity contains it (only vCPUs whose soft affinity
// actually restricts their hard affinity count in this pass), else the first waiter whose hard
// affinity contains it — as Xen does. With default (all) soft affinity this is plain FIFO order.
// Knobs: none (per-domain weight/cap are accepted and ignored).
public sealed class NullScheduler : ISchedulerPolicy
{
    private sealed class NullVcpu(SchedVcpu v)
    {
        public readonly SchedVcpu V = v;
        public int Pcpu = -1;
        public bool Waiting;
        public NullVcpu? Prev, Next;
    }

    private readonly NullVcpu?[] _assigned = new NullVcpu?[CpuMask.MaxCpus];
    private readonly List<NullVcpu> _all = new();
    private CpuMask _online;
    private CpuMask _free;
    private NullVcpu? _waitHead, _waitTail;
    private int _waitCount;

    public string Name => "null";
    public long NextTimerAt => long.MaxValue;

    /// <summary>pCPU the vCPU is assigned to, or -1 (waiting, offline or unknown).</summary>
    public int AssignedPcpu(SchedVcpu v) => v.PolicyData is NullVcpu nv ? nv.Pcpu : -1;

    /// <summary>vCPU assigned to the pCPU, or null.</summary>
    public SchedVcpu? AssignedVcpu(int pcpu) => (uint)pcpu < CpuMask.MaxCpus ? _assigned[pcpu]?.V : null;

    /// <summary>The wait queue, head first (diagnostics; allocates).</summary>
    public IReadOnlyList<SchedVcpu> WaitQueue
    {
        get
        {
            var l = new List<SchedVcpu>(_waitCount);
            for (var n = _waitHead; n != null; n = n.Next) l.Add(n.V);
            return l;
        }
    }

    public void AddPcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        if (_online.Contains(pcpu)) throw new InvalidOperationException($"null: pCPU {pcpu} is already added");
        _online.Set(pcpu);
        _free.Set(pcpu);
        AssignFromWaitq(pcpu, ref tickle);
    }

    public bool CanRemovePcpu(int pcpu)
    {
        if (!_online.Contains(pcpu)) return false;
        var rest = _online;
        rest.Clear(pcpu);
        foreach (var nv in _all)
            if (!nv.V.HardAffinity.Intersects(rest)) return false;
        return true;
    }

    public void RemovePcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        if (!_online.Contains(pcpu)) throw new InvalidOperationException($"null: pCPU {pcpu} is not in this scheduler");
        if (!CanRemovePcpu(pcpu))
            throw new InvalidOperationException($"null: removing pCPU {pcpu} would leave a vCPU with no pCPU in its hard affinity");
        _online.Clear(pcpu);
        _free.Clear(pcpu);
        var nv = _assigned[pcpu];
        if (nv != null)
        {
            _assigned[pcpu] = null;
            nv.Pcpu = -1;
            Place(nv, ref tickle);
        }
    }

    public void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        if (v.PolicyData != null) throw new InvalidOperationException($"null: {v} is already inserted in a scheduler");
        var nv = new NullVcpu(v);
        v.PolicyData = nv;
        _all.Add(nv);
        if (v.State != VcpuRunstate.Offline) Place(nv, ref tickle);
    }

    public void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var nv = Get(v);
        if (v.Processor != -1) throw new InvalidOperationException($"null: {v} is still running on pCPU {v.Processor}; deschedule it before removing");
        Detach(nv, ref tickle);
        _all.Remove(nv);
        v.PolicyData = null;
    }

    public void Sleep(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var nv = Get(v);
        // Blocked vCPUs keep their pCPU (it idles); only going offline gives it up.
        if (v.State == VcpuRunstate.Offline) Detach(nv, ref tickle);
    }

    public void Wake(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var nv = Get(v);
        if (nv.Pcpu >= 0)
        {
            if (v.Processor != nv.Pcpu) tickle.Set(nv.Pcpu);
        }
        else if (nv.Waiting)
        {
            // Normally nothing is free for it; if something is (affinity race), let that pCPU look.
            var c = _free;
            c.And(v.HardAffinity);
            tickle.Or(c);
        }
        else Place(nv, ref tickle);
    }

    public void Yield(SchedVcpu v, long now) { }

    public ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle)
    {
        if (!_online.Contains(pcpu)) return ScheduleDecision.Idle;
        // prev was moved (affinity change) while running here: its new pCPU can take it now.
        if (prev?.PolicyData is NullVcpu pn && pn.Pcpu >= 0 && pn.Pcpu != pcpu && prev.IsRunnable)
            tickle.Set(pn.Pcpu);
        var nv = _assigned[pcpu];
        if (nv == null && _waitHead != null)
        {
            var dummy = default(CpuMask);
            AssignFromWaitq(pcpu, ref dummy);
            nv = _assigned[pcpu];
        }
        if (nv == null || !nv.V.IsRunnable) return ScheduleDecision.Idle;
        // Still on its previous pCPU (affinity change in flight): wait for that pCPU to let go.
        if (nv.V.Processor >= 0 && nv.V.Processor != pcpu) return ScheduleDecision.Idle;
        return new ScheduleDecision(nv.V, ScheduleDecision.Infinite);
    }

    public void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle)
    {
        var nv = Get(v);
        v.SetAffinityMasks(hard, soft);
        if (nv.Pcpu >= 0)
        {
            if (hard.Contains(nv.Pcpu)) return;
            int old = nv.Pcpu;
            Unassign(nv);
            AssignFromWaitq(old, ref tickle);
            if (v.Processor == old) tickle.Set(old);
            Place(nv, ref tickle);
        }
        else if (nv.Waiting)
        {
            int cpu = PickFree(v);
            if (cpu >= 0)
            {
                RemoveFromWaitq(nv);
                Assign(nv, cpu);
                tickle.Set(cpu);
            }
        }
    }

    public void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle) { }

    public void OnTimer(long now, ref CpuMask tickle) { }

    // ---- internals ----

    private static void CheckPcpu(int pcpu)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
    }

    private static NullVcpu Get(SchedVcpu v)
        => v.PolicyData as NullVcpu ?? throw new InvalidOperationException($"null: {v} is not inserted in this scheduler");

    private static bool HasSoftAffinity(SchedVcpu v)
        => v.SoftAffinity.Intersects(v.HardAffinity) && !v.HardAffinity.IsSubsetOf(v.SoftAffinity);

    private int PickFree(SchedVcpu v)
    {
        var c = _free;
        c.And(v.HardAffinity);
        if (c.IsEmpty) return -1;
        if (HasSoftAffinity(v))
        {
            var s = c;
            s.And(v.SoftAffinity);
            if (!s.IsEmpty) c = s;
        }
        return c.Contains(v.LastProcessor) ? v.LastProcessor : c.First();
    }

    private void Place(NullVcpu nv, ref CpuMask tickle)
    {
        int cpu = PickFree(nv.V);
        if (cpu >= 0)
        {
            Assign(nv, cpu);
            tickle.Set(cpu);
        }
        else AppendWaitq(nv);
    }

    private void Assign(NullVcpu nv, int cpu)
    {
        _assigned[cpu] = nv;
        nv.Pcpu = cpu;
        _free.Clear(cpu);
    }

    private void Unassign(NullVcpu nv)
    {
        int cpu = nv.Pcpu;
        _assigned[cpu] = null;
        nv.Pcpu = -1;
        if (_online.Contains(cpu)) _free.Set(cpu);
    }

    /// <summary>Takes nv off its pCPU or out of the wait queue; a freed pCPU serves the queue.</summary>
    private void Detach(NullVcpu nv, ref CpuMask tickle)
    {
        if (nv.Waiting) RemoveFromWaitq(nv);
        else if (nv.Pcpu >= 0)
        {
            int cpu = nv.Pcpu;
            Unassign(nv);
            AssignFromWaitq(cpu, ref tickle);
        }
    }

    private void AssignFromWaitq(int cpu, ref CpuMask tickle)
    {
        if (!_free.Contains(cpu)) return;
        for (int pass = 0; pass < 2; pass++)
        {
            for (var w = _waitHead; w != null; w = w.Next)
            {
                var v = w.V;
                if (!v.HardAffinity.Contains(cpu)) continue;
                if (pass == 0 && !(HasSoftAffinity(v) && v.SoftAffinity.Contains(cpu))) continue;
                RemoveFromWaitq(w);
                Assign(w, cpu);
                tickle.Set(cpu);
                return;
            }
        }
    }

    private void AppendWaitq(NullVcpu nv)
    {
        nv.Waiting = true;
        nv.Prev = _waitTail;
        nv.Next = null;
        if (_waitTail != null) _waitTail.Next = nv; else _waitHead = nv;
        _waitTail = nv;
        _waitCount++;
    }

    private void RemoveFromWaitq(NullVcpu nv)
    {
        if (nv.Prev != null) nv.Prev.Next = nv.Next; else _waitHead = nv.Next;
        if (nv.Next != null) nv.Next.Prev = nv.Prev; else _waitTail = nv.Prev;
        nv.Prev = nv.Next = null;
        nv.Waiting = false;
        _waitCount--;
    }
}
