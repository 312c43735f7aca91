using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.XenStore;
using XenSharp.XenStore;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Scheduling;
using XenSharp.Scheduling.Pools;

namespace XenSharp.Toolstack.Domains;

/// <summary>
/// The toolstack's domains and their lifecycle (libxl's role): create, destroy, and what
/// happens when a guest shuts down — the xl.cfg on_poweroff / on_reboot / on_crash /
/// on_watchdog action: destroy, restart (a new domain from the same config), preserve (keep
/// the shut-down domain until `xl destroy`). Coredump actions act like their non-dump
/// counterparts (XenSharp writes no core files yet) and say so in the log.
/// Consoles are drained on the guest's notifications and every 50 ms by one timer.
/// </summary>
public sealed class DomainManager : IDisposable
{
    private readonly XenHypervisor _hypervisor;
    private readonly DomainFactory _factory;
    private readonly Dictionary<int, ManagedDomain> _domains = new();
    private readonly Timer _consoleTimer;

    /// <summary>Raised after a domain ended (destroyed, restarted or preserved).</summary>
    public event Action<ManagedDomain, DomainEnd>? DomainEnded;

    public DomainManager(XenHypervisor hypervisor, Xenstored? xenstored = null)
    {
        _hypervisor = hypervisor;
        // Instructions this host's KVM refuses (IRET, INT n, CMPXCHG16B…) are completed here.
        _hypervisor.InstructionEmulator ??= new XenSharp.X86Emulation.VcpuInstructionCompleter();
        Xenstored = xenstored ?? new Xenstored();
        _factory = new DomainFactory(hypervisor, Xenstored);
        _consoleTimer = new Timer(_ => DrainConsoles(), null, 50, 50);
    }

    public XenHypervisor Hypervisor => _hypervisor;

    /// <summary>The store every domain's ring and the xenstored socket talk to.</summary>
    public Xenstored Xenstored { get; }

    /// <summary>
    /// `xl shutdown` / `xl reboot`: asks the guest through XenStore (control/shutdown), as
    /// Xen's toolstack does for guests with PV drivers; the guest acts on its watch.
    /// </summary>
    public void RequestShutdown(ManagedDomain d, string reason) =>
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/control/shutdown", reason);

    /// <summary>Creates and (unless <paramref name="paused"/>) starts a domain. <paramref name="beforeStart"/> runs before its first instruction.</summary>
    public ManagedDomain Create(DomainConfig config, string workingDirectory, bool paused = false, Action<ManagedDomain>? beforeStart = null)
    {
        lock (_domains)
        {
            if (config.Name == ControlDomainName || _domains.Values.Any(d => d.Name == config.Name))
                throw new ToolstackException($"domain with name \"{config.Name}\" already exists");
        }
        var managed = _factory.Create(config, workingDirectory);
        managed.WorkingDirectory = workingDirectory;
        lock (_domains) _domains.Add(managed.Id, managed);
        managed.Domain.ShutdownRequested += OnShutdown;
        beforeStart?.Invoke(managed);
        if (!paused) managed.Domain.Unpause();
        return managed;
    }

    /// <summary>Finds a domain by id or name, as xl accepts either.</summary>
    public ManagedDomain? Find(string idOrName)
    {
        lock (_domains)
        {
            if (int.TryParse(idOrName, out int id) && _domains.TryGetValue(id, out var byId)) return byId;
            return _domains.Values.FirstOrDefault(d => d.Name == idOrName);
        }
    }

    public IReadOnlyList<ManagedDomain> List()
    {
        lock (_domains) return _domains.Values.OrderBy(d => d.Id).ToList();
    }

    /// <summary>`xl destroy`: stops the domain at once and releases everything it held.</summary>
    public void Destroy(ManagedDomain d) => Finish(d, new DomainEnd("destroyed", "destroy", null, null));

    /// <summary>`xl unpause`: starts a domain created paused, or resumes one paused by <see cref="Pause"/>.</summary>
    public void Unpause(ManagedDomain d) => d.Domain.Unpause();

    /// <summary>The control domain's name (the daemon plays domain 0).</summary>
    public const string ControlDomainName = "Domain-0";

    /// <summary>`xl pause`: stops every vCPU of a running domain at its next exit, keeping its state.</summary>
    public void Pause(ManagedDomain d)
    {
        if (!d.Domain.Pause())
            throw new ToolstackException($"domain {d.Id} ({d.Name}) is not running: cannot pause it");
    }

    /// <summary>
    /// `xl rename`: gives a domain a new name (also in XenStore: /local/domain/N/name and
    /// /vm/UUID/name); refuses an invalid name or one another domain has.
    /// </summary>
    public void Rename(ManagedDomain d, string newName)
    {
        if (!DomainConfig.IsValidName(newName))
            throw new ToolstackException($"\"{newName}\" is not a valid domain name (not empty, no '/' or control characters, not only digits)");
        lock (_domains)
        {
            if (d.Name == newName) return;
            if (newName == ControlDomainName || _domains.Values.Any(o => o != d && o.Name == newName))
                throw new ToolstackException($"Domain with name \"{newName}\" already exists.");
            if (!_domains.ContainsKey(d.Id))
                throw new ToolstackException($"domain {d.Id} is gone");
            d.Domain.Name = newName;
            d.Config = d.Config with { Name = newName };
        }
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/name", newName);
        Xenstored.Write($"{DomainXenStoreNodes.VmPath(d.Domain.Uuid)}/name", newName);
        _hypervisor.Log.Xen($"d{d.Id}: renamed to {newName}");
    }

    /// <summary>
    /// `xl create -n`: the checks <see cref="Create"/> makes before building anything (type,
    /// kernel and ramdisk files, memory), without creating a domain.
    /// </summary>
    public void Validate(DomainConfig config, string workingDirectory) => _factory.Validate(config, workingDirectory);

    private void OnShutdown(Domain domain, ShutdownReason reason)
    {
        ManagedDomain? d;
        lock (_domains) d = _domains.GetValueOrDefault(domain.Id);
        if (d is null) return;
        d.Console.Drain();

        var action = reason switch
        {
            ShutdownReason.Poweroff => d.Config.OnPoweroff,
            ShutdownReason.Reboot => d.Config.OnReboot,
            ShutdownReason.Crash => d.Config.OnCrash,
            ShutdownReason.Watchdog => d.Config.OnWatchdog,
            _ => ShutdownAction.Destroy,
        };
        string reasonText = reason.ToString().ToLowerInvariant();
        string actionText = ActionName(action);
        _hypervisor.Log.Xen($"d{domain.Id}: {reasonText}: on_{(reason == ShutdownReason.Poweroff ? "poweroff" : reasonText)} = {actionText}");
        if (action is ShutdownAction.CoredumpDestroy or ShutdownAction.CoredumpRestart)
            _hypervisor.Log.Xen($"d{domain.Id}: no core dump written (not supported yet)");

        switch (action)
        {
            case ShutdownAction.Preserve:
                d.End = new DomainEnd(reasonText, actionText, null, domain.CrashDetail);
                d.Console.Output.Close();
                DomainEnded?.Invoke(d, d.End);
                break;
            case ShutdownAction.Restart or ShutdownAction.RenameRestart or ShutdownAction.CoredumpRestart:
            {
                int? newId = null;
                Remove(d);
                try
                {
                    newId = Create(d.Config, d.WorkingDirectory).Id;
                }
                catch (Exception e)
                {
                    _hypervisor.Log.Xen($"d{domain.Id}: restart failed: {e.Message}");
                }
                Finish(d, new DomainEnd(reasonText, actionText, newId, domain.CrashDetail), alreadyRemoved: true);
                break;
            }
            default:
                Finish(d, new DomainEnd(reasonText, actionText, null, domain.CrashDetail));
                break;
        }
    }

    private static string ActionName(ShutdownAction a) => a switch
    {
        ShutdownAction.RenameRestart => "rename-restart",
        ShutdownAction.CoredumpDestroy => "coredump-destroy",
        ShutdownAction.CoredumpRestart => "coredump-restart",
        ShutdownAction.SoftReset => "soft-reset",
        _ => a.ToString().ToLowerInvariant(),
    };

    private void Remove(ManagedDomain d)
    {
        lock (_domains) _domains.Remove(d.Id);
    }

    private void Finish(ManagedDomain d, DomainEnd end, bool alreadyRemoved = false)
    {
        if (!alreadyRemoved) Remove(d);
        d.Domain.ShutdownRequested -= OnShutdown;
        d.End ??= end;
        d.Domain.Stop();
        d.Console.Drain();
        d.Console.Detach();
        d.Store.Detach();
        DomainXenStoreNodes.Remove(Xenstored, d.Id, d.Domain.Uuid);
        Xenstored.ReleaseDomain(d.Id);
        d.Domain.Destroy();
        d.Console.Output.Close();
        DomainEnded?.Invoke(d, d.End);
    }

    private void DrainConsoles()
    {
        foreach (var d in List())
        {
            if (d.Domain.State is DomainState.Running or DomainState.Shutdown)
            {
                d.Console.Drain();
                d.Store.Pump();
            }
        }
    }

    // ------------------------------------------------------------------ scheduling (xl vcpu-pin, sched-*, cpupool-*)

    /// <summary>A SchedDomain in no pool: AdjustDomain on it only delivers the tickles a cpupool operation left pending.</summary>
    private static readonly SchedDomain s_flush = new(0, "cpupool-flush");

    /// <summary>The warning for scheduling keys under sched=none (see <see cref="DomainFactory.SchedulingWarning"/>), or null.</summary>
    public string? SchedulingWarning(DomainConfig config) => _factory.SchedulingWarning(config);

    private VcpuScheduler RequireScheduler(string what) =>
        _hypervisor.Scheduler ?? throw new ToolstackException($"{what}: the hypervisor runs without a scheduler (sched=none); start the daemon with sched=credit2, credit or null");

    private static CpuMask ParseMask(string text, string what)
    {
        if (!CpuMask.TryParse(text, out var mask, out string error))
            throw new ToolstackException($"{what}: {error}");
        if (mask.IsEmpty)
            throw new ToolstackException($"{what}: cpu list \"{text}\" names no CPU; accepted: \"all\" or CPU numbers and ranges such as \"0-3,^2\"");
        return mask;
    }

    /// <summary>The pCPUs of the pool a domain is in (all pCPUs without cpupools), under the scheduler's lock.</summary>
    private static (CpuMask Cpus, string Pool) PoolCpus(VcpuScheduler scheduler, ISchedulerPolicy policy, SchedDomain sd) =>
        policy is CpuPoolSet pools && pools.TryGetPool(sd.Pool, out var pool)
            ? (pool.Cpus, pool.Name)
            : (CpuMask.Range(0, scheduler.PcpuCount - 1), sd.Pool);

    /// <summary>
    /// `xl vcpu-pin`: sets the hard (and, unless "-", soft) affinity of one vCPU or all.
    /// <paramref name="hard"/> "-" keeps the hard affinity. A hard mask must name a pCPU of the domain's pool.
    /// </summary>
    public void PinVcpus(ManagedDomain d, string vcpu, string hard, string? soft)
    {
        var scheduler = RequireScheduler("vcpu-pin");
        var sd = d.Domain.Sched!;
        int count = d.Domain.Vcpus.Count;
        int first = 0, last = count - 1;
        if (vcpu != "all")
        {
            if (!int.TryParse(vcpu, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) || index >= count)
                throw new ToolstackException($"vcpu-pin: vCPU \"{vcpu}\" is out of range for domain {d.Id} ({d.Name}): accepted: 0..{count - 1} or all");
            first = last = index;
        }
        bool keepHard = hard == "-";
        bool keepSoft = soft is null || soft == "-";
        if (keepHard && keepSoft) throw new ToolstackException("vcpu-pin: nothing to change: give a hard affinity, a soft one, or both (\"-\" keeps one as it is)");
        CpuMask hardMask = keepHard ? default : ParseMask(hard, "vcpu-pin: hard affinity");
        CpuMask softMask = keepSoft ? default : ParseMask(soft!, "vcpu-pin: soft affinity");
        scheduler.WithPolicy(policy =>
        {
            var (cpus, pool) = PoolCpus(scheduler, policy, sd);
            if (!keepHard && !hardMask.Intersects(cpus))
                throw new ToolstackException($"vcpu-pin: hard affinity \"{hardMask}\" names no pCPU of cpupool \"{pool}\", where domain {d.Id} ({d.Name}) is (its pCPUs: {cpus})");
            for (int i = first; i <= last; i++)
            {
                var v = d.Domain.Vcpus[i];
                var s = v.Sched!;
                CpuMask h = keepHard ? s.HardAffinity : hardMask;
                CpuMask so = keepSoft ? s.SoftAffinity : softMask;
                if (s.State == VcpuRunstate.Offline) s.SetAffinityMasks(h, so); // not in the policy: it reads them at insert
                else scheduler.SetAffinity(v, h, so);
            }
            return 0;
        });
        _hypervisor.Log.Xen($"d{d.Id}: vcpu-pin {vcpu} hard={(keepHard ? "-" : hardMask.ToString())} soft={(keepSoft ? "-" : softMask.ToString())}");
    }

    /// <summary>The policy of the pool named <paramref name="pool"/> (Pool-0 when null), under the lock.</summary>
    private static CpuPool FindPool(ISchedulerPolicy policy, string? pool)
    {
        if (policy is not CpuPoolSet pools) throw new ToolstackException("cpupools are not available with this scheduler");
        string name = pool ?? CpuPoolSet.Pool0Name;
        return pools.TryGetPool(name, out var p) ? p
            : throw new ToolstackException($"cpupool \"{name}\" does not exist (existing: {string.Join(", ", pools.Pools.Select(x => x.Name))})");
    }

    /// <summary>`xl sched-credit/-credit2 -d D -w W -c C`: the domain's weight and/or cap, when its pool runs <paramref name="sched"/>.</summary>
    public void SetDomainSched(ManagedDomain d, string sched, int? weight, int? cap)
    {
        var scheduler = RequireScheduler($"sched-{sched}");
        var sd = d.Domain.Sched!;
        if (weight is { } w && w is < SchedDomain.MinWeight or > SchedDomain.MaxWeight)
            throw new ToolstackException($"sched-{sched}: weight {w} is out of range: accepted {SchedDomain.MinWeight}..{SchedDomain.MaxWeight} (default {SchedDomain.DefaultWeight})");
        int maxCap = 100 * d.Domain.Vcpus.Count;
        if (cap is { } c && (c < 0 || c > maxCap))
            throw new ToolstackException($"sched-{sched}: cap {c} is out of range for domain {d.Id} ({d.Name}): accepted 0..{maxCap} (percent of one pCPU, 100 × {d.Domain.Vcpus.Count} vCPU(s); 0 = no cap)");
        scheduler.WithPolicy(policy =>
        {
            string used = policy is CpuPoolSet pools && pools.TryGetPool(sd.Pool, out var pool) ? pool.Scheduler : policy.Name;
            if (used != sched)
                throw new ToolstackException($"sched-{sched}: domain {d.Name} is in pool {sd.Pool} which uses {used}");
            if (weight is { } nw) sd.Weight = nw;
            if (cap is { } nc) sd.Cap = nc;
            return 0;
        });
        scheduler.AdjustDomain(sd);
    }

    /// <summary>`xl sched-credit2 -s -r` / `xl sched-credit -s -t -r`: a pool's scheduler parameters.</summary>
    public void SetPoolSched(string? pool, string sched, int? ratelimitUs, int? tsliceMs)
    {
        var scheduler = RequireScheduler($"sched-{sched}");
        scheduler.WithPolicy(policy =>
        {
            var p = FindPool(policy, pool);
            if (p.Scheduler != sched)
                throw new ToolstackException($"sched-{sched}: cpupool {p.Name} uses {p.Scheduler}, not {sched}");
            try
            {
                switch (p.Policy)
                {
                    case Credit2Scheduler c2 when ratelimitUs is { } r:
                        c2.SetRatelimit(r);
                        break;
                    case CreditScheduler c1 when ratelimitUs is not null || tsliceMs is not null:
                        c1.SetParameters(tsliceMs ?? c1.TsliceMs, ratelimitUs ?? c1.RatelimitUs);
                        break;
                }
            }
            catch (ArgumentException e)
            {
                throw new ToolstackException($"sched-{sched}: {e.Message.Split(" (Parameter")[0]}");
            }
            return 0;
        });
        scheduler.AdjustDomain(s_flush);
    }

    /// <summary>Runs a cpupool operation under the scheduler's lock, then delivers the reschedules it asked for.</summary>
    private T PoolOp<T>(string what, Func<CpuPoolSet, long, T> op)
    {
        var scheduler = RequireScheduler(what);
        try
        {
            return scheduler.WithPolicy(policy =>
            {
                if (policy is not CpuPoolSet pools) throw new ToolstackException($"{what}: cpupools are not available with this scheduler");
                return op(pools, XenSharp.Hypervisor.Time.HostClock.NowNs());
            });
        }
        catch (CpuPoolException e)
        {
            throw new ToolstackException($"{what}: {e.Message}");
        }
        finally
        {
            scheduler.AdjustDomain(s_flush);
        }
    }

    /// <summary>`xl cpupool-list`: the pools (id order) with the toolstack's domain count (Domain-0 counts in Pool-0).</summary>
    public IReadOnlyList<(CpuPoolInfo Info, int Domains)> ListPools()
    {
        var domains = List();
        return PoolOp("cpupool-list", (pools, _) => pools.List()
            .Select(i => (i, domains.Count(d => d.Domain.Sched?.Pool == i.Name) + (i.Id == 0 ? 1 : 0)))
            .ToList());
    }

    /// <summary>`xl cpupool-create`: a pool named <paramref name="name"/> running <paramref name="sched"/> on <paramref name="cpus"/> (may be empty).</summary>
    public CpuPoolInfo CreatePool(string name, string sched, string? cpus)
    {
        if (!SchedulerFactory.IsAvailable(sched))
            throw new ToolstackException($"cpupool-create: unknown scheduler \"{sched}\" (accepted: {string.Join(", ", SchedulerFactory.AvailableNames)})");
        CpuMask mask = string.IsNullOrWhiteSpace(cpus) ? default : ParseMask(cpus, "cpupool-create: cpus");
        var info = PoolOp("cpupool-create", (pools, now) =>
        {
            pools.Create(name, sched, mask, now);
            return pools.List().Single(p => p.Name == name);
        });
        _hypervisor.Log.Xen($"cpupool-create: {name} sched={sched} cpus={(mask.IsEmpty ? "none" : mask.ToString())}");
        return info;
    }

    /// <summary>`xl cpupool-destroy`: refused while any domain (started or not) names the pool.</summary>
    public void DestroyPool(string name)
    {
        var users = List().Where(d => d.Domain.Sched?.Pool == name).Select(d => $"{d.Name} ({d.Id})").ToList();
        if (users.Count > 0)
            throw new ToolstackException($"cpupool-destroy: cpupool \"{name}\" cannot be destroyed: it has {users.Count} domain(s) ({string.Join(", ", users)}); cpupool-migrate or destroy them first");
        PoolOp("cpupool-destroy", (pools, now) => { pools.Destroy(name, now); return 0; });
        _hypervisor.Log.Xen($"cpupool-destroy: {name}");
    }

    /// <summary>`xl cpupool-cpu-add` / `cpupool-cpu-remove`.</summary>
    public void PoolCpus(string name, string cpus, bool add)
    {
        string what = add ? "cpupool-cpu-add" : "cpupool-cpu-remove";
        CpuMask mask = ParseMask(cpus, $"{what}: cpus");
        PoolOp(what, (pools, now) =>
        {
            if (add) pools.CpuAdd(name, mask, now);
            else pools.CpuRemove(name, mask, now);
            return 0;
        });
        _hypervisor.Log.Xen($"{what}: {name} {mask}");
    }

    /// <summary>
    /// `xl cpupool-migrate`: pauses a running domain, waits until none of its vCPUs holds or
    /// wants a pCPU, moves it (CpuPoolSet.MoveDomain keeps weight, cap and affinities), unpauses.
    /// </summary>
    public void MigrateToPool(ManagedDomain d, string pool)
    {
        var scheduler = RequireScheduler("cpupool-migrate");
        var sd = d.Domain.Sched!;
        bool paused = d.Domain.State == DomainState.Running && d.Domain.Pause();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (true)
            {
                bool moved = PoolOp("cpupool-migrate", (pools, now) =>
                {
                    if (!pools.TryGetPool(pool, out _))
                        throw new CpuPoolException($"cpupool \"{pool}\" does not exist (existing: {string.Join(", ", pools.Pools.Select(x => x.Name))})");
                    if (sd.Vcpus.Any(v => v.State is VcpuRunstate.Running or VcpuRunstate.Runnable) && DateTime.UtcNow < deadline)
                        return false;
                    pools.MoveDomain(sd, pool, now);
                    return true;
                });
                if (moved) break;
                Thread.Sleep(5);
            }
            scheduler.AdjustDomain(sd);
        }
        finally
        {
            if (paused) d.Domain.Unpause();
        }
        _hypervisor.Log.Xen($"d{d.Id}: cpupool-migrate to {pool}");
    }

    public void Dispose()
    {
        _consoleTimer.Dispose();
        foreach (var d in List()) Destroy(d);
    }
}
