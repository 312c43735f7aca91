namespace XenSharp.Scheduling;

// The credit2 scheduler (Xen's sched=credit2, xen/common/sched/credit2.c), re-implemented.
//
// Idea: proportional fair share by "burning" credit. Every vCPU starts an epoch with
// CreditInit (10 ms) of credit; running burns it at maxweight/weight credit per ns (the heaviest
// vCPU of the runqueue burns 1:1, a vCPU of half its weight twice as fast), so over an epoch CPU
// time is proportional to weight. A pCPU runs the runnable vCPU with the most credit. When the
// vCPU about to run (or the best waiting one) has no credit left (≤ 0), the epoch ends: every
// vCPU of the runqueue gets +CreditInit, clipped to CreditInit + 500 µs carry-over.
//
// Structure:
//  - runqueues group pCPUs by topology (Credit2RunqueueArrangement: cpu/core/socket/node/all,
//    default socket; the topology is a pCPU → (core, socket, node) map, default one socket);
//    each runqueue keeps its waiting vCPUs ordered by credit and its own max weight;
//  - wake (runq_tickle): an idle, not-yet-tickled pCPU in soft ∩ hard affinity, then in hard
//    affinity (the vCPU's own pCPU first, then cycling) — looked for in the vCPU's runqueue
//    first, then in the others (the vCPU then moves runqueue); otherwise the busy pCPU whose
//    running vCPU has the lowest credit is tickled if the woken one has more (Xen's tickle_score:
//    credit difference, minus migrate resistance 500 µs off the vCPU's pCPU, plus soft-affinity
//    bonuses). A pCPU whose vCPU ran less than ratelimit is not preempted; instead a policy timer
//    tickles it when its ratelimit expires (an addition to Xen: bounds wake → run latency).
//  - schedule (runq_candidate): prev keeps the pCPU if it ran < ratelimit and did not yield;
//    else the head of the runqueue (hard affinity allowing, not reserved for another tickled pCPU,
//    migrate resistance) runs if it has more credit than prev (any eligible one if prev yielded);
//    prev leaves a pCPU outside its soft affinity when an idle pCPU of its soft affinity exists.
//  - slice (csched2_runtime): until its credit falls to the best waiting vCPU's (or to 0),
//    converted back to time; at least MinTimer (500 µs) and the rest of the ratelimit, at most
//    MaxTimer (10 ms); and, for a capped vCPU, never past its budget.
//  - load balancing: load = runnable vCPUs (queued + running) of a runqueue. At each credit reset,
//    on the periodic balance timer, and when a pCPU is about to idle (pull), one waiting vCPU moves
//    from the busiest runqueue when that lowers the per-pCPU load imbalance (and when idling, any
//    waiting vCPU whose hard affinity allows this pCPU). Scans are bounded (BalanceScanLimit).
//  - caps (Cap% of one pCPU): the domain has a budget pool of cap% × CapPeriodNs, refilled every
//    period by the policy timer (never above one period's worth). A vCPU takes a quota
//    (pool / nr vCPUs, ≥ 500 µs) before it runs, burns it while running, and returns the rest when
//    it stops. A vCPU that finds the pool empty is parked (not runnable for the policy) until
//    replenishment.
//
// Invariants:
//  - a runnable, unparked vCPU is either running (RunningOn ≥ 0) or queued in its runqueue;
//    never both; blocked, offline and parked vCPUs are neither;
//  - a vCPU only runs on pCPUs of its hard affinity; its runqueue intersects its hard affinity;
//  - Schedule/Wake/Sleep/Yield/OnTimer never allocate (intrusive lists, pre-sized arrays).
//
// Knobs: SetRatelimit(µs) (sched_ratelimit_us: 0 = off, else 100..500000, default 1000),
// CapPeriodNs (credit2_cap_period_ms, default 10 ms), MigrateResistNs (sched_credit2_migrate_resist,
// default 500 µs), BalancePeriodNs (default 10 ms, 0 = only at resets/idling).
// Per domain: Weight (1..65535, default 256), Cap (0 = none).
// Not modelled: SMT-idle-core preference, load averages (EWMA) — balancing uses instantaneous load.
public sealed class Credit2Scheduler : ISchedulerPolicy
{
    /// <summary>CSCHED2_CREDIT_INIT: credit at the start of an epoch (ns of the heaviest vCPU's time).</summary>
    public const long CreditInit = 10_000_000;
    /// <summary>CSCHED2_CREDIT_MIN: credit never goes below this.</summary>
    public const long CreditMin = -CreditInit;
    /// <summary>CSCHED2_MIN_TIMER: shortest slice.</summary>
    public const long MinTimerNs = 500_000;
    /// <summary>CSCHED2_MAX_TIMER: longest slice.</summary>
    public const long MaxTimerNs = CreditInit;
    public const int DefaultRatelimitUs = 1000;
    public const int MinRatelimitUs = 100;
    public const int MaxRatelimitUs = 500_000;
    public const long DefaultCapPeriodNs = 10_000_000;
    /// <summary>How many waiting vCPUs a balancing pass looks at, at most.</summary>
    public const int BalanceScanLimit = 32;

    private const long IdleCredit = CreditMin - 1;
    private const long CarryoverMax = MinTimerNs;
    private const long MigrateCompensation = 50_000;
    private const long RatelimitTickleTolerance = 50_000;

    private readonly Credit2RunqueueArrangement _arrangement;
    private readonly Credit2Topology _topology;
    private readonly Credit2Runqueue?[] _rqOf = new Credit2Runqueue?[CpuMask.MaxCpus];
    private readonly Credit2Vcpu?[] _curr = new Credit2Vcpu?[CpuMask.MaxCpus];
    private readonly long[] _runStart = new long[CpuMask.MaxCpus];
    private readonly long[] _deferredTickle = new long[CpuMask.MaxCpus];
    private readonly List<Credit2Runqueue> _runqueues = new(8);
    private readonly List<Credit2Domain> _capped = new(16);
    private readonly List<Credit2Vcpu> _all = new(64);
    private CpuMask _online, _idle, _tickled, _deferred;
    private int _nextRqId;
    private int _ratelimitUs = DefaultRatelimitUs;
    private long _capPeriodNs = DefaultCapPeriodNs;
    private long _migrateResistNs = 500_000;
    private long _balancePeriodNs = 10_000_000;
    private long _nextBalance = long.MaxValue;
    private long _nextTimer = long.MaxValue;

    /// <summary>Xen's defaults: runqueues per socket, on a one-socket topology (so one runqueue).
    /// Used by <see cref="Pools.SchedulerFactory"/> for sched=credit2.</summary>
    public Credit2Scheduler() : this(Credit2RunqueueArrangement.Socket) { }

    /// <param name="arrangement">How pCPUs are grouped in runqueues (Xen default: socket).</param>
    /// <param name="topology">pCPU → (core, socket, node); default: one socket, one thread per core.</param>
    public Credit2Scheduler(Credit2RunqueueArrangement arrangement, Credit2Topology? topology = null)
    {
        if (!Enum.IsDefined(arrangement))
            throw new ArgumentOutOfRangeException(nameof(arrangement), arrangement, "runqueue arrangement must be cpu, core, socket, node or all");
        _arrangement = arrangement;
        _topology = topology ?? Credit2Topology.SingleSocket();
        Array.Fill(_deferredTickle, long.MaxValue);
    }

    public string Name => "credit2";
    public long NextTimerAt => _nextTimer;
    public Credit2RunqueueArrangement Arrangement => _arrangement;

    // ---------------- knobs ----------------

    /// <summary>sched_ratelimit_us: a vCPU that has run less than this is not preempted.</summary>
    public int RatelimitUs => _ratelimitUs;

    /// <summary>Sets sched_ratelimit_us: 0 disables, else <see cref="MinRatelimitUs"/>..<see cref="MaxRatelimitUs"/>
    /// (Xen's XEN_SYSCTL_SCHED_RATELIMIT_MIN/MAX).</summary>
    public void SetRatelimit(int us)
    {
        if (us != 0 && (us < MinRatelimitUs || us > MaxRatelimitUs))
            throw new ArgumentOutOfRangeException(nameof(us), us,
                $"credit2 ratelimit must be 0 (off) or {MinRatelimitUs}..{MaxRatelimitUs} µs (default {DefaultRatelimitUs})");
        _ratelimitUs = us;
    }

    /// <summary>credit2_cap_period_ms, in ns: the budget replenishment period of capped domains
    /// (1 ms..1 s, default 10 ms). A change applies to the budgets from the next replenishment.</summary>
    public long CapPeriodNs
    {
        get => _capPeriodNs;
        set
        {
            if (value < 1_000_000 || value > 1_000_000_000)
                throw new ArgumentOutOfRangeException(nameof(CapPeriodNs), value,
                    $"credit2 cap period must be 1 ms..1 s (1000000..1000000000 ns; default {DefaultCapPeriodNs})");
            _capPeriodNs = value;
            foreach (var dom in _capped) SetBudgetParameters(dom);
        }
    }

    /// <summary>sched_credit2_migrate_resist, in ns (0..<see cref="MinTimerNs"/>, default 500 µs): credit
    /// advantage a vCPU needs to be pulled onto a pCPU other than its own.</summary>
    public long MigrateResistNs
    {
        get => _migrateResistNs;
        set
        {
            if (value < 0 || value > MinTimerNs)
                throw new ArgumentOutOfRangeException(nameof(MigrateResistNs), value, $"credit2 migrate resistance must be 0..{MinTimerNs} ns (default 500000)");
            _migrateResistNs = value;
        }
    }

    /// <summary>Period of the load-balancing timer in ns (0 = balance only at credit resets and when a
    /// pCPU idles; else 1 ms..1 s; default 10 ms). Only armed with more than one runqueue.</summary>
    public long BalancePeriodNs
    {
        get => _balancePeriodNs;
        set
        {
            if (value != 0 && (value < 1_000_000 || value > 1_000_000_000))
                throw new ArgumentOutOfRangeException(nameof(BalancePeriodNs), value, "credit2 balance period must be 0 (off) or 1 ms..1 s in ns (default 10000000)");
            _balancePeriodNs = value;
            if (value == 0) _nextBalance = long.MaxValue;
        }
    }

    // ---------------- diagnostics ----------------

    /// <summary>Number of runqueues.</summary>
    public int RunqueueCount => _runqueues.Count;

    /// <summary>Id of the runqueue of a pCPU, or -1.</summary>
    public int RunqueueOf(int pcpu) => (uint)pcpu < CpuMask.MaxCpus && _rqOf[pcpu] is { } rq ? rq.Id : -1;

    /// <summary>pCPUs of the runqueue the vCPU is assigned to (empty if none).</summary>
    public CpuMask RunqueuePcpus(SchedVcpu v) => Get(v).Rq?.Active ?? CpuMask.None;

    /// <summary>Current credit of the vCPU, in ns.</summary>
    public long CreditOf(SchedVcpu v) => Get(v).Credit;

    /// <summary>True while the vCPU is parked for lack of budget.</summary>
    public bool IsParked(SchedVcpu v) => Get(v).Parked;

    /// <summary>Budget left in the domain's pool (ns), or null when not capped.</summary>
    public long? DomainBudget(SchedDomain d) => d.PolicyData is Credit2Domain dom && dom.Owner == this && dom.Capped ? dom.Budget : null;

    // ---------------- pCPUs ----------------

    public void AddPcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        if (_online.Contains(pcpu)) throw new InvalidOperationException($"credit2: pCPU {pcpu} is already added");
        long key = _topology.RunqueueKey(pcpu, _arrangement);
        Credit2Runqueue? rq = null;
        foreach (var r in _runqueues) if (r.Key == key) { rq = r; break; }
        if (rq == null)
        {
            rq = new Credit2Runqueue(_nextRqId++, key) { PickBias = pcpu };
            _runqueues.Add(rq);
        }
        rq.Active.Set(pcpu);
        rq.NrCpus++;
        _rqOf[pcpu] = rq;
        _curr[pcpu] = null;
        _online.Set(pcpu);
        _idle.Set(pcpu);
        _tickled.Clear(pcpu);
        // vCPUs that had nowhere to go can now be placed.
        foreach (var svc in _all)
        {
            if (svc.Rq != null || !svc.V.HardAffinity.Intersects(_online)) continue;
            MoveToRunqueue(svc, PickRunqueue(svc), -1);
            if (Queueable(svc)) { svc.Rq!.Insert(svc); RunqTickle(svc, now, ref tickle); }
        }
        ArmBalance(now);
        Tickle(pcpu, ref tickle);
    }

    public bool CanRemovePcpu(int pcpu)
    {
        if (!_online.Contains(pcpu)) return false;
        var rest = _online;
        rest.Clear(pcpu);
        foreach (var svc in _all)
            if (!svc.V.HardAffinity.Intersects(rest)) return false;
        return true;
    }

    public void RemovePcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        if (!_online.Contains(pcpu)) throw new InvalidOperationException($"credit2: pCPU {pcpu} is not in this scheduler");
        if (!CanRemovePcpu(pcpu))
            throw new InvalidOperationException($"credit2: removing pCPU {pcpu} would leave a vCPU with no pCPU in its hard affinity");
        var rq = _rqOf[pcpu]!;
        var cur = _curr[pcpu];
        if (cur != null)
        {
            Burn(cur, now);
            _curr[pcpu] = null;
            cur.RunningOn = -1;
            rq.Running--;
            if (cur.Dom.Capped) ReturnBudget(cur, now, ref tickle);
        }
        _online.Clear(pcpu);
        _idle.Clear(pcpu);
        _tickled.Clear(pcpu);
        _deferred.Clear(pcpu);
        _deferredTickle[pcpu] = long.MaxValue;
        rq.Active.Clear(pcpu);
        rq.NrCpus--;
        _rqOf[pcpu] = null;
        if (rq.NrCpus == 0) _runqueues.Remove(rq);
        // Everyone assigned to rq whose hard affinity no longer meets it moves (all of them if rq died).
        var s = rq.SvcHead;
        while (s != null)
        {
            var next = s.SvcNext;
            if (!s.V.HardAffinity.Intersects(rq.Active))
            {
                bool queued = s.OnRunq;
                if (queued) rq.Remove(s);
                MoveToRunqueue(s, PickRunqueue(s), -1);
                if (queued) { s.Rq!.Insert(s); RunqTickle(s, now, ref tickle); }
            }
            s = next;
        }
        if (cur != null && Queueable(cur))
        {
            if (cur.Rq == null || !cur.V.HardAffinity.Intersects(cur.Rq.Active)) MoveToRunqueue(cur, PickRunqueue(cur), -1);
            cur.Rq!.Insert(cur);
            RunqTickle(cur, now, ref tickle);
        }
        ArmBalance(now);
    }

    // ---------------- vCPUs ----------------

    public void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        if (v.PolicyData != null) throw new InvalidOperationException($"credit2: {v} is already inserted in a scheduler");
        var d = v.Domain;
        if (d.PolicyData is not Credit2Domain dom || dom.Owner != this)
        {
            dom = new Credit2Domain(d, this);
            d.PolicyData = dom;
        }
        var svc = new Credit2Vcpu(v, dom, this) { Weight = dom.Weight };
        v.PolicyData = svc;
        _all.Add(svc);
        dom.NrVcpus++;
        if (_online.Intersects(v.HardAffinity)) MoveToRunqueue(svc, PickRunqueue(svc), -1);
        if (d.Cap != dom.Cap) ApplyCap(dom, d.Cap, now, ref tickle);
        else if (dom.Capped) SetBudgetParameters(dom);
        if (v.IsRunnable) Wake(v, now, ref tickle);
    }

    public void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var svc = Get(v);
        if (v.Processor != -1 || svc.RunningOn != -1)
            throw new InvalidOperationException($"credit2: {v} is still running on pCPU {Math.Max(v.Processor, svc.RunningOn)}; deschedule it before removing");
        if (svc.OnRunq) svc.Rq!.Remove(svc);
        if (svc.Parked) { svc.Dom.RemoveParked(svc); svc.Parked = false; }
        svc.Rq?.Deassign(svc);
        var dom = svc.Dom;
        if (dom.Capped) { dom.Budget += svc.Budget; svc.Budget = 0; }
        _all.Remove(svc);
        v.PolicyData = null;
        dom.NrVcpus--;
        if (dom.NrVcpus == 0)
        {
            _capped.Remove(dom);
            if (dom.D.PolicyData == dom) dom.D.PolicyData = null;
        }
        else if (dom.Capped) SetBudgetParameters(dom);
    }

    public void Sleep(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var svc = Get(v);
        // Running: the mechanism calls Schedule on its pCPU right after. Parked: stays on the
        // parked list and is skipped at replenishment if still not runnable.
        if (svc.RunningOn < 0 && svc.OnRunq) svc.Rq!.Remove(svc);
    }

    public void Wake(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var svc = Get(v);
        if (svc.RunningOn >= 0 || svc.OnRunq || svc.Parked || !v.IsRunnable) return;
        PlaceOnWake(svc);
        if (svc.Rq == null) return; // no usable pCPU yet: placed by AddPcpu
        svc.Rq.Insert(svc);
        RunqTickle(svc, now, ref tickle);
    }

    public void Yield(SchedVcpu v, long now) => Get(v).Yielded = true;

    public void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle)
    {
        var svc = Get(v);
        v.SetAffinityMasks(hard, soft);
        if (svc.RunningOn >= 0)
        {
            if (!hard.Contains(svc.RunningOn)) Tickle(svc.RunningOn, ref tickle);
            return;
        }
        bool fits = svc.Rq != null && hard.Intersects(svc.Rq.Active);
        if (svc.OnRunq)
        {
            if (!fits)
            {
                svc.Rq!.Remove(svc);
                MoveToRunqueue(svc, PickRunqueue(svc), -1);
                svc.Rq!.Insert(svc);
            }
            RunqTickle(svc, now, ref tickle);
        }
        else if (!fits && hard.Intersects(_online)) MoveToRunqueue(svc, PickRunqueue(svc), -1);
    }

    public void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle)
    {
        if (d.PolicyData is not Credit2Domain dom || dom.Owner != this) return; // no vCPU here yet
        if (d.Weight != dom.Weight)
        {
            dom.Weight = d.Weight;
            foreach (var v in d.Vcpus)
            {
                if (v.PolicyData is not Credit2Vcpu svc || svc.Owner != this) continue;
                if (svc.RunningOn >= 0) Burn(svc, now); // charge the past at the old weight
                svc.Weight = d.Weight;
                if (svc.Rq != null)
                {
                    if (svc.Weight > svc.Rq.MaxWeight) svc.Rq.MaxWeight = svc.Weight;
                    else svc.Rq.RecomputeMaxWeight();
                }
            }
        }
        if (d.Cap != dom.Cap) ApplyCap(dom, d.Cap, now, ref tickle);
    }

    // ---------------- timer ----------------

    public void OnTimer(long now, ref CpuMask tickle)
    {
        for (int i = 0; i < _capped.Count; i++)
        {
            var dom = _capped[i];
            if (dom.NextRepl <= now) Replenish(dom, now, ref tickle);
        }
        foreach (int p in _deferred)
        {
            if (_deferredTickle[p] > now) continue;
            _deferredTickle[p] = long.MaxValue;
            _deferred.Clear(p);
            if (_curr[p] != null) Tickle(p, ref tickle);
        }
        if (_nextBalance <= now)
        {
            _nextBalance = long.MaxValue;
            for (int i = 0; i < _runqueues.Count; i++)
                if (_runqueues[i].Queued > 0) Balance(_runqueues[i], now, ref tickle);
            ArmBalance(now);
        }
        RecomputeTimer();
    }

    // ---------------- schedule ----------------

    public ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle)
    {
        // The policy tracks what runs where itself (_curr, Xen's curr_on_cpu); prev is that vCPU.
        if (!_online.Contains(pcpu)) return ScheduleDecision.Idle;
        var rq = _rqOf[pcpu]!;
        _tickled.Clear(pcpu);
        if (_deferred.Contains(pcpu)) { _deferred.Clear(pcpu); _deferredTickle[pcpu] = long.MaxValue; }

        var scurr = _curr[pcpu];
        bool yield = false;
        bool scurrOk = false;
        if (scurr != null)
        {
            Burn(scurr, now);
            // Out of budget (capped): try to grab more; parks it if the pool is empty.
            if (scurr.Dom.Capped && scurr.Budget <= 0 && scurr.V.IsRunnable) GrabBudget(scurr);
            yield = scurr.Yielded;
            scurr.Yielded = false;
            scurrOk = scurr.V.IsRunnable && !scurr.Parked && scurr.V.HardAffinity.Contains(pcpu);
        }

        Credit2Vcpu? snext;
        long ratelimit = RatelimitNs;
        if (scurrOk && !yield && ratelimit > 0 && now - _runStart[pcpu] < ratelimit)
            snext = scurr; // ratelimit: keep it
        else
        {
            bool softAffPreempt = false;
            if (scurrOk && HasSoftAffinity(scurr!.V) && !scurr.V.SoftAffinity.Contains(pcpu))
            {
                var m = scurr.V.SoftAffinity & scurr.V.HardAffinity;
                m.And(rq.Active);
                m.And(_idle);
                m.AndNot(_tickled);
                softAffPreempt = !m.IsEmpty;
            }
            snext = scurrOk && !softAffPreempt ? scurr : null;
            snext = Candidate(rq, pcpu, snext, yield);
            if (snext == null && PullFromBusiest(rq, pcpu, now))
                snext = Candidate(rq, pcpu, null, false);
        }

        bool requeuePrev = scurr != null && snext != scurr && scurr.V.IsRunnable && !scurr.Parked;
        long inflight = 0;
        if (snext != null)
        {
            if (snext != scurr) rq.Remove(snext);
            _idle.Clear(pcpu);
            long top = rq.Head == null ? snext.Credit : Math.Max(snext.Credit, rq.Head.Credit);
            if (top <= 0)
            {
                ResetCredit(rq, now, snext, ref tickle);
                Balance(rq, now, ref tickle);
            }
            if (requeuePrev) inflight = scurr!.Credit;
            snext.StartTime = now;
            snext.TickledCpu = -1;
            if (snext.Cpu != pcpu)
            {
                snext.Credit += MigrateCompensation;
                snext.Cpu = pcpu;
            }
            if (snext != scurr)
            {
                if (scurr != null) { scurr.RunningOn = -1; rq.Running--; }
                _curr[pcpu] = snext;
                snext.RunningOn = pcpu;
                rq.Running++;
                _runStart[pcpu] = now;
            }
        }
        else
        {
            if (scurr != null) { scurr.RunningOn = -1; rq.Running--; }
            _curr[pcpu] = null;
            _idle.Set(pcpu);
        }

        // context_saved for prev: return unused budget, put it back in a runqueue.
        if (scurr != null && scurr != snext)
        {
            if (scurr.Dom.Capped && scurr.Budget > 0) ReturnBudget(scurr, now, ref tickle);
            if (requeuePrev)
            {
                if (scurr.Rq == null || !scurr.V.HardAffinity.Intersects(scurr.Rq.Active))
                    MoveToRunqueue(scurr, PickRunqueue(scurr), -1);
                scurr.Rq!.Insert(scurr);
                RunqTickle(scurr, now, ref tickle);
            }
        }

        if (snext == null) return ScheduleDecision.Idle;
        return new ScheduleDecision(snext.V, Runtime(rq, snext, snext == scurr, now, inflight, pcpu));
    }

    // ---------------- internals: credit ----------------

    private long RatelimitNs => _ratelimitUs * 1000L;

    /// <summary>burn_credits: charges the running vCPU for the time since StartTime.</summary>
    private static void Burn(Credit2Vcpu svc, long now)
    {
        long delta = now - svc.StartTime;
        if (delta <= 0) return;
        long maxWeight = svc.Rq?.MaxWeight ?? svc.Weight;
        long val = delta * maxWeight + svc.Residual;
        svc.Residual = val % svc.Weight;
        val /= svc.Weight;
        svc.Credit = Math.Max(svc.Credit - val, CreditMin);
        if (svc.Dom.Capped) svc.Budget -= delta;
        svc.StartTime = now;
    }

    /// <summary>reset_credit: a new epoch for every vCPU of the runqueue.</summary>
    private void ResetCredit(Credit2Runqueue rq, long now, Credit2Vcpu snext, ref CpuMask tickle)
    {
        long reset = CreditInit;
        if (snext.Credit <= CreditMin) reset += CreditInit;
        for (var s = rq.SvcHead; s != null; s = s.SvcNext)
        {
            if (s.RunningOn >= 0 && _curr[s.RunningOn] == s)
            {
                Burn(s, now);
                if (s.Dom.Capped && s.Budget <= 0) Tickle(s.RunningOn, ref tickle);
            }
            s.Credit = Math.Min(s.Credit + reset, CreditInit + CarryoverMax);
        }
        // Adding a constant and clipping are monotonic: the runqueue stays sorted.
    }

    /// <summary>runq_candidate's scan: the best waiting vCPU that beats <paramref name="snext"/>.</summary>
    private Credit2Vcpu? Candidate(Credit2Runqueue rq, int pcpu, Credit2Vcpu? snext, bool yield)
    {
        long cmp = snext?.Credit ?? IdleCredit;
        var svc = rq.Head;
        while (svc != null)
        {
            var next = svc.RqNext;
            if (!yield && svc.Credit <= cmp) break;
            if (!svc.V.IsRunnable || !svc.V.HardAffinity.Contains(pcpu)
                || (svc.V.Processor >= 0 && svc.V.Processor != pcpu)
                || (svc.TickledCpu >= 0 && svc.TickledCpu != pcpu && _tickled.Contains(svc.TickledCpu))
                || (svc.Cpu != pcpu && cmp + _migrateResistNs > svc.Credit))
            {
                svc = next;
                continue;
            }
            if (svc.Dom.Capped && !GrabBudget(svc)) { svc = next; continue; }
            return svc;
        }
        return snext;
    }

    /// <summary>csched2_runtime: how long snext runs before the next decision.</summary>
    private long Runtime(Credit2Runqueue rq, Credit2Vcpu snext, bool continuing, long now, long inflight, int pcpu)
    {
        long minTime = MinTimerNs;
        long ratelimit = RatelimitNs;
        if (ratelimit > 0)
        {
            long rl = continuing ? _runStart[pcpu] + ratelimit - now : ratelimit;
            if (rl > minTime) minTime = rl;
        }
        long rtCredit = snext.Credit;
        long swait = 0;
        if (rq.Head is { } head && head.Credit > 0) swait = head.Credit;
        if (swait < inflight) swait = inflight;
        if (swait > 0) rtCredit = snext.Credit - swait;
        long time = rtCredit > 0 ? rtCredit * snext.Weight / rq.MaxWeight : 0;
        if (snext.Dom.Capped && snext.Budget < time) time = snext.Budget;
        if (time < minTime) time = minTime;
        else if (time > MaxTimerNs) time = MaxTimerNs;
        // Never run a capped vCPU past its budget (Xen may overrun by up to the min slice).
        if (snext.Dom.Capped && snext.Budget < time) time = snext.Budget;
        return Math.Max(1, time);
    }

    // ---------------- internals: placement and tickling ----------------

    private void Tickle(int cpu, ref CpuMask tickle)
    {
        tickle.Set(cpu);
        _tickled.Set(cpu);
    }

    private static bool HasSoftAffinity(SchedVcpu v)
        => v.SoftAffinity.Intersects(v.HardAffinity) && !v.HardAffinity.IsSubsetOf(v.SoftAffinity);

    private static bool Queueable(Credit2Vcpu svc)
        => svc.V.IsRunnable && !svc.Parked && svc.RunningOn < 0 && !svc.OnRunq && svc.Rq != null;

    /// <summary>cpumask_test_or_cycle: <paramref name="cpu"/> if in the mask, else the next one cyclically.</summary>
    private static int TestOrCycle(int cpu, in CpuMask mask)
    {
        if (mask.Contains(cpu)) return cpu;
        int n = mask.Next(cpu);
        return n >= 0 ? n : mask.First();
    }

    /// <summary>An idle, untickled pCPU of <paramref name="rq"/> in <paramref name="allowed"/>, or -1.</summary>
    private int IdleIn(Credit2Runqueue rq, in CpuMask allowed, int prefer)
    {
        var m = rq.Active & _idle;
        m.AndNot(_tickled);
        m.And(allowed);
        return m.IsEmpty ? -1 : TestOrCycle(prefer, m);
    }

    /// <summary>res_pick-like choice for a vCPU that must (re)join a runqueue: the least loaded one
    /// meeting its soft ∩ hard affinity, else its hard affinity.</summary>
    private Credit2Runqueue? PickRunqueue(Credit2Vcpu svc)
    {
        var v = svc.V;
        bool soft = HasSoftAffinity(v);
        Credit2Runqueue? best = null, bestSoft = null;
        long bestLoad = long.MaxValue, bestSoftLoad = long.MaxValue;
        foreach (var rq in _runqueues)
        {
            if (!v.HardAffinity.Intersects(rq.Active)) continue;
            // Compare load per pCPU without division: load × 1024 / cpus.
            long load = (rq.Load - (rq == svc.Rq && svc.RunningOn >= 0 ? 1 : 0)) * 1024L / rq.NrCpus;
            if (load < bestLoad) { bestLoad = load; best = rq; }
            if (soft && load < bestSoftLoad && (v.SoftAffinity & v.HardAffinity).Intersects(rq.Active))
            {
                bestSoftLoad = load;
                bestSoft = rq;
            }
        }
        return bestSoft ?? best;
    }

    /// <summary>Assigns svc to <paramref name="target"/> (it must not be queued), choosing its pCPU
    /// there: <paramref name="cpu"/> if given, else cycling from the runqueue's pick bias.</summary>
    private static void MoveToRunqueue(Credit2Vcpu svc, Credit2Runqueue? target, int cpu)
    {
        if (target == null) return;
        if (svc.Rq != target)
        {
            svc.Rq?.Deassign(svc);
            target.Assign(svc);
            // Credit is relative to the runqueue's epoch; keep it within the valid range.
            svc.Credit = Math.Clamp(svc.Credit, CreditMin, CreditInit + CarryoverMax);
        }
        if (cpu < 0 || !target.Active.Contains(cpu) || !svc.V.HardAffinity.Contains(cpu))
        {
            var m = target.Active & svc.V.HardAffinity;
            if (m.IsEmpty) return;
            int n = m.Next(target.PickBias);
            cpu = n >= 0 ? n : m.First();
            target.PickBias = cpu;
        }
        svc.Cpu = cpu;
    }

    /// <summary>On wake: keep the vCPU's runqueue unless an idle pCPU of its soft (then hard) affinity
    /// is free only in another runqueue; a runqueue that no longer meets its hard affinity is left.</summary>
    private void PlaceOnWake(Credit2Vcpu svc)
    {
        var v = svc.V;
        var home = svc.Rq;
        if (home == null || !v.HardAffinity.Intersects(home.Active))
        {
            if (!v.HardAffinity.Intersects(_online)) return;
            home = PickRunqueue(svc);
            MoveToRunqueue(svc, home, -1);
            if (home == null) return;
        }
        var hard = v.HardAffinity;
        for (int step = 0; step < 2; step++)
        {
            var mask = hard;
            if (step == 0)
            {
                if (!HasSoftAffinity(v)) continue;
                mask.And(v.SoftAffinity);
            }
            if (IdleIn(home, mask, svc.Cpu) >= 0) return;
            foreach (var rq in _runqueues)
            {
                if (rq == home) continue;
                int cpu = IdleIn(rq, mask, svc.Cpu);
                if (cpu < 0) continue;
                MoveToRunqueue(svc, rq, cpu);
                return;
            }
        }
    }

    /// <summary>runq_tickle: which pCPU of svc's runqueue should pick it up.</summary>
    private void RunqTickle(Credit2Vcpu svc, long now, ref CpuMask tickle)
    {
        var rq = svc.Rq!;
        var v = svc.V;
        int cpu = svc.Cpu;
        var hard = v.HardAffinity & rq.Active;
        for (int step = 0; step < 2; step++)
        {
            var mask = hard;
            if (step == 0)
            {
                if (!HasSoftAffinity(v)) continue;
                mask.And(v.SoftAffinity);
            }
            mask.And(_idle);
            mask.AndNot(_tickled);
            if (!mask.IsEmpty)
            {
                int i = TestOrCycle(cpu, mask);
                Tickle(i, ref tickle);
                svc.TickledCpu = i;
                return;
            }
        }

        // Busy pCPUs: the one where svc has the best score (mostly: lowest-credit current vCPU).
        var busy = hard;
        busy.AndNot(_idle);
        busy.AndNot(_tickled);
        int ipid = -1;
        long max = 0;
        int deferCpu = -1;
        long deferAt = long.MaxValue;
        if (busy.Contains(cpu))
        {
            busy.Clear(cpu);
            long score = TickleScore(svc, cpu, now, ref deferCpu, ref deferAt);
            if (score > max)
            {
                max = score;
                ipid = cpu;
            }
        }
        if (ipid < 0 || !v.SoftAffinity.Contains(ipid))
        {
            foreach (int i in busy)
            {
                long score = TickleScore(svc, i, now, ref deferCpu, ref deferAt);
                if (score > max)
                {
                    max = score;
                    ipid = i;
                }
            }
        }
        if (ipid >= 0)
        {
            Tickle(ipid, ref tickle);
            svc.TickledCpu = ipid;
            return;
        }
        // Nobody preemptible now, but someone would be once its ratelimit expires: come back then.
        if (deferCpu >= 0 && deferAt < _deferredTickle[deferCpu])
        {
            _deferredTickle[deferCpu] = deferAt;
            _deferred.Set(deferCpu);
            if (deferAt < _nextTimer) _nextTimer = deferAt;
        }
    }

    /// <summary>tickle_score: how much svc deserves <paramref name="cpu"/> (≤ 0: not at all). A pCPU
    /// protected only by ratelimit is reported through deferCpu/deferAt (earliest expiry wins).</summary>
    private long TickleScore(Credit2Vcpu svc, int cpu, long now, ref int deferCpu, ref long deferAt)
    {
        var cur = _curr[cpu];
        if (cur == null) return -1;
        Burn(cur, now);
        long score = svc.Credit - cur.Credit;
        if (svc.Cpu != cpu) score -= _migrateResistNs;
        long ratelimit = RatelimitNs;
        if (ratelimit > RatelimitTickleTolerance && now - _runStart[cpu] <= ratelimit - RatelimitTickleTolerance)
        {
            if (score > 0)
            {
                long at = _runStart[cpu] + ratelimit;
                if (at < deferAt) { deferAt = at; deferCpu = cpu; }
            }
            return -1;
        }
        if (score > 0)
        {
            if (svc.V.SoftAffinity.Contains(cpu)) score += CreditInit;
            if (!cur.V.SoftAffinity.Contains(cpu)) score += CreditInit;
        }
        return score;
    }

    // ---------------- internals: load balancing ----------------

    private void ArmBalance(long now)
    {
        if (_balancePeriodNs > 0 && _runqueues.Count > 1)
        {
            if (_nextBalance == long.MaxValue) _nextBalance = now + _balancePeriodNs;
        }
        else _nextBalance = long.MaxValue;
        RecomputeTimer();
    }

    /// <summary>balance_load, simplified: against the runqueue with the most different per-pCPU load,
    /// move one waiting vCPU from the busier to the other if that lowers the imbalance.</summary>
    private void Balance(Credit2Runqueue local, long now, ref CpuMask tickle)
    {
        if (_runqueues.Count < 2) return;
        Credit2Runqueue? other = null;
        long bestDiff = 0;
        foreach (var rq in _runqueues)
        {
            if (rq == local) continue;
            long diff = Math.Abs((long)local.Load * rq.NrCpus - (long)rq.Load * local.NrCpus) * 1024 / ((long)rq.NrCpus * local.NrCpus);
            if (diff > bestDiff) { bestDiff = diff; other = rq; }
        }
        if (other == null) return;
        bool localBusier = (long)local.Load * other.NrCpus > (long)other.Load * local.NrCpus;
        var src = localBusier ? local : other;
        var dst = localBusier ? other : local;
        if (src.Queued == 0 || (long)src.Load * dst.NrCpus <= (long)(dst.Load + 1) * src.NrCpus) return;
        int scanned = 0;
        for (var s = src.Tail; s != null && scanned < BalanceScanLimit; s = s.RqPrev, scanned++)
        {
            if (!s.V.HardAffinity.Intersects(dst.Active)) continue;
            if (s.TickledCpu >= 0 && _tickled.Contains(s.TickledCpu)) continue;
            src.Remove(s);
            MoveToRunqueue(s, dst, -1);
            dst.Insert(s);
            RunqTickle(s, now, ref tickle);
            return;
        }
    }

    /// <summary>A pCPU about to idle pulls a waiting vCPU it may run from the busiest other runqueue.</summary>
    private bool PullFromBusiest(Credit2Runqueue local, int pcpu, long now)
    {
        if (_runqueues.Count < 2) return false;
        Credit2Runqueue? src = null;
        long best = -1;
        foreach (var rq in _runqueues)
        {
            if (rq == local || rq.Queued == 0) continue;
            long load = rq.Load * 1024L / rq.NrCpus;
            if (load > best) { best = load; src = rq; }
        }
        if (src == null) return false;
        int scanned = 0;
        for (var s = src.Head; s != null && scanned < BalanceScanLimit; s = s.RqNext, scanned++)
        {
            if (!s.V.HardAffinity.Contains(pcpu) || !s.V.IsRunnable) continue;
            if (s.TickledCpu >= 0 && _tickled.Contains(s.TickledCpu)) continue;
            src.Remove(s);
            MoveToRunqueue(s, local, pcpu);
            local.Insert(s);
            return true;
        }
        return false;
    }

    // ---------------- internals: caps ----------------

    private void SetBudgetParameters(Credit2Domain dom)
    {
        dom.TotBudget = _capPeriodNs * dom.Cap / 100;
        long quota = Math.Max(dom.TotBudget / Math.Max(1, dom.NrVcpus), MinTimerNs);
        foreach (var v in dom.D.Vcpus)
            if (v.PolicyData is Credit2Vcpu svc && svc.Owner == this) svc.BudgetQuota = quota;
    }

    private void ApplyCap(Credit2Domain dom, int cap, long now, ref CpuMask tickle)
    {
        if (cap != 0)
        {
            bool was = dom.Capped;
            if (!was)
            {
                // Charge the running vCPUs up to now without budget, then make everyone grab budget.
                foreach (var v in dom.D.Vcpus)
                {
                    if (v.PolicyData is not Credit2Vcpu svc || svc.Owner != this) continue;
                    if (svc.RunningOn >= 0) { Burn(svc, now); Tickle(svc.RunningOn, ref tickle); }
                    svc.Budget = 0;
                }
            }
            dom.Cap = cap;
            SetBudgetParameters(dom);
            if (!was)
            {
                dom.Budget = dom.TotBudget;
                dom.NextRepl = now + _capPeriodNs;
                if (!_capped.Contains(dom)) _capped.Add(dom);
                RecomputeTimer();
            }
            return;
        }
        if (!dom.Capped) return;
        foreach (var v in dom.D.Vcpus)
        {
            if (v.PolicyData is not Credit2Vcpu svc || svc.Owner != this) continue;
            if (svc.RunningOn >= 0) Burn(svc, now);
            svc.Budget = 0;
            svc.BudgetQuota = 0;
        }
        dom.Cap = 0;
        dom.TotBudget = 0;
        dom.Budget = 0;
        dom.NextRepl = long.MaxValue;
        _capped.Remove(dom);
        UnparkAll(dom, now, ref tickle);
        RecomputeTimer();
    }

    /// <summary>unit_grab_budget: takes a quota from the domain pool; parks svc if there is none.</summary>
    private bool GrabBudget(Credit2Vcpu svc)
    {
        if (svc.Budget > 0) return true;
        var dom = svc.Dom;
        dom.Budget += svc.Budget; // pay back any overrun
        if (dom.Budget > 0)
        {
            long b = Math.Min(svc.BudgetQuota, dom.Budget);
            svc.Budget = b;
            dom.Budget -= b;
            return true;
        }
        svc.Budget = 0;
        svc.Parked = true;
        if (svc.OnRunq) svc.Rq!.Remove(svc);
        dom.AddParked(svc);
        return false;
    }

    /// <summary>unit_return_budget: puts what svc did not use back in the pool.</summary>
    private void ReturnBudget(Credit2Vcpu svc, long now, ref CpuMask tickle)
    {
        var dom = svc.Dom;
        dom.Budget += svc.Budget;
        svc.Budget = 0;
        if (dom.Budget > 0) UnparkAll(dom, now, ref tickle);
    }

    private void Replenish(Credit2Domain dom, long now, ref CpuMask tickle)
    {
        do
        {
            dom.NextRepl += _capPeriodNs;
            dom.Budget += dom.TotBudget;
        } while (dom.NextRepl <= now);
        if (dom.Budget <= 0) return;
        if (dom.Budget > dom.TotBudget) dom.Budget = dom.TotBudget;
        UnparkAll(dom, now, ref tickle);
    }

    private void UnparkAll(Credit2Domain dom, long now, ref CpuMask tickle)
    {
        while (dom.ParkedHead is { } svc)
        {
            dom.RemoveParked(svc);
            svc.Parked = false;
            if (Queueable(svc))
            {
                svc.Rq!.Insert(svc);
                RunqTickle(svc, now, ref tickle);
            }
        }
    }

    private void RecomputeTimer()
    {
        long t = _nextBalance;
        for (int i = 0; i < _capped.Count; i++) if (_capped[i].NextRepl < t) t = _capped[i].NextRepl;
        foreach (int p in _deferred) if (_deferredTickle[p] < t) t = _deferredTickle[p];
        _nextTimer = t;
    }

    // ---------------- helpers ----------------

    private static void CheckPcpu(int pcpu)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
    }

    private Credit2Vcpu Get(SchedVcpu v)
        => v.PolicyData is Credit2Vcpu svc && svc.Owner == this ? svc
            : throw new InvalidOperationException($"credit2: {v} is not inserted in this scheduler");
}
