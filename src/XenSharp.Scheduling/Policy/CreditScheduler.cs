namespace XenSharp.Scheduling;

/// <summary>Priority of a vCPU in the credit scheduler (Xen's CSCHED_PRI_*); higher runs first.</summary>
public enum CreditPriority
{
    /// <summary>Not runnable / nothing to run (the idle vCPU's priority).</summary>
    Idle = -64,
    /// <summary>Time-share, credits used up (credit &lt; 0).</summary>
    Over = -2,
    /// <summary>Time-share, credits left.</summary>
    Under = -1,
    /// <summary>Just woke up while Under: runs ahead of everyone (latency for I/O-bound vCPUs).</summary>
    Boost = 0,
}

// The credit scheduler (Xen's sched=credit, xen/common/sched/credit.c), re-implemented.
//
// Idea: proportional share by credits. Every accounting period (one time slice, 30 ms) the
// pool's credit (10 credits per ms per pCPU) is divided among the *active* domains in proportion
// to their weight (and capped by their cap); a running vCPU burns 10 credits per ms
// (100 per 10 ms tick). A vCPU with credits left is UNDER, one without is OVER; UNDER runs
// before OVER. A vCPU that wakes while UNDER is BOOSTed (runs before everyone, preempting
// the running vCPU via a tickle) until a tick catches it running — so I/O-bound vCPUs get low
// wake-up latency without getting more CPU. Each pCPU has its own runqueue sorted by priority
// (BOOST > UNDER > OVER, FIFO within a priority); a pCPU whose best local candidate is OVER (or
// that has nothing) steals higher-priority work from other pCPUs' runqueues (soft-affine work
// first, then hard-affine), which is what spreads load. Capped domains that overspend are
// *parked* (kept off the runqueues) until an accounting period gives them credits back.
//
// Invariants:
//  - a vCPU is in at most one runqueue, only if it is runnable, not parked, not the one this
//    policy runs on some pCPU, and that pCPU is in its hard affinity;
//  - each runqueue is sorted by priority (insertion keeps it, accounting re-sorts it);
//  - a vCPU is "active" (earns credits) from the first tick that finds it running until an
//    accounting period finds it with more than one slice of credits (its credits are then halved);
//  - credits stay in [-credits per slice, +credits per slice] after each accounting.
// Timer: one policy timer ticks every tslice/3 (10 ms): each tick burns the credits of the
// running vCPUs, ends their BOOST and activates them; every 3rd tick runs the accounting
// (Xen runs per-pCPU tickers and a master ticker; here they are aligned on one timer).
// Deviations from Xen: waking vCPUs go to the runqueue of their last pCPU (as Xen) unless it
// left the pool or their affinity, then to a picked pCPU; no SMT/NUMA topology (pCPUs are flat),
// no vcpu_migration_delay, no moving of running vCPUs at the tick; the load-balance ratelimit
// only applies to pCPUs that have an OVER vCPU to run (an idle pCPU always looks for work,
// since nothing else would wake it up).
// Knobs: tslice_ms (default 30, 1..1000), ratelimit_us (default 1000, 0 = off, else 100..500000
// and at most the slice), load_balance_ratelimit_us (default 1000); per domain weight
// (1..65535, default 256) and cap (percent of one pCPU, 0 = none).
public sealed class CreditScheduler : ISchedulerPolicy
{
    public const int DefaultTsliceMs = 30;
    public const int MinTsliceMs = 1;
    public const int MaxTsliceMs = 1000;
    public const int DefaultRatelimitUs = 1000;
    public const int MinRatelimitUs = 100;
    public const int MaxRatelimitUs = 500_000;
    public const int DefaultLoadBalanceRatelimitUs = 1000;
    public const int CreditsPerMs = 10;
    public const int TicksPerTslice = 3;

    private const long Ms = 1_000_000;
    private const long MinTimerNs = MinRatelimitUs * 1000L;
    private const int PriBoost = (int)CreditPriority.Boost;
    private const int PriUnder = (int)CreditPriority.Under;
    private const int PriOver = (int)CreditPriority.Over;
    private const int PriIdle = (int)CreditPriority.Idle;

    private sealed class CVcpu(CreditScheduler owner, SchedVcpu v, CDom dom)
    {
        public readonly CreditScheduler Owner = owner;
        public readonly SchedVcpu V = v;
        public readonly CDom Dom = dom;
        public int Pri = PriUnder;
        public int Credit;
        public long Residual;        // sub-credit ns×credits/ms carried between burns
        public long StartTime;       // credits burnt up to here
        public long RunningSince;    // context-switched in at (ratelimit)
        public bool Yield, Parked;
        public int OnCpu = -1;       // pCPU this policy runs it on, or -1
        public int RunqCpu = -1;     // runqueue it waits in, or -1
        public CVcpu? RqPrev, RqNext;
        public bool Active;
        public CVcpu? ActPrev, ActNext;
        public int Index;            // in _all
    }

    private sealed class CDom(CreditScheduler owner, SchedDomain d)
    {
        public readonly CreditScheduler Owner = owner;
        public readonly SchedDomain D = d;
        public int Weight = d.Weight;
        public int Cap = d.Cap;
        public int Vcpus;
        public int ActiveCount;
        public CVcpu? ActHead;
        public bool InActiveList;
        public CDom? Prev, Next;
    }

    private sealed class CPcpu
    {
        public bool Online;
        public CVcpu? Head, Tail;
        public int RunqLen;
        public CVcpu? Current;
        public long LastLoadBalance = long.MinValue / 2;
    }

    private readonly CPcpu[] _pcpus = new CPcpu[CpuMask.MaxCpus];
    private readonly List<CVcpu> _all = new();
    private CpuMask _online;
    private CpuMask _idlers;
    private int _ncpus;
    private CDom? _activeHead;
    private long _weight;          // sum of weight × active vCPUs over active domains
    private int _creditBalance;
    private int _balanceBias;
    private int _lastTickle;
    private long _nextTick;
    private long _ticks;

    private long _tsliceNs = DefaultTsliceMs * Ms;
    private long _tickPeriodNs = DefaultTsliceMs * Ms / TicksPerTslice;
    private int _ticksPerTslice = TicksPerTslice;
    private int _creditsPerTslice = CreditsPerMs * DefaultTsliceMs;
    private long _ratelimitNs = DefaultRatelimitUs * 1000L;
    private long _lbRatelimitNs = DefaultLoadBalanceRatelimitUs * 1000L;

    public CreditScheduler()
    {
        for (int p = 0; p < _pcpus.Length; p++) _pcpus[p] = new CPcpu();
    }

    public string Name => "credit";

    /// <summary>Time slice and accounting period (sched_credit_tslice_ms / xl sched-credit -t).</summary>
    public int TsliceMs => (int)(_tsliceNs / Ms);

    /// <summary>Context-switch rate limit (sched_ratelimit_us / xl sched-credit -r), 0 = off.</summary>
    public int RatelimitUs => (int)(_ratelimitNs / 1000);

    /// <summary>Minimum time between two work-stealing scans of a busy pCPU (load-balance-ratelimit).</summary>
    public int LoadBalanceRatelimitUs => (int)(_lbRatelimitNs / 1000);

    /// <summary>Credits given out per pCPU per accounting period (10 per ms of slice).</summary>
    public int CreditsPerTslice => _creditsPerTslice;

    /// <summary>Sets the pool-wide parameters, validated as Xen's csched_sys_cntl does.</summary>
    public void SetParameters(int tsliceMs, int ratelimitUs, int? loadBalanceRatelimitUs = null)
    {
        if (tsliceMs is < MinTsliceMs or > MaxTsliceMs)
            throw new ArgumentOutOfRangeException(nameof(tsliceMs), tsliceMs, $"credit: tslice_ms must be in {MinTsliceMs}..{MaxTsliceMs} (default {DefaultTsliceMs})");
        if (ratelimitUs != 0 && ratelimitUs is < MinRatelimitUs or > MaxRatelimitUs)
            throw new ArgumentOutOfRangeException(nameof(ratelimitUs), ratelimitUs, $"credit: ratelimit_us must be 0 (off) or in {MinRatelimitUs}..{MaxRatelimitUs} (default {DefaultRatelimitUs})");
        if (ratelimitUs * 1000L > tsliceMs * Ms)
            throw new ArgumentOutOfRangeException(nameof(ratelimitUs), ratelimitUs, $"credit: ratelimit_us ({ratelimitUs}) must not exceed the time slice ({tsliceMs} ms = {tsliceMs * 1000} us)");
        if (loadBalanceRatelimitUs is int lb && lb is < 0 or > 1_000_000)
            throw new ArgumentOutOfRangeException(nameof(loadBalanceRatelimitUs), lb, "credit: load_balance_ratelimit_us must be in 0..1000000 (default 1000)");
        _tsliceNs = tsliceMs * Ms;
        _ticksPerTslice = tsliceMs < TicksPerTslice ? 1 : TicksPerTslice;
        _tickPeriodNs = _tsliceNs / _ticksPerTslice;
        _creditsPerTslice = CreditsPerMs * tsliceMs;
        _ratelimitNs = ratelimitUs * 1000L;
        if (loadBalanceRatelimitUs is int l) _lbRatelimitNs = l * 1000L;
    }

    /// <summary>Current credits of v (0 if unknown).</summary>
    public int Credit(SchedVcpu v) => v.PolicyData is CVcpu cv && cv.Owner == this ? cv.Credit : 0;

    /// <summary>Current priority of v.</summary>
    public CreditPriority Priority(SchedVcpu v) => v.PolicyData is CVcpu cv && cv.Owner == this ? (CreditPriority)cv.Pri : CreditPriority.Idle;

    /// <summary>True while v's capped domain overspent and v is kept off the pCPUs.</summary>
    public bool IsParked(SchedVcpu v) => v.PolicyData is CVcpu cv && cv.Owner == this && cv.Parked;

    /// <summary>True if v earns credits at accounting (it was seen running since it last stopped).</summary>
    public bool IsActive(SchedVcpu v) => v.PolicyData is CVcpu cv && cv.Owner == this && cv.Active;

    /// <summary>The runqueue of a pCPU, head first (diagnostics; allocates).</summary>
    public IReadOnlyList<SchedVcpu> Runqueue(int pcpu)
    {
        CheckPcpu(pcpu);
        var l = new List<SchedVcpu>(_pcpus[pcpu].RunqLen);
        for (var e = _pcpus[pcpu].Head; e != null; e = e.RqNext) l.Add(e.V);
        return l;
    }

    public long NextTimerAt => _all.Count == 0 ? long.MaxValue : _nextTick;

    // ---------------- pCPUs ----------------

    public void AddPcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        var pc = _pcpus[pcpu];
        if (pc.Online) throw new InvalidOperationException($"credit: pCPU {pcpu} is already added");
        pc.Online = true;
        pc.Current = null;
        pc.LastLoadBalance = long.MinValue / 2;
        _online.Set(pcpu);
        _idlers.Set(pcpu);
        _ncpus++;
        tickle.Set(pcpu); // let it look for work to steal
    }

    public bool CanRemovePcpu(int pcpu)
    {
        if (!_online.Contains(pcpu)) return false;
        var rest = _online;
        rest.Clear(pcpu);
        foreach (var cv in _all)
            if (!cv.V.HardAffinity.Intersects(rest)) return false;
        return true;
    }

    public void RemovePcpu(int pcpu, long now, ref CpuMask tickle)
    {
        CheckPcpu(pcpu);
        var pc = _pcpus[pcpu];
        if (!pc.Online) throw new InvalidOperationException($"credit: pCPU {pcpu} is not in this scheduler");
        if (!CanRemovePcpu(pcpu))
            throw new InvalidOperationException($"credit: removing pCPU {pcpu} would leave a vCPU with no pCPU in its hard affinity");
        pc.Online = false;
        _online.Clear(pcpu);
        _idlers.Clear(pcpu);
        _ncpus--;
        var cur = pc.Current;
        if (cur != null)
        {
            Burn(cur, now);
            pc.Current = null;
            cur.OnCpu = -1;
            if (cur.V.IsRunnable && !cur.Parked) Enqueue(cur, PickCpu(cur.V, -1), ref tickle);
        }
        while (pc.Head is { } e)
        {
            RunqRemove(e);
            Enqueue(e, PickCpu(e.V, -1), ref tickle);
        }
    }

    // ---------------- vCPUs ----------------

    public void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (v.PolicyData != null) throw new InvalidOperationException($"credit: {v} is already inserted in a scheduler");
        if (!v.HardAffinity.Intersects(_online) && _ncpus > 0)
            throw new InvalidOperationException($"credit: {v}'s hard affinity {v.HardAffinity} contains none of this scheduler's pCPUs {_online}");
        var d = v.Domain;
        if (d.PolicyData is not CDom cd || cd.Owner != this)
        {
            cd = new CDom(this, d);
            d.PolicyData = cd;
        }
        cd.Vcpus++;
        var cv = new CVcpu(this, v, cd) { Index = _all.Count };
        v.PolicyData = cv;
        if (_all.Count == 0)
        {
            _nextTick = now - now % _tickPeriodNs + _tickPeriodNs;
            _ticks = 0;
        }
        _all.Add(cv);
        if (v.IsRunnable && v.Processor < 0 && _ncpus > 0)
            Enqueue(cv, WakeCpu(cv), ref tickle); // inserted, not woken: no boost
    }

    public void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var cv = Get(v);
        if (v.Processor != -1) throw new InvalidOperationException($"credit: {v} is still running on pCPU {v.Processor}; deschedule it before removing");
        if (cv.OnCpu >= 0)
        {
            _pcpus[cv.OnCpu].Current = null;
            cv.OnCpu = -1;
        }
        if (cv.RunqCpu >= 0) RunqRemove(cv);
        cv.Parked = false;
        if (cv.Active) AcctStop(cv);
        var last = _all[^1];
        _all[cv.Index] = last;
        last.Index = cv.Index;
        _all.RemoveAt(_all.Count - 1);
        v.PolicyData = null;
        if (--cv.Dom.Vcpus == 0 && ReferenceEquals(v.Domain.PolicyData, cv.Dom)) v.Domain.PolicyData = null;
    }

    public void Sleep(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var cv = Get(v);
        // Running: the mechanism calls Schedule on its pCPU right after.
        if (cv.RunqCpu >= 0) RunqRemove(cv);
    }

    public void Wake(SchedVcpu v, long now, ref CpuMask tickle)
    {
        var cv = Get(v);
        if (cv.OnCpu >= 0 || cv.RunqCpu >= 0) return; // still on its pCPU, or already queued
        if (cv.Parked || _ncpus == 0) return;         // queued again when unparked / a pCPU comes
        if (cv.Pri == PriUnder) cv.Pri = PriBoost;
        Enqueue(cv, WakeCpu(cv), ref tickle);
    }

    public void Yield(SchedVcpu v, long now) => Get(v).Yield = true;

    public void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle)
    {
        var cv = Get(v);
        if (!hard.Intersects(_online))
            throw new InvalidOperationException($"credit: hard affinity {hard} for {v} contains none of this scheduler's pCPUs {_online}");
        v.SetAffinityMasks(hard, soft);
        if (cv.OnCpu >= 0)
        {
            if (!hard.Contains(cv.OnCpu)) tickle.Set(cv.OnCpu); // its Schedule requeues it elsewhere
        }
        else if (cv.RunqCpu >= 0 && !hard.Contains(cv.RunqCpu))
        {
            RunqRemove(cv);
            Enqueue(cv, PickCpu(v, -1), ref tickle);
        }
    }

    public void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle)
    {
        if (d.PolicyData is not CDom cd || cd.Owner != this) return;
        if (cd.InActiveList) _weight += (long)(d.Weight - cd.Weight) * cd.ActiveCount;
        cd.Weight = d.Weight;
        cd.Cap = d.Cap;
    }

    // ---------------- do_schedule ----------------

    public ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus) return ScheduleDecision.Idle;
        var pc = _pcpus[pcpu];
        if (!pc.Online) return ScheduleDecision.Idle;
        var scurr = pc.Current;
        if (scurr != null)
        {
            Burn(scurr, now);
            bool stays = scurr.V.IsRunnable && !scurr.Parked && scurr.V.HardAffinity.Contains(pcpu);
            long runtime = now - scurr.RunningSince;
            // Rate limiting: a vCPU that ran less than ratelimit keeps the pCPU (unless it yields).
            if (stays && !scurr.Yield && _ratelimitNs > 0 && runtime < _ratelimitNs)
            {
                scurr.StartTime = now;
                return new ScheduleDecision(scurr.V, Math.Max(_ratelimitNs - runtime, MinTimerNs));
            }
            pc.Current = null;
            scurr.OnCpu = -1;
            if (stays) RunqInsert(scurr, pcpu);
            else if (scurr.V.IsRunnable && !scurr.Parked)
                Enqueue(scurr, PickCpu(scurr.V, -1), ref tickle); // affinity moved away from here
        }

        var snext = FirstEligible(pc, pcpu);
        int pri = snext?.Pri ?? PriIdle;
        if (pri <= PriOver && (snext == null || now - pc.LastLoadBalance > _lbRatelimitNs))
        {
            pc.LastLoadBalance = now;
            var stolen = LoadBalance(pcpu, pri);
            if (stolen != null) snext = stolen;
        }
        if (snext == null)
        {
            _idlers.Set(pcpu);
            return ScheduleDecision.Idle;
        }
        if (snext.RunqCpu >= 0) RunqRemove(snext);
        _idlers.Clear(pcpu);
        if (!ReferenceEquals(snext, scurr)) snext.RunningSince = now;
        snext.StartTime = now;
        snext.OnCpu = pcpu;
        pc.Current = snext;
        return new ScheduleDecision(snext.V, _tsliceNs);
    }

    /// <summary>Head of the runqueue, skipping a vCPU still being taken off another pCPU.</summary>
    private static CVcpu? FirstEligible(CPcpu pc, int pcpu)
    {
        for (var e = pc.Head; e != null; e = e.RqNext)
            if (e.V.Processor < 0 || e.V.Processor == pcpu) return e;
        return null;
    }

    /// <summary>csched_load_balance: steal the first vCPU of strictly higher priority than
    /// <paramref name="pri"/> from a busy peer's runqueue; soft-affine work first, then hard.</summary>
    private CVcpu? LoadBalance(int cpu, int pri)
    {
        var workers = _online;
        workers.AndNot(_idlers);
        workers.Clear(cpu);
        if (workers.IsEmpty) return null;
        for (int step = 0; step < 2; step++)
        {
            int first = workers.Next(_balanceBias);
            if (first < 0) first = workers.First();
            int peer = first;
            do
            {
                var ppc = _pcpus[peer];
                if (ppc.Current != null && ppc.RunqLen >= 1)
                {
                    for (var e = ppc.Head; e != null; e = e.RqNext)
                    {
                        if (e.Pri <= pri) break;
                        if (e.Yield || e.V.Processor >= 0) continue;
                        var v = e.V;
                        if (step == 0)
                        {
                            if (!HasSoftAffinity(v) || !v.SoftAffinity.Contains(cpu) || !v.HardAffinity.Contains(cpu)) continue;
                        }
                        else if (!v.HardAffinity.Contains(cpu)) continue;
                        RunqRemove(e);
                        _balanceBias = peer;
                        return e;
                    }
                }
                peer = workers.Next(peer);
                if (peer < 0) peer = workers.First();
            } while (peer != first);
        }
        return null;
    }

    // ---------------- accounting ----------------

    public void OnTimer(long now, ref CpuMask tickle)
    {
        if (now < _nextTick) return;
        // csched_tick on every pCPU: charge what runs, end its boost, make it earn credits.
        foreach (int p in _online)
        {
            var cv = _pcpus[p].Current;
            if (cv == null) continue;
            if (cv.Pri == PriBoost) cv.Pri = PriUnder;
            Burn(cv, now);
            if (!cv.Active) AcctStart(cv);
        }
        if (++_ticks % _ticksPerTslice == 0)
        {
            Account(ref tickle);
            foreach (int p in _online) SortRunq(_pcpus[p]);
        }
        do _nextTick += _tickPeriodNs; while (_nextTick <= now);
    }

    /// <summary>csched_acct: share the period's credits among active domains by weight.</summary>
    private void Account(ref CpuMask tickle)
    {
        long weightTotal = _weight;
        long creditTotal = (long)_creditsPerTslice * _ncpus;
        if (_creditBalance < 0) creditTotal -= _creditBalance;
        if (weightTotal == 0)
        {
            _creditBalance = 0;
            return;
        }
        long weightLeft = weightTotal;
        long creditBalance = 0;
        bool creditXtra = false;
        int cpt = _creditsPerTslice;
        for (var sdom = _activeHead; sdom != null;)
        {
            var nextDom = sdom.Next;
            int n = sdom.ActiveCount;
            weightLeft -= (long)sdom.Weight * n;
            long creditPeak = (long)n * cpt;
            if (_creditBalance < 0)
                creditPeak += ((long)-_creditBalance * sdom.Weight * n + (weightTotal - 1)) / weightTotal;
            long creditCap = 0;
            if (sdom.Cap != 0)
            {
                creditCap = ((long)sdom.Cap * cpt + 99) / 100;
                if (creditCap < creditPeak) creditPeak = creditCap;
                creditCap = (creditCap + (n - 1)) / n;
            }
            long creditFair = (creditTotal * sdom.Weight * n + (weightTotal - 1)) / weightTotal;
            if (creditFair < creditPeak) creditXtra = true;
            else
            {
                if (weightLeft != 0)
                    creditTotal += ((creditFair - creditPeak) * weightTotal + (weightLeft - 1)) / weightLeft;
                if (creditXtra)
                {
                    // Domains with unused credits go to the head: others get a chance at them later.
                    ActiveDomRemove(sdom);
                    ActiveDomPushHead(sdom);
                }
                creditFair = creditPeak;
            }
            creditFair = (creditFair + (n - 1)) / n;

            for (var cv = sdom.ActHead; cv != null;)
            {
                var nextV = cv.ActNext;
                long credit = cv.Credit + creditFair;
                if (credit < 0)
                {
                    cv.Pri = PriOver;
                    if (sdom.Cap != 0 && credit < -creditCap && !cv.Parked) Park(cv, ref tickle);
                    if (credit < -cpt) credit = -cpt;
                    cv.Credit = (int)credit;
                }
                else
                {
                    cv.Pri = PriUnder;
                    cv.Credit = (int)Math.Min(credit, int.MaxValue);
                    if (cv.Parked) Unpark(cv, ref tickle);
                    if (credit > cpt)
                    {
                        // Stops earning; starts again half a slice ahead when next seen running.
                        AcctStop(cv);
                        credit /= 2;
                        cv.Credit = (int)credit;
                    }
                }
                creditBalance += credit;
                cv = nextV;
            }
            sdom = nextDom;
        }
        _creditBalance = (int)Math.Clamp(creditBalance, int.MinValue, int.MaxValue);
    }

    private void Park(CVcpu cv, ref CpuMask tickle)
    {
        cv.Parked = true;
        if (cv.RunqCpu >= 0) RunqRemove(cv);
        if (cv.OnCpu >= 0) tickle.Set(cv.OnCpu);
    }

    private void Unpark(CVcpu cv, ref CpuMask tickle)
    {
        cv.Parked = false;
        // Not boosted: it is resuming after overspending, not waking up.
        if (cv.V.IsRunnable && cv.OnCpu < 0 && cv.RunqCpu < 0 && _ncpus > 0)
            Enqueue(cv, WakeCpu(cv), ref tickle);
    }

    private void AcctStart(CVcpu cv)
    {
        var sdom = cv.Dom;
        cv.Active = true;
        cv.ActPrev = null;
        cv.ActNext = sdom.ActHead;
        if (sdom.ActHead != null) sdom.ActHead.ActPrev = cv;
        sdom.ActHead = cv;
        sdom.ActiveCount++;
        _weight += sdom.Weight;
        if (!sdom.InActiveList) ActiveDomPushHead(sdom);
    }

    private void AcctStop(CVcpu cv)
    {
        var sdom = cv.Dom;
        cv.Active = false;
        if (cv.ActPrev != null) cv.ActPrev.ActNext = cv.ActNext; else sdom.ActHead = cv.ActNext;
        if (cv.ActNext != null) cv.ActNext.ActPrev = cv.ActPrev;
        cv.ActPrev = cv.ActNext = null;
        sdom.ActiveCount--;
        _weight -= sdom.Weight;
        if (sdom.ActiveCount == 0) ActiveDomRemove(sdom);
    }

    private void ActiveDomPushHead(CDom sdom)
    {
        sdom.InActiveList = true;
        sdom.Prev = null;
        sdom.Next = _activeHead;
        if (_activeHead != null) _activeHead.Prev = sdom;
        _activeHead = sdom;
    }

    private void ActiveDomRemove(CDom sdom)
    {
        if (!sdom.InActiveList) return;
        if (sdom.Prev != null) sdom.Prev.Next = sdom.Next; else _activeHead = sdom.Next;
        if (sdom.Next != null) sdom.Next.Prev = sdom.Prev;
        sdom.Prev = sdom.Next = null;
        sdom.InActiveList = false;
    }

    /// <summary>burn_credits: 10 credits per ms run since the last burn (remainder carried).</summary>
    private static void Burn(CVcpu cv, long now)
    {
        long delta = now - cv.StartTime;
        if (delta <= 0) return;
        long val = delta * CreditsPerMs + cv.Residual;
        long credits = val / Ms;
        cv.Residual = val % Ms;
        cv.Credit = (int)Math.Max(int.MinValue, cv.Credit - credits);
        cv.StartTime = now;
    }

    // ---------------- runqueues ----------------

    /// <summary>Queues cv on <paramref name="cpu"/>'s runqueue and tickles as __runq_tickle does.</summary>
    private void Enqueue(CVcpu cv, int cpu, ref CpuMask tickle)
    {
        RunqInsert(cv, cpu);
        RunqTickle(cv, ref tickle);
    }

    /// <summary>Inserts after every vCPU of equal or higher priority; a yielding vCPU also goes
    /// behind one of lower priority.</summary>
    private void RunqInsert(CVcpu cv, int cpu)
    {
        var pc = _pcpus[cpu];
        var at = pc.Head;
        while (at != null && cv.Pri <= at.Pri) at = at.RqNext;
        if (cv.Yield && at != null) at = at.RqNext;
        // insert before `at` (null: at the tail)
        cv.RqNext = at;
        cv.RqPrev = at == null ? pc.Tail : at.RqPrev;
        if (cv.RqPrev != null) cv.RqPrev.RqNext = cv; else pc.Head = cv;
        if (at != null) at.RqPrev = cv; else pc.Tail = cv;
        cv.RunqCpu = cpu;
        pc.RunqLen++;
    }

    private void RunqRemove(CVcpu cv)
    {
        var pc = _pcpus[cv.RunqCpu];
        if (cv.RqPrev != null) cv.RqPrev.RqNext = cv.RqNext; else pc.Head = cv.RqNext;
        if (cv.RqNext != null) cv.RqNext.RqPrev = cv.RqPrev; else pc.Tail = cv.RqPrev;
        cv.RqPrev = cv.RqNext = null;
        cv.RunqCpu = -1;
        cv.Yield = false;
        pc.RunqLen--;
    }

    /// <summary>Stable re-sort after accounting changed priorities: BOOST, then UNDER, then OVER.</summary>
    private static void SortRunq(CPcpu pc)
    {
        if (pc.RunqLen < 2) return;
        CVcpu? bH = null, bT = null, uH = null, uT = null, oH = null, oT = null;
        for (var e = pc.Head; e != null;)
        {
            var next = e.RqNext;
            e.RqNext = null;
            if (e.Pri >= PriBoost) Append(ref bH, ref bT, e);
            else if (e.Pri == PriUnder) Append(ref uH, ref uT, e);
            else Append(ref oH, ref oT, e);
            e = next;
        }
        CVcpu? head = null, tail = null;
        Concat(ref head, ref tail, bH, bT);
        Concat(ref head, ref tail, uH, uT);
        Concat(ref head, ref tail, oH, oT);
        pc.Head = head;
        pc.Tail = tail;

        static void Append(ref CVcpu? h, ref CVcpu? t, CVcpu e)
        {
            e.RqPrev = t;
            if (t != null) t.RqNext = e; else h = e;
            t = e;
        }
        static void Concat(ref CVcpu? h, ref CVcpu? t, CVcpu? h2, CVcpu? t2)
        {
            if (h2 == null) return;
            h2.RqPrev = t;
            if (t != null) t.RqNext = h2; else h = h2;
            t = t2;
        }
    }

    /// <summary>__runq_tickle: which pCPUs should reschedule now that cv waits on its runqueue.</summary>
    private void RunqTickle(CVcpu cv, ref CpuMask tickle)
    {
        int cpu = cv.RunqCpu;
        var cur = _pcpus[cpu].Current;
        int curPri = cur?.Pri ?? PriIdle;
        var idle = _idlers;
        idle.And(_online);
        int chosen = -1;
        if (cur == null || (idle.IsEmpty && cv.Pri > curPri))
            chosen = cpu;
        else if (!idle.IsEmpty)
        {
            var v = cv.V;
            for (int step = 0; step < 2 && chosen < 0; step++)
            {
                if (step == 0 && !HasSoftAffinity(v)) continue;
                var m = v.HardAffinity;
                if (step == 0) m.And(v.SoftAffinity);
                m.And(idle);
                if (m.IsEmpty)
                {
                    if (step == 0) continue;
                    if (cv.Pri > curPri) chosen = cpu; // no idler for it: preempt cur
                }
                else
                {
                    int c = m.Next(_lastTickle);
                    _lastTickle = c >= 0 ? c : m.First();
                    chosen = _lastTickle;
                }
            }
        }
        if (chosen >= 0)
        {
            tickle.Set(chosen);
            _idlers.Clear(chosen);
        }
    }

    /// <summary>Where a waking vCPU queues: its last pCPU if still allowed, else a picked one.</summary>
    private int WakeCpu(CVcpu cv)
    {
        int last = cv.V.LastProcessor;
        if (last >= 0 && _online.Contains(last) && cv.V.HardAffinity.Contains(last)) return last;
        return PickCpu(cv.V, last);
    }

    /// <summary>_csched_cpu_pick without topology: an idle pCPU in soft∩hard affinity, else an idle
    /// one in hard affinity, else <paramref name="prefer"/> or the next allowed pCPU after it.</summary>
    private int PickCpu(SchedVcpu v, int prefer)
    {
        int fallback = -1;
        for (int step = 0; step < 2; step++)
        {
            if (step == 0 && !HasSoftAffinity(v)) continue;
            var cpus = v.HardAffinity;
            if (step == 0) cpus.And(v.SoftAffinity);
            cpus.And(_online);
            if (cpus.IsEmpty) continue;
            int cpu = cpus.Contains(prefer) ? prefer : Cycle(cpus, prefer);
            var idle = cpus;
            idle.And(_idlers);
            if (!idle.IsEmpty) return idle.Contains(cpu) ? cpu : Cycle(idle, cpu);
            fallback = cpu;
        }
        if (fallback < 0) throw new InvalidOperationException($"credit: {v}'s hard affinity {v.HardAffinity} contains none of this scheduler's pCPUs {_online}");
        return fallback;
    }

    private static int Cycle(in CpuMask m, int after)
    {
        int c = m.Next(after);
        return c >= 0 ? c : m.First();
    }

    private static bool HasSoftAffinity(SchedVcpu v)
        => v.SoftAffinity.Intersects(v.HardAffinity) && !v.HardAffinity.IsSubsetOf(v.SoftAffinity);

    private CVcpu Get(SchedVcpu v)
        => v.PolicyData is CVcpu cv && cv.Owner == this ? cv
            : throw new InvalidOperationException($"credit: {v} is not inserted in this scheduler");

    private static void CheckPcpu(int pcpu)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
    }
}
