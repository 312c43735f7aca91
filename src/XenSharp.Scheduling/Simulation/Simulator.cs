namespace XenSharp.Scheduling.Simulation;

/// <summary>
/// Deterministic discrete-event simulation of the scheduling mechanism with virtual time (ns).
/// It drives a policy exactly like the real pCPU threads will: on each pCPU, Schedule is called
/// when the slice expires, when the running vCPU blocks, goes offline or yields, and when a tickle
/// names the pCPU (tickles are served at the same instant, lowest pCPU first). Every decision is
/// checked: a vCPU never runs on two pCPUs, never outside its hard affinity, never while not
/// runnable, never on an offline pCPU; violations throw <see cref="SchedulerInvariantException"/>.
/// Same inputs and seed → same run.
/// <code>
/// var sim = new Simulator(new NullScheduler(), pcpus: 4, seed: 1);
/// var d = sim.AddDomain("web", weight: 512);
/// sim.AddVcpu(d, Workload.IoLike(runNs: 200_000, blockNs: 1_000_000), hard: CpuMask.Parse("0-1"));
/// sim.At(TimeSpan.FromMilliseconds(10), s => s.AddPcpu(4));
/// var report = sim.Run(TimeSpan.FromSeconds(1));
/// </code>
/// </summary>
public sealed class Simulator
{
    private enum EventKind : byte { PcpuTimer, VcpuWake, BurstToggle, Script }

    private readonly record struct Event(long Time, long Seq, EventKind Kind, int Index, long Gen);

    private sealed class SimPcpu
    {
        public bool Online;
        public SimVcpu? Running;
        public long RunStart;
        public long Gen;
        public long OnlineSince;
        public long OnlineNs;
        public long BusyNs;
    }

    private sealed class SimVcpu(SchedVcpu v, Workload w)
    {
        public readonly SchedVcpu V = v;
        public readonly Workload W = w;
        public long WorkLeft = long.MaxValue; // CPU ns until the workload blocks/yields
        public long Gen;                      // invalidates pending wake/toggle events
        public bool Removed;
        public bool BurstOn;
        public long Runs;
        public long Migrations;
    }

    private readonly ISchedulerPolicy _policy;
    private readonly Random _random;
    private readonly SimPcpu[] _pcpus = new SimPcpu[CpuMask.MaxCpus];
    private readonly List<SimVcpu> _vcpus = new();
    private readonly List<SchedDomain> _domains = new();
    private readonly List<Action<Simulator>> _scripts = new();
    private readonly PriorityQueue<Event, (long, long)> _events = new();
    private CpuMask _pending;
    private long _seq;
    private bool _inRun;

    public Simulator(ISchedulerPolicy policy, int pcpus, int seed = 1)
    {
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        if (pcpus < 1 || pcpus > CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpus), pcpus, $"pCPU count must be in 1..{CpuMask.MaxCpus}");
        _random = new Random(seed);
        for (int p = 0; p < _pcpus.Length; p++) _pcpus[p] = new SimPcpu();
        for (int p = 0; p < pcpus; p++) AddPcpu(p);
    }

    public ISchedulerPolicy Policy => _policy;

    /// <summary>Virtual time, ns since the start.</summary>
    public long Now { get; private set; }

    public long Decisions { get; private set; }
    public long Migrations { get; private set; }
    public IReadOnlyList<SchedDomain> Domains => _domains;

    /// <summary>Called after every decision is validated and applied.</summary>
    public event Action<SimDecision>? Decided;

    /// <summary>pCPUs currently online.</summary>
    public CpuMask OnlinePcpus
    {
        get
        {
            var m = CpuMask.None;
            for (int p = 0; p < _pcpus.Length; p++) if (_pcpus[p].Online) m.Set(p);
            return m;
        }
    }

    /// <summary>vCPU running on <paramref name="pcpu"/> now, or null.</summary>
    public SchedVcpu? RunningOn(int pcpu) => _pcpus[pcpu].Running?.V;

    // ---------------- scenario building (also usable from At() actions) ----------------

    public SchedDomain AddDomain(string name, int weight = SchedDomain.DefaultWeight, int cap = 0)
    {
        var d = new SchedDomain(_domains.Count, name) { Weight = weight };
        _domains.Add(d);
        if (cap != 0) d.Cap = cap; // validated against vCPU count when vCPUs exist; see AdjustDomain
        return d;
    }

    /// <summary>Creates vCPU number d.Vcpus.Count of <paramref name="d"/>, inserts it into the policy and
    /// (if <paramref name="online"/>) wakes it. Affinity defaults to all.</summary>
    public SchedVcpu AddVcpu(SchedDomain d, Workload workload, CpuMask? hard = null, CpuMask? soft = null, bool online = true)
    {
        ArgumentNullException.ThrowIfNull(d);
        ArgumentNullException.ThrowIfNull(workload);
        var v = new SchedVcpu(d, d.Vcpus.Count, Now);
        v.SetAffinityMasks(hard ?? CpuMask.All, soft ?? CpuMask.All);
        var sv = new SimVcpu(v, workload);
        v.SimIndex = _vcpus.Count;
        _vcpus.Add(sv);
        _policy.InsertVcpu(v, Now, ref _pending);
        if (online) BringOnline(sv);
        ServeTickles();
        return v;
    }

    /// <summary>Runs <paramref name="action"/> at absolute virtual time <paramref name="at"/>.</summary>
    public void At(TimeSpan at, Action<Simulator> action) => AtNs(ToNs(at), action);

    public void AtNs(long atNs, Action<Simulator> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (atNs < Now) throw new ArgumentOutOfRangeException(nameof(atNs), atNs, $"time {atNs} is in the past (now {Now})");
        _scripts.Add(action);
        Push(atNs, EventKind.Script, _scripts.Count - 1, 0);
    }

    public void AddPcpu(int pcpu)
    {
        var pc = _pcpus[CheckPcpu(pcpu)];
        if (pc.Online) throw new InvalidOperationException($"pCPU {pcpu} is already online");
        pc.Online = true;
        pc.OnlineSince = Now;
        pc.Gen++;
        _policy.AddPcpu(pcpu, Now, ref _pending);
        ServeTickles();
    }

    public void RemovePcpu(int pcpu)
    {
        var pc = _pcpus[CheckPcpu(pcpu)];
        if (!pc.Online) throw new InvalidOperationException($"pCPU {pcpu} is not online");
        if (!_policy.CanRemovePcpu(pcpu))
            throw new InvalidOperationException($"cannot remove pCPU {pcpu}: some vCPU has no other pCPU in its hard affinity");
        Account(pc);
        _policy.RemovePcpu(pcpu, Now, ref _pending);
        var prev = pc.Running;
        if (prev != null)
        {
            prev.V.Processor = -1;
            if (prev.V.State == VcpuRunstate.Running) prev.V.SetState(VcpuRunstate.Runnable, Now);
            pc.Running = null;
        }
        pc.Online = false;
        pc.OnlineNs += Now - pc.OnlineSince;
        pc.Gen++;
        _pending.Clear(pcpu);
        ServeTickles();
    }

    /// <summary>Removes the vCPU (descheduling it first if it runs).</summary>
    public void RemoveVcpu(SchedVcpu v)
    {
        var sv = Get(v);
        if (sv.V.State != VcpuRunstate.Offline) TakeDown(sv, VcpuRunstate.Offline);
        _policy.RemoveVcpu(v, Now, ref _pending);
        sv.Removed = true;
        ServeTickles();
    }

    /// <summary>Takes the vCPU offline (like a pause/hot-unplug) or brings it back.</summary>
    public void SetOnline(SchedVcpu v, bool online)
    {
        var sv = Get(v);
        if (online == (sv.V.State != VcpuRunstate.Offline)) return;
        if (online) BringOnline(sv);
        else TakeDown(sv, VcpuRunstate.Offline);
        ServeTickles();
    }

    /// <summary>Wakes a blocked vCPU now (e.g. an <see cref="Workload.Idle"/> one, like an event).</summary>
    public void WakeVcpu(SchedVcpu v)
    {
        var sv = Get(v);
        if (sv.V.State != VcpuRunstate.Blocked) return;
        DoWake(sv);
        ServeTickles();
    }

    public void SetAffinity(SchedVcpu v, CpuMask hard, CpuMask soft)
    {
        var sv = Get(v);
        if (hard.IsEmpty) throw new ArgumentException($"hard affinity of {v} must not be empty", nameof(hard));
        _policy.SetAffinity(v, hard, soft, Now, ref _pending);
        ServeTickles();
        if (sv.V.Processor >= 0 && !hard.Contains(sv.V.Processor))
            throw new SchedulerInvariantException(
                $"policy {_policy.Name}: {v} still runs on pCPU {sv.V.Processor} at t={Now} after its hard affinity changed to {hard}");
    }

    /// <summary>Changes weight and/or cap, then calls the policy's AdjustDomain.</summary>
    public void AdjustDomain(SchedDomain d, int? weight = null, int? cap = null)
    {
        if (weight is int w) d.Weight = w;
        if (cap is int c) d.Cap = c;
        _policy.AdjustDomain(d, Now, ref _pending);
        ServeTickles();
    }

    // ---------------- running ----------------

    public SimulationReport Run(TimeSpan virtualTime) => RunNs(ToNs(virtualTime));

    /// <summary>Advances virtual time by <paramref name="ns"/> and reports everything since time 0.</summary>
    public SimulationReport RunNs(long ns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ns);
        if (_inRun) throw new InvalidOperationException("Run is not reentrant (called from an At() action?)");
        _inRun = true;
        try
        {
            long end = checked(Now + ns);
            while (true)
            {
                long evAt = _events.TryPeek(out var ev, out _) ? ev.Time : long.MaxValue;
                long timerAt = _policy.NextTimerAt;
                if (Math.Min(evAt, timerAt) > end) break;
                if (timerAt <= evAt)
                {
                    Now = Math.Max(Now, timerAt);
                    _policy.OnTimer(Now, ref _pending);
                    ServeTickles();
                    if (_policy.NextTimerAt <= timerAt && _policy.NextTimerAt <= Now)
                        throw new SchedulerInvariantException(
                            $"policy {_policy.Name}: NextTimerAt did not advance past {timerAt} after OnTimer at t={Now}");
                    continue;
                }
                _events.Dequeue();
                Now = ev.Time;
                Handle(ev);
            }
            Now = end;
            for (int p = 0; p < _pcpus.Length; p++) if (_pcpus[p].Online) Account(_pcpus[p]);
        }
        finally { _inRun = false; }
        return Report();
    }

    private void Handle(in Event ev)
    {
        switch (ev.Kind)
        {
            case EventKind.PcpuTimer:
            {
                var pc = _pcpus[ev.Index];
                if (ev.Gen != pc.Gen || !pc.Online) return;
                Account(pc);
                var sv = pc.Running;
                if (sv != null && sv.WorkLeft <= 0) WorkDone(sv, ev.Index);
                else Schedule(ev.Index);
                break;
            }
            case EventKind.VcpuWake:
            {
                var sv = _vcpus[ev.Index];
                if (ev.Gen != sv.Gen || sv.Removed || sv.V.State != VcpuRunstate.Blocked) return;
                DoWake(sv);
                break;
            }
            case EventKind.BurstToggle:
            {
                var sv = _vcpus[ev.Index];
                if (ev.Gen != sv.Gen || sv.Removed || sv.V.State == VcpuRunstate.Offline) return;
                var b = (BurstWorkload)sv.W;
                if (sv.BurstOn)
                {
                    sv.BurstOn = false;
                    TakeDown(sv, VcpuRunstate.Blocked);
                    Push(Now + b.OffNs, EventKind.BurstToggle, ev.Index, sv.Gen);
                }
                else
                {
                    sv.BurstOn = true;
                    DoWake(sv);
                    Push(Now + b.OnNs, EventKind.BurstToggle, ev.Index, sv.Gen);
                }
                break;
            }
            case EventKind.Script:
                _scripts[ev.Index](this);
                break;
        }
        ServeTickles();
    }

    /// <summary>The running vCPU used up its CPU demand: block or yield per its workload.</summary>
    private void WorkDone(SimVcpu sv, int pcpu)
    {
        switch (sv.W)
        {
            case YieldingWorkload y:
                sv.WorkLeft = y.RunNs;
                _policy.Yield(sv.V, Now);
                Schedule(pcpu);
                break;
            case IoLikeWorkload io:
                sv.WorkLeft = io.RunNs;
                TakeDown(sv, VcpuRunstate.Blocked);
                Push(Now + io.BlockNs, EventKind.VcpuWake, sv.V.SimIndex, sv.Gen);
                break;
            case RandomWorkload r:
                sv.WorkLeft = Draw(r.MeanRunNs);
                TakeDown(sv, VcpuRunstate.Blocked);
                Push(Now + Draw(r.MeanBlockNs), EventKind.VcpuWake, sv.V.SimIndex, sv.Gen);
                break;
            case IdleWorkload:
                sv.WorkLeft = 0;
                TakeDown(sv, VcpuRunstate.Blocked);
                break;
            default:
                sv.WorkLeft = long.MaxValue;
                Schedule(pcpu);
                break;
        }
    }

    private long Draw(long mean) => 1 + _random.NextInt64(2 * mean);

    private void BringOnline(SimVcpu sv)
    {
        sv.Gen++;
        sv.WorkLeft = sv.W switch
        {
            IoLikeWorkload io => io.RunNs,
            RandomWorkload r => Draw(r.MeanRunNs),
            YieldingWorkload y => y.RunNs,
            IdleWorkload => 0,
            _ => long.MaxValue,
        };
        DoWake(sv);
        if (sv.W is BurstWorkload b)
        {
            sv.BurstOn = true;
            Push(Now + b.OnNs, EventKind.BurstToggle, sv.V.SimIndex, sv.Gen);
        }
    }

    private void DoWake(SimVcpu sv)
    {
        sv.V.SetState(VcpuRunstate.Runnable, Now);
        _policy.Wake(sv.V, Now, ref _pending);
    }

    /// <summary>vCPU stops being runnable (Blocked/Offline); if it runs, its pCPU reschedules.</summary>
    private void TakeDown(SimVcpu sv, VcpuRunstate state)
    {
        int p = sv.V.Processor;
        if (p >= 0) Account(_pcpus[p]);
        if (state == VcpuRunstate.Offline) sv.Gen++;
        sv.V.SetState(state, Now);
        _policy.Sleep(sv.V, Now, ref _pending);
        if (p >= 0) Schedule(p);
    }

    private void ServeTickles()
    {
        int budget = 64 * CpuMask.MaxCpus;
        while (!_pending.IsEmpty)
        {
            int p = _pending.First();
            _pending.Clear(p);
            if (!_pcpus[p].Online) continue;
            if (--budget < 0)
                throw new SchedulerInvariantException($"policy {_policy.Name}: tickle storm at t={Now} (pCPUs keep tickling each other)");
            Account(_pcpus[p]);
            Schedule(p);
        }
    }

    private void Account(SimPcpu pc)
    {
        long dt = Now - pc.RunStart;
        if (pc.Running is { } sv && dt > 0)
        {
            if (sv.WorkLeft != long.MaxValue) sv.WorkLeft -= dt;
            pc.BusyNs += dt;
        }
        pc.RunStart = Now;
    }

    private void Schedule(int p)
    {
        var pc = _pcpus[p];
        var prev = pc.Running;
        var d = _policy.Schedule(p, Now, prev?.V, ref _pending);
        Decisions++;
        var next = d.Next;
        SimVcpu? nsv = null;
        if (d.SliceNs <= 0)
            throw Violation(p, $"returned a non-positive slice {d.SliceNs} ns");
        if (next != null)
        {
            if (next.SimIndex < 0 || next.SimIndex >= _vcpus.Count || !ReferenceEquals(_vcpus[next.SimIndex].V, next))
                throw Violation(p, $"picked {next}, which is not part of this simulation");
            nsv = _vcpus[next.SimIndex];
            if (nsv.Removed) throw Violation(p, $"picked {next}, which was removed");
            if (!next.IsRunnable) throw Violation(p, $"picked {next} while it is {next.State}");
            if (next.Processor >= 0 && next.Processor != p)
                throw Violation(p, $"picked {next}, which is already running on pCPU {next.Processor}");
            if (!next.HardAffinity.Contains(p))
                throw Violation(p, $"picked {next} outside its hard affinity {next.HardAffinity}");
        }
        pc.Gen++;
        if (prev != null && !ReferenceEquals(prev, nsv))
        {
            prev.V.Processor = -1;
            if (prev.V.State == VcpuRunstate.Running) prev.V.SetState(VcpuRunstate.Runnable, Now);
            pc.Running = null;
        }
        if (nsv != null && !ReferenceEquals(prev, nsv))
        {
            if (next!.LastProcessor >= 0 && next.LastProcessor != p) { nsv.Migrations++; Migrations++; }
            next.SetState(VcpuRunstate.Running, Now);
            next.Processor = p;
            next.LastProcessor = p;
            nsv.Runs++;
            pc.Running = nsv;
        }
        pc.RunStart = Now;
        long endAt = d.SliceNs == ScheduleDecision.Infinite || d.SliceNs > long.MaxValue - Now ? long.MaxValue : Now + d.SliceNs;
        if (nsv != null && nsv.WorkLeft != long.MaxValue)
            endAt = Math.Min(endAt, Now + Math.Max(0, nsv.WorkLeft));
        if (endAt != long.MaxValue) Push(endAt, EventKind.PcpuTimer, p, pc.Gen);
        Decided?.Invoke(new SimDecision(Now, p, prev?.V, next, d.SliceNs));
    }

    private SchedulerInvariantException Violation(int p, string what)
        => new($"policy {_policy.Name} on pCPU {p} at t={Now}ns {what}");

    private void Push(long at, EventKind kind, int index, long gen)
    {
        long seq = _seq++;
        _events.Enqueue(new Event(at, seq, kind, index, gen), (at, seq));
    }

    private SimVcpu Get(SchedVcpu v)
    {
        if (v.SimIndex < 0 || v.SimIndex >= _vcpus.Count || !ReferenceEquals(_vcpus[v.SimIndex].V, v))
            throw new ArgumentException($"{v} is not part of this simulation", nameof(v));
        var sv = _vcpus[v.SimIndex];
        if (sv.Removed) throw new InvalidOperationException($"{v} was removed");
        return sv;
    }

    private static int CheckPcpu(int pcpu)
        => (uint)pcpu < CpuMask.MaxCpus ? pcpu
            : throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");

    private static long ToNs(TimeSpan t) => checked(t.Ticks * 100);

    // ---------------- report ----------------

    public SimulationReport Report()
    {
        long now = Now;
        long busy = 0, online = 0;
        int pcpus = 0;
        foreach (var pc in _pcpus)
        {
            busy += pc.BusyNs;
            online += pc.OnlineNs + (pc.Online ? now - pc.OnlineSince : 0);
            if (pc.Online) pcpus++;
        }
        long totalCpu = 0;
        foreach (var sv in _vcpus) totalCpu += sv.V.RunningNs(now);
        double Share(long cpu) => totalCpu == 0 ? 0 : 100.0 * cpu / totalCpu;
        double Util(long cpu) => now == 0 ? 0 : 100.0 * cpu / now;

        var vreports = new List<VcpuReport>(_vcpus.Count);
        foreach (var sv in _vcpus)
        {
            long cpu = sv.V.RunningNs(now);
            vreports.Add(new VcpuReport(sv.V, cpu, sv.V.RunnableNs(now), sv.V.BlockedNs(now), sv.V.OfflineNs(now),
                Share(cpu), Util(cpu), sv.Runs, sv.Migrations));
        }
        var dreports = new List<DomainReport>(_domains.Count);
        foreach (var d in _domains)
        {
            var mine = vreports.Where(r => ReferenceEquals(r.Vcpu.Domain, d)).ToList();
            long cpu = mine.Sum(r => r.CpuNs);
            dreports.Add(new DomainReport(d, cpu, Share(cpu), Util(cpu), mine.Sum(r => r.Migrations), mine));
        }
        return new SimulationReport(_policy.Name, now, pcpus, Decisions, Migrations, busy, online - busy, dreports, vreports);
    }
}
