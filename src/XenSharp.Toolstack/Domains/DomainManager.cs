using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
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
/// the shut-down domain until `xl destroy`). The coredump actions first write the domain's
/// core file (<see cref="CoreDump"/>) into <see cref="DumpDirectory"/>, then destroy or restart.
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

    /// <summary>Where core files go (StatePaths.DumpDirectory; the daemon sets it).</summary>
    public string DumpDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "xensharp-dump");

    /// <summary>
    /// `xl dump-core`: writes the domain's core file to <paramref name="path"/> (or a new file in
    /// <see cref="DumpDirectory"/>) while it is paused, then lets it run on if it was running.
    /// Returns the file's path and size; the path is logged.
    /// </summary>
    public (string Path, long Size) DumpCore(ManagedDomain d, string? path)
    {
        path = string.IsNullOrEmpty(path) ? CoreDump.NewPath(DumpDirectory, d.Name) : path;
        if (File.Exists(path)) throw new ToolstackException($"dump-core: {path} already exists");
        bool paused = d.Domain.State == DomainState.Running && d.Domain.Pause();
        try
        {
            if (paused)
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
                while (d.Domain.Vcpus.Any(v => v.State == VcpuState.Running && !v.IsParked) && DateTime.UtcNow < deadline)
                    Thread.Sleep(1);
            }
            long size;
            try
            {
                size = CoreDump.Write(d.Domain, path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ToolstackException($"dump-core: cannot write {path}: {e.Message}");
            }
            _hypervisor.Log.Xen($"d{d.Id}: core dump written to {path} ({size} bytes)");
            return (path, size);
        }
        finally
        {
            if (paused) d.Domain.Unpause();
        }
    }

    /// <summary>Parses xl's memory sizes: digits then b, k, m (default), g or t; returns KiB, or null when invalid.</summary>
    public static long? ParseMemoryKiB(string text)
    {
        text = text.Trim();
        int end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        if (end == 0 || text.Length - end > 1 || !long.TryParse(text.AsSpan(0, end), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)) return null;
        int shift = end == text.Length ? 10 : char.ToLowerInvariant(text[end]) switch { 'b' => -10, 'k' => 0, 'm' => 10, 'g' => 20, 't' => 30, _ => int.MinValue };
        if (shift == int.MinValue) return null;
        if (shift < 0) return n >> 10;
        return n > (long.MaxValue >> shift) ? null : n << shift;
    }

    /// <summary>The balloon target (memory/target, KiB) in XenStore, or null.</summary>
    public long? MemoryTargetKiB(ManagedDomain d) =>
        long.TryParse(Xenstored.Read($"{DomainXenStoreNodes.DomainPath(d.Id)}/memory/target"), out long t) ? t : null;

    /// <summary>The domain's maximum in KiB (Domain.MaxPages, XENMEM_maximum_reservation).</summary>
    public static long MaxMemoryKiB(ManagedDomain d) => (long)d.Domain.MaxPages * 4;

    /// <summary>
    /// `xl mem-max`: the domain's maximum (Domain.MaxPages, which XENMEM_maximum_reservation
    /// answers, and memory/static-max). Refused below the current balloon target.
    /// </summary>
    public void SetMaxMemory(ManagedDomain d, long kib)
    {
        if (kib < 4) throw new ToolstackException($"mem-max: {kib} KiB is too small (at least one 4 KiB page)");
        if (MemoryTargetKiB(d) is { } target && kib < target)
            throw new ToolstackException($"mem-max: {kib} KiB is below domain {d.Id} ({d.Name})'s memory target of {target} KiB: lower the target with `xl mem-set` first");
        d.Domain.MaxPages = (ulong)kib / 4;
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/memory/static-max", (kib / 4 * 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
        _hypervisor.Log.Xen($"d{d.Id}: mem-max {kib / 4 * 4} KiB");
    }

    /// <summary>
    /// `xl mem-set`: the balloon target memory/target in XenStore (KiB, as libxl writes it); a PV
    /// balloon driver in the guest follows it. Refused above the domain's maximum.
    /// </summary>
    public void SetMemoryTarget(ManagedDomain d, long kib)
    {
        long max = MaxMemoryKiB(d);
        if (kib < 4) throw new ToolstackException($"mem-set: {kib} KiB is too small (at least one 4 KiB page)");
        if (kib > max)
            throw new ToolstackException($"mem-set: {kib} KiB is above domain {d.Id} ({d.Name})'s maximum of {max} KiB: raise it with `xl mem-max` first");
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/memory/target", kib.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _hypervisor.Log.Xen($"d{d.Id}: mem-set target {kib} KiB");
    }

    /// <summary>
    /// `xl vcpu-set`: writes cpu/K/availability = online for K &lt; <paramref name="count"/> and
    /// offline for the rest up to maxvcpus, as libxl does for PV guests; the guest acts on its watch.
    /// </summary>
    public void SetVcpus(ManagedDomain d, int count)
    {
        int max = d.Domain.Vcpus.Count;
        if (count < 1 || count > max)
            throw new ToolstackException($"vcpu-set: {count} vCPUs is out of range for domain {d.Id} ({d.Name}): accepted 1..{max} (its maxvcpus)");
        for (int i = 0; i < max; i++)
            Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/cpu/{i}/availability", i < count ? "online" : "offline");
        _hypervisor.Log.Xen($"d{d.Id}: vcpu-set {count}");
    }

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
    /// kernel and ramdisk files, disk images, memory), without creating a domain.
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
        {
            domain.Stop();
            try
            {
                string path = CoreDump.NewPath(DumpDirectory, d.Name);
                long size = CoreDump.Write(domain, path);
                _hypervisor.Log.Xen($"d{domain.Id}: core dump written to {path} ({size} bytes)");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ToolstackException)
            {
                _hypervisor.Log.Xen($"d{domain.Id}: no core dump written: {e.Message}");
            }
        }

        switch (action)
        {
            case ShutdownAction.Preserve:
                d.End = new DomainEnd(reasonText, actionText, null, domain.CrashDetail);
                d.Console.Output.Close();
                d.Vuart?.Output.Close();
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
        d.Vuart?.Detach();
        d.Store.Detach();
        // Block backends stop and unmap every grant before the domain's memory goes.
        DiskDevices.Unplug(Xenstored, d.Id, d.Disks);
        DomainXenStoreNodes.Remove(Xenstored, d.Id, d.Domain.Uuid);
        Xenstored.ReleaseDomain(d.Id);
        d.Domain.Destroy();
        d.Console.Output.Close();
        d.Vuart?.Output.Close();
        DomainEnded?.Invoke(d, d.End);
    }

    private void DrainConsoles()
    {
        foreach (var d in List())
        {
            if (d.Domain.State is DomainState.Running or DomainState.Shutdown)
            {
                d.Console.Drain();
                d.Vuart?.Drain();
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
