using System.Globalization;
using System.Text;

namespace XenSharp.Scheduling.Pools;

// Cpupools (Xen's xen/common/sched/cpupool.c and the xl cpupool-* commands), as pure logic.
//
// Idea: the host's pCPUs are partitioned into named pools; each pool runs its own scheduling
// policy instance over its own pCPUs and its own domains, so workloads can be isolated and each
// partition can use the scheduler that suits it. A pCPU belongs to at most one pool (or is
// "free"); a domain belongs to exactly one pool (SchedDomain.Pool names it).
//
// The set is itself an ISchedulerPolicy: the mechanism (pCPU threads, the simulator) drives it
// like any policy and it routes each call to the right pool's policy — Schedule by pCPU, vCPU
// calls by the vCPU's domain, the timer to whichever pools are due. Free pCPUs idle.
//
// Invariants:
//  - every online pCPU is in exactly one pool or in the free set; pCPU 0 stays in Pool-0;
//  - Pool-0 exists from the start, owns every pCPU that comes online, and cannot be destroyed;
//  - a domain's vCPUs are all inserted in its pool's policy, and each one's hard affinity
//    intersects that pool's pCPUs (so its vCPUs only ever run on its pool's pCPUs);
//  - a pool with domains keeps at least one pCPU; a pool is destroyed only without domains.
// Management operations (Create, Destroy, CpuAdd, CpuRemove, MoveDomain) take the time `now` and
// the caller's lock like every other call. The pCPUs they need rescheduled are delivered in the
// tickle mask of the next policy call, and NextTimerAt becomes `now` until then, so the mechanism
// picks them up at once. MoveDomain needs the domain's vCPUs descheduled first (Xen pauses the
// domain): take them offline, move, bring them back online.
// Errors: CpuPoolException with a message naming the pool/pCPU/domain and the way out.
public sealed class CpuPoolSet : ISchedulerPolicy
{
    public const string Pool0Name = "Pool-0";

    private sealed class DomEntry(CpuPool pool)
    {
        public CpuPool Pool = pool;
        public int Vcpus;
    }

    private readonly Func<string, ISchedulerPolicy> _factory;
    private readonly List<CpuPool> _pools = new();
    private readonly CpuPool?[] _poolOfCpu = new CpuPool?[CpuMask.MaxCpus];
    private readonly Dictionary<SchedDomain, DomEntry> _domains = new();
    private CpuMask _online;
    private CpuMask _pendingTickles;
    private long _pendingAt = long.MaxValue;
    private int _nextId = 1;

    /// <param name="pool0Scheduler">Scheduler of Pool-0 (Xen's sched= boot option).</param>
    /// <param name="factory">Makes a policy from a scheduler name; default <see cref="SchedulerFactory.Create"/>.</param>
    public CpuPoolSet(string pool0Scheduler = "credit", Func<string, ISchedulerPolicy>? factory = null)
    {
        _factory = factory ?? SchedulerFactory.Create;
        _pools.Add(new CpuPool(0, Pool0Name, MakePolicy(pool0Scheduler)));
    }

    public string Name => "cpupools";

    public IReadOnlyList<CpuPool> Pools => _pools;

    public CpuPool Pool0 => _pools[0];

    /// <summary>The pool named <paramref name="name"/>; throws <see cref="CpuPoolException"/> if none.</summary>
    public CpuPool this[string name] => Find(name);

    public bool TryGetPool(string name, out CpuPool pool)
    {
        foreach (var p in _pools)
            if (p.Name == name) { pool = p; return true; }
        pool = null!;
        return false;
    }

    /// <summary>Online pCPUs.</summary>
    public CpuMask OnlineCpus => _online;

    /// <summary>Online pCPUs in no pool (cpupool_free_cpus).</summary>
    public CpuMask FreeCpus
    {
        get
        {
            var m = _online;
            foreach (var p in _pools) m.AndNot(p.Cpus);
            return m;
        }
    }

    /// <summary>Pool owning <paramref name="pcpu"/>, or null if it is free or offline.</summary>
    public CpuPool? PoolOfCpu(int pcpu) => (uint)pcpu < CpuMask.MaxCpus ? _poolOfCpu[pcpu] : null;

    /// <summary>Pool the domain is in (its vCPUs are inserted there), or null if it has none inserted.</summary>
    public CpuPool? PoolOf(SchedDomain d) => _domains.TryGetValue(d, out var e) ? e.Pool : null;

    /// <summary>pCPUs pending a reschedule because of a management operation (delivered with the next call).</summary>
    public CpuMask PendingTickles => _pendingTickles;

    // ---------------- xl cpupool-* ----------------

    /// <summary>xl cpupool-create: a new pool named <paramref name="name"/> running
    /// <paramref name="scheduler"/> on <paramref name="cpus"/> (free pCPUs; may be empty).</summary>
    public CpuPool Create(string name, string scheduler, in CpuMask cpus, long now)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim() != name)
            throw new CpuPoolException($"cpupool name \"{name}\" is not valid: it must be non-empty, without leading/trailing blanks");
        if (TryGetPool(name, out _))
            throw new CpuPoolException($"cpupool \"{name}\" already exists; choose another name (cpupool-list shows the existing ones)");
        foreach (int cpu in cpus) CheckFree(cpu, name);
        var pool = new CpuPool(_nextId, name, MakePolicy(scheduler));
        _nextId++;
        _pools.Add(pool);
        foreach (int cpu in cpus) Assign(pool, cpu, now);
        return pool;
    }

    /// <summary>xl cpupool-destroy: only a pool without domains; its pCPUs become free.</summary>
    public void Destroy(string name, long now)
    {
        var pool = Find(name);
        if (pool.Id == 0) throw new CpuPoolException($"cpupool \"{Pool0Name}\" cannot be destroyed: it is the default pool and keeps pCPU 0");
        if (pool.DomainList.Count > 0)
            throw new CpuPoolException($"cpupool \"{name}\" cannot be destroyed: it has {pool.DomainList.Count} domain(s) ({DomainNames(pool)}); cpupool-migrate or destroy them first");
        foreach (int cpu in pool.Cpus) Unassign(pool, cpu, now);
        _pools.Remove(pool);
    }

    /// <summary>xl cpupool-cpu-add: moves free pCPUs into the pool. All are checked before any moves.</summary>
    public void CpuAdd(string name, in CpuMask cpus, long now)
    {
        var pool = Find(name);
        if (cpus.IsEmpty) throw new CpuPoolException($"cpupool-cpu-add \"{name}\": no pCPU given");
        foreach (int cpu in cpus)
        {
            if (_poolOfCpu[cpu] == pool) throw new CpuPoolException($"pCPU {cpu} is already in cpupool \"{name}\"");
            CheckFree(cpu, name);
        }
        foreach (int cpu in cpus) Assign(pool, cpu, now);
    }

    /// <summary>xl cpupool-cpu-remove: the pCPUs leave the pool and become free. Refused for pCPU 0
    /// of Pool-0, for the last pCPU of a pool with domains, and for a pCPU the pool's policy says a
    /// vCPU cannot do without (hard affinity; a null-scheduler assignment). pCPUs are removed one
    /// after the other (as xl does): on an error, the ones before it are already free.</summary>
    public void CpuRemove(string name, in CpuMask cpus, long now)
    {
        var pool = Find(name);
        if (cpus.IsEmpty) throw new CpuPoolException($"cpupool-cpu-remove \"{name}\": no pCPU given");
        foreach (int cpu in cpus)
        {
            if (_poolOfCpu[cpu] != pool)
                throw new CpuPoolException($"pCPU {cpu} is not in cpupool \"{name}\" (its pCPUs: {pool.Cpus})");
            if (pool.Id == 0 && cpu == 0)
                throw new CpuPoolException($"pCPU 0 cannot be removed from {Pool0Name}: Xen keeps it there");
        }
        foreach (int cpu in cpus)
        {
            if (pool.DomainList.Count > 0 && pool.Cpus.Count == 1)
                throw new CpuPoolException($"cannot remove pCPU {cpu} from cpupool \"{name}\": it is the last pCPU of a pool with {pool.DomainList.Count} domain(s) ({DomainNames(pool)}); cpupool-migrate them first");
            if (!pool.Policy.CanRemovePcpu(cpu))
                throw new CpuPoolException($"cannot remove pCPU {cpu} from cpupool \"{name}\": the {pool.Scheduler} scheduler has a vCPU that must keep it (its hard affinity has no other pCPU of the pool{(pool.Scheduler == "null" ? ", or it is assigned there" : "")}); change that vCPU's affinity first");
            Unassign(pool, cpu, now);
        }
    }

    /// <summary>xl cpupool-migrate: moves the domain's vCPUs from its pool's policy into the target
    /// pool's, keeping weight, cap and affinities. The vCPUs must not be running (pause the domain).</summary>
    public void MoveDomain(SchedDomain d, string poolName, long now)
    {
        ArgumentNullException.ThrowIfNull(d);
        var target = Find(poolName);
        var from = PoolOf(d);
        if (from == target || (from == null && d.Pool == poolName)) return;
        if (d.Id == 0) throw new CpuPoolException($"Domain-0 ({d}) can't be moved to another cpupool");
        if (target.Cpus.IsEmpty)
            throw new CpuPoolException($"cannot move {d} to cpupool \"{poolName}\": the pool has no pCPUs (cpupool-cpu-add some first)");
        foreach (var v in d.Vcpus)
            if (!v.HardAffinity.Intersects(target.Cpus))
                throw new CpuPoolException($"cannot move {d} to cpupool \"{poolName}\": {v}'s hard affinity {v.HardAffinity} names no pCPU of that pool ({target.Cpus}); change its affinity first");
        if (from == null)
        {
            d.Pool = poolName; // nothing inserted yet: only the bookkeeping moves
            return;
        }
        foreach (var v in d.Vcpus)
            if (v.Processor >= 0)
                throw new CpuPoolException($"cannot move {d} to cpupool \"{poolName}\" now: {v} is running on pCPU {v.Processor}; pause the domain (deschedule its vCPUs) first");
        var entry = _domains[d];
        foreach (var v in d.Vcpus)
            if (v.PolicyData != null) from.Policy.RemoveVcpu(v, now, ref _pendingTickles);
        from.DomainList.Remove(d);
        d.Pool = poolName;
        entry.Pool = target;
        target.DomainList.Add(d);
        foreach (var v in d.Vcpus) target.Policy.InsertVcpu(v, now, ref _pendingTickles);
        NotePending(now);
    }

    /// <summary>xl cpupool-list, as data (pool id order).</summary>
    public IReadOnlyList<CpuPoolInfo> List()
    {
        var rows = new List<CpuPoolInfo>(_pools.Count);
        foreach (var p in _pools.OrderBy(p => p.Id))
            rows.Add(new CpuPoolInfo(p.Name, p.Id, p.Cpus.Count, p.Scheduler, true, p.DomainList.Count, p.Cpus));
        return rows;
    }

    /// <summary>xl cpupool-list's text (with <paramref name="cpus"/>: xl cpupool-list -c).</summary>
    public string FormatList(bool cpus = false)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (cpus)
        {
            sb.AppendLine("Name               CPU list");
            foreach (var r in List()) sb.AppendLine(ci, $"{r.Name,-19}{(r.Cpus.IsEmpty ? "" : r.Cpus.ToString())}");
        }
        else
        {
            sb.AppendLine("Name               CPUs   Sched     Active   Domain count");
            foreach (var r in List())
                sb.AppendLine(ci, $"{r.Name,-19}{r.CpuCount,4}    {r.Sched,-10}{(r.Active ? "y" : "n"),4}{r.DomainCount,11}");
        }
        return sb.ToString();
    }

    // ---------------- helpers ----------------

    private ISchedulerPolicy MakePolicy(string scheduler)
    {
        try
        {
            return _factory(scheduler ?? throw new ArgumentNullException(nameof(scheduler)));
        }
        catch (ArgumentException e)
        {
            throw new CpuPoolException(e.Message.Split(" (Parameter")[0]);
        }
    }

    private CpuPool Find(string name)
    {
        if (name != null && TryGetPool(name, out var p)) return p;
        throw new CpuPoolException($"cpupool \"{name}\" does not exist (known: {string.Join(", ", _pools.Select(x => x.Name))})");
    }

    private void CheckFree(int cpu, string forPool)
    {
        if (!_online.Contains(cpu))
            throw new CpuPoolException($"pCPU {cpu} is not online (online pCPUs: {_online})");
        if (_poolOfCpu[cpu] is { } owner)
            throw new CpuPoolException($"pCPU {cpu} is busy: it belongs to cpupool \"{owner.Name}\"; cpupool-cpu-remove it there before adding it to \"{forPool}\"");
    }

    private static string DomainNames(CpuPool pool) => string.Join(", ", pool.DomainList.Select(d => d.ToString()));

    private void Assign(CpuPool pool, int cpu, long now)
    {
        pool.AddCpu(cpu);
        _poolOfCpu[cpu] = pool;
        pool.Policy.AddPcpu(cpu, now, ref _pendingTickles);
        _pendingTickles.Set(cpu); // whatever ran there (another pool's vCPU) must make room
        NotePending(now);
    }

    private void Unassign(CpuPool pool, int cpu, long now)
    {
        pool.Policy.RemovePcpu(cpu, now, ref _pendingTickles);
        pool.RemoveCpu(cpu);
        _poolOfCpu[cpu] = null;
        _pendingTickles.Set(cpu); // it idles from now on: take its vCPU off
        NotePending(now);
    }

    private void NotePending(long now)
    {
        if (!_pendingTickles.IsEmpty && _pendingAt == long.MaxValue) _pendingAt = now;
    }

    private void Flush(ref CpuMask tickle)
    {
        if (_pendingAt == long.MaxValue && _pendingTickles.IsEmpty) return;
        tickle.Or(_pendingTickles);
        _pendingTickles.ClearAll();
        _pendingAt = long.MaxValue;
    }

    private CpuPool PoolForVcpu(SchedVcpu v)
    {
        if (_domains.TryGetValue(v.Domain, out var e)) return e.Pool;
        throw new InvalidOperationException($"cpupools: {v} is not inserted in any pool");
    }

    /// <summary>prev left a pCPU outside its pool: its pool's pCPUs it may use should look at it.</summary>
    private static void TickleForeign(SchedVcpu prev, CpuPool pool, ref CpuMask tickle)
    {
        if (!prev.IsRunnable) return;
        var m = pool.Cpus;
        m.And(prev.HardAffinity);
        tickle.Or(m);
    }

    // ---------------- ISchedulerPolicy: routing ----------------

    /// <summary>A pCPU comes online: it joins Pool-0 (Xen adds hot-plugged pCPUs to Pool-0).</summary>
    public void AddPcpu(int pcpu, long now, ref CpuMask tickle)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
        if (_online.Contains(pcpu)) throw new InvalidOperationException($"cpupools: pCPU {pcpu} is already online");
        _online.Set(pcpu);
        var p0 = Pool0;
        p0.AddCpu(pcpu);
        _poolOfCpu[pcpu] = p0;
        p0.Policy.AddPcpu(pcpu, now, ref tickle);
        Flush(ref tickle);
    }

    public bool CanRemovePcpu(int pcpu)
    {
        if (!_online.Contains(pcpu)) return false;
        var pool = _poolOfCpu[pcpu];
        if (pool == null) return true;
        if (pool.DomainList.Count > 0 && pool.Cpus.Count == 1) return false;
        return pool.Policy.CanRemovePcpu(pcpu);
    }

    /// <summary>A pCPU goes offline: it leaves its pool (or the free set).</summary>
    public void RemovePcpu(int pcpu, long now, ref CpuMask tickle)
    {
        if (!_online.Contains(pcpu)) throw new InvalidOperationException($"cpupools: pCPU {pcpu} is not online");
        var pool = _poolOfCpu[pcpu];
        if (pool != null)
        {
            if (pool.DomainList.Count > 0 && pool.Cpus.Count == 1)
                throw new CpuPoolException($"pCPU {pcpu} cannot go offline: it is the last pCPU of cpupool \"{pool.Name}\", which has domains");
            pool.Policy.RemovePcpu(pcpu, now, ref tickle);
            pool.RemoveCpu(pcpu);
            _poolOfCpu[pcpu] = null;
        }
        _online.Clear(pcpu);
        _pendingTickles.Clear(pcpu);
        Flush(ref tickle);
    }

    public void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        ArgumentNullException.ThrowIfNull(v);
        var d = v.Domain;
        if (!_domains.TryGetValue(d, out var e))
        {
            if (!TryGetPool(d.Pool, out var pool))
                throw new CpuPoolException($"{d} names cpupool \"{d.Pool}\", which does not exist (known: {string.Join(", ", _pools.Select(x => x.Name))})");
            if (pool.Cpus.IsEmpty)
                throw new CpuPoolException($"cannot add {d} to cpupool \"{pool.Name}\": the pool has no pCPUs");
            e = new DomEntry(pool);
        }
        if (!v.HardAffinity.Intersects(e.Pool.Cpus))
            throw new CpuPoolException($"{v}'s hard affinity {v.HardAffinity} names no pCPU of its cpupool \"{e.Pool.Name}\" ({e.Pool.Cpus})");
        e.Pool.Policy.InsertVcpu(v, now, ref tickle);
        if (e.Vcpus++ == 0)
        {
            _domains[d] = e;
            e.Pool.DomainList.Add(d);
        }
        Flush(ref tickle);
    }

    public void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle)
    {
        if (!_domains.TryGetValue(v.Domain, out var e))
            throw new InvalidOperationException($"cpupools: {v} is not inserted in any pool");
        e.Pool.Policy.RemoveVcpu(v, now, ref tickle);
        if (--e.Vcpus == 0)
        {
            _domains.Remove(v.Domain);
            e.Pool.DomainList.Remove(v.Domain);
        }
        Flush(ref tickle);
    }

    public void Sleep(SchedVcpu v, long now, ref CpuMask tickle)
    {
        PoolForVcpu(v).Policy.Sleep(v, now, ref tickle);
        Flush(ref tickle);
    }

    public void Wake(SchedVcpu v, long now, ref CpuMask tickle)
    {
        PoolForVcpu(v).Policy.Wake(v, now, ref tickle);
        Flush(ref tickle);
    }

    public void Yield(SchedVcpu v, long now) => PoolForVcpu(v).Policy.Yield(v, now);

    public ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle)
    {
        Flush(ref tickle);
        var pool = (uint)pcpu < CpuMask.MaxCpus ? _poolOfCpu[pcpu] : null;
        if (prev != null && _domains.TryGetValue(prev.Domain, out var pe) && pe.Pool != pool)
        {
            // prev ran here before this pCPU left its pool: it is off now, its pool can take it.
            TickleForeign(prev, pe.Pool, ref tickle);
            prev = null;
        }
        return pool == null ? ScheduleDecision.Idle : pool.Policy.Schedule(pcpu, now, prev, ref tickle);
    }

    public void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle)
    {
        var pool = PoolForVcpu(v);
        if (!hard.Intersects(pool.Cpus))
            throw new CpuPoolException($"hard affinity {hard} for {v} names no pCPU of its cpupool \"{pool.Name}\" ({pool.Cpus})");
        pool.Policy.SetAffinity(v, hard, soft, now, ref tickle);
        Flush(ref tickle);
    }

    public void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle)
    {
        if (_domains.TryGetValue(d, out var e)) e.Pool.Policy.AdjustDomain(d, now, ref tickle);
        Flush(ref tickle);
    }

    public long NextTimerAt
    {
        get
        {
            long t = _pendingAt;
            for (int i = 0; i < _pools.Count; i++)
            {
                long p = _pools[i].Policy.NextTimerAt;
                if (p < t) t = p;
            }
            return t;
        }
    }

    public void OnTimer(long now, ref CpuMask tickle)
    {
        Flush(ref tickle);
        for (int i = 0; i < _pools.Count; i++)
        {
            var policy = _pools[i].Policy;
            if (policy.NextTimerAt <= now) policy.OnTimer(now, ref tickle);
        }
    }
}
