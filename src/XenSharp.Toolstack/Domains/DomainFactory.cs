using XenSharp.Boot;
using XenSharp.Boot.X86;
using XenSharp.Devices.Block;
using XenSharp.Devices.Console;
using XenSharp.Devices.XenStore;
using XenSharp.XenStore;
using XenSharp.Toolstack.XenStore;
using XenSharp.Guests;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Kvm;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Host;
using XenSharp.Scheduling;
using XenSharp.Scheduling.Pools;

namespace XenSharp.Toolstack.Domains;

/// <summary>
/// The composition root for one domain: from a parsed xl.cfg to a built, paused domain with
/// its console backend. Everything is checked before anything is created where possible
/// (type, kernel file, memory); when a later step fails, everything made so far is destroyed,
/// so a bad config never leaves a half-built domain behind.
/// </summary>
public sealed class DomainFactory(XenHypervisor hypervisor, Xenstored xenstored)
{
    /// <summary>The checks made before anything is created (xl create -n stops after them).</summary>
    public void Validate(DomainConfig config, string workingDirectory)
    {
        CheckType(config);
        ReadImage(config.Kernel!, workingDirectory, "kernel", config.Source);
        if (config.Ramdisk is not null) ReadImage(config.Ramdisk, workingDirectory, "ramdisk", config.Source);
        DiskDevices.Check(config, workingDirectory);
        CheckMemory(config);
        CheckScheduling(config);
    }

    /// <summary>
    /// The warning for scheduling keys (cpus, cpus_soft, cpu_weight, cap, pool) set while the
    /// hypervisor runs without a scheduler (sched=none), or null.
    /// </summary>
    public string? SchedulingWarning(DomainConfig config) =>
        hypervisor.Scheduler is null && config.SchedulingKeysSet.Count > 0
            ? $"{config.Source}: {string.Join(", ", config.SchedulingKeysSet)} ignored: the hypervisor runs without a scheduler (sched=none), so they have no effect"
            : null;

    /// <summary>
    /// The pool a config names exists and has pCPUs, and every vCPU's hard affinity names one of
    /// them; returns the pool's pCPUs and name (all pCPUs / null without cpupools).
    /// Called under the scheduler's lock when <paramref name="policy"/> is given.
    /// </summary>
    private (CpuMask Cpus, string PoolName) CheckScheduling(DomainConfig config, ISchedulerPolicy policy)
    {
        var scheduler = hypervisor.Scheduler!;
        CpuMask cpus;
        string poolName;
        if (policy is CpuPoolSet pools)
        {
            string wanted = config.Pool ?? CpuPoolSet.Pool0Name;
            if (!pools.TryGetPool(wanted, out var pool))
                throw new ToolstackException($"{config.Source}: pool: cpupool \"{wanted}\" does not exist (existing: {string.Join(", ", pools.Pools.Select(p => p.Name))}; xl cpupool-create makes one)");
            cpus = pool.Cpus;
            poolName = pool.Name;
        }
        else
        {
            cpus = CpuMask.Range(0, scheduler.PcpuCount - 1);
            poolName = CpuPoolSet.Pool0Name;
        }
        if (cpus.IsEmpty)
            throw new ToolstackException($"{config.Source}: pool: cpupool \"{poolName}\" has no pCPUs (xl cpupool-cpu-add some first)");
        if (config.Cpus is { } hard)
        {
            for (int i = 0; i < config.MaxVcpus; i++)
            {
                if (!hard.For(i).Intersects(cpus))
                    throw new ToolstackException($"{hard.Location}: cpus: \"{hard.For(i)}\"{(hard.PerVcpu ? $" (vCPU {i})" : "")} names no pCPU of cpupool \"{poolName}\" (its pCPUs: {cpus}); name at least one of them");
            }
        }
        return (cpus, poolName);
    }

    private void CheckScheduling(DomainConfig config)
    {
        if (hypervisor.Scheduler is not { } scheduler) return;
        scheduler.WithPolicy(policy => CheckScheduling(config, policy));
    }

    /// <summary>
    /// Applies cpus, cpus_soft, cpu_weight, cap and pool to a domain whose vCPUs are not online
    /// yet: the affinity masks are stored on each vCPU (the policy reads them when the vCPU is
    /// inserted, at start), the domain's pool is set with CpuPoolSet.MoveDomain (bookkeeping
    /// only before start), weight and cap on its SchedDomain.
    /// </summary>
    private void ApplyScheduling(Domain domain, DomainConfig config)
    {
        if (hypervisor.Scheduler is not { } scheduler || domain.Sched is not { } sd) return;
        scheduler.WithPolicy(policy =>
        {
            var (_, poolName) = CheckScheduling(config, policy);
            foreach (var v in domain.Vcpus)
            {
                CpuMask hard = config.Cpus?.For(v.Index) ?? CpuMask.All;
                CpuMask soft = config.CpusSoft?.For(v.Index) ?? CpuMask.All;
                v.Sched!.SetAffinityMasks(hard, soft);
            }
            if (policy is CpuPoolSet pools && poolName != sd.Pool)
            {
                try
                {
                    pools.MoveDomain(sd, poolName, XenSharp.Hypervisor.Time.HostClock.NowNs());
                }
                catch (CpuPoolException e)
                {
                    throw new ToolstackException($"{config.Source}: pool: {e.Message}");
                }
            }
            sd.Weight = config.CpuWeight;
            sd.Cap = config.Cap;
            return 0;
        });
        scheduler.AdjustDomain(sd);
    }

    private static void CheckType(DomainConfig config)
    {
        if (config.Type != DomainType.Pvh)
            throw new ToolstackException($"{config.Source}: type = \"{config.Type.ToString().ToLowerInvariant()}\" is not supported yet (XenSharp boots type = \"pvh\" guests)");
        if (config.Kernel is null)
            throw new ToolstackException($"{config.Source}: kernel: missing (a PVH domain boots a kernel = \"PATH\" ELF)");
    }

    private static void CheckMemory(DomainConfig config)
    {
        ulong ramBytes = checked((ulong)config.MemoryMiB << 20);
        ulong available = HostMemory.Available;
        if (ramBytes > available)
            throw new ToolstackException($"{config.Source}: memory = {config.MemoryMiB} MiB is more than the host can give ({available >> 20} MiB available)");
    }

    public ManagedDomain Create(DomainConfig config, string workingDirectory)
    {
        CheckType(config);

        var (kernel, kernelPath) = ReadImage(config.Kernel!, workingDirectory, "kernel", config.Source);
        byte[]? ramdisk = null;
        string? ramdiskPath = null;
        if (config.Ramdisk is not null)
            (ramdisk, ramdiskPath) = ReadImage(config.Ramdisk, workingDirectory, "ramdisk", config.Source);

        CheckMemory(config);
        ulong ramBytes = checked((ulong)config.MemoryMiB << 20);

        // Disk images open before anything is built: a missing file fails here, leaving nothing.
        var images = DiskDevices.OpenImages(config, workingDirectory);
        GuestMemory memory;
        try
        {
            memory = GuestMemory.Allocate(X86Layout.MemoryRanges(ramBytes), $"xensharp-{config.Name}");
        }
        catch (GuestMemoryAllocationException e)
        {
            foreach (var image in images) image.Dispose();
            throw new ToolstackException($"{config.Source}: memory = {config.MemoryMiB} MiB: {e.Message}");
        }

        Domain? domain = null;
        bool imagesHandedOver = false;
        IReadOnlyList<VbdBackend> disks = [];
        try
        {
            ulong pages = ramBytes / X86Layout.PageSize;
            ulong maxPages = Math.Max(pages, checked((ulong)config.MaxMemMiB << 20) / X86Layout.PageSize);
            domain = hypervisor.CreateDomain(config.Name, config.Uuid ?? Guid.NewGuid(), memory, config.MaxVcpus, pages, maxPages);
            domain.EventChannels.MaxEventChannels = config.MaxEventChannels;
            domain.Grants.MaxFrames = config.MaxGrantFrames;
            domain.Grants.MaxVersion = config.MaxGrantVersion;
            ApplyScheduling(domain, config);
            PvConsoleBackend? console = null;
            XenStoreRingBackend? store = null;
            var build = new PvhDomainBuilder
            {
                Kernel = kernel,
                KernelPath = kernelPath,
                Ramdisk = ramdisk,
                RamdiskPath = ramdiskPath,
                CommandLine = config.Cmdline,
                RamBytes = ramBytes,
            }.Build(domain, consoleKick: () => console?.Drain(), storeKick: () => store?.Pump());
            console = new PvConsoleBackend(memory, build.ConsoleRing);
            store = new XenStoreRingBackend(memory, build.StoreRing);
            var events = domain.EventChannels;
            int consolePort = build.ConsolePort, storePort = build.StorePort;
            console.NotifyGuest = () => events.NotifyFromHost(consolePort);
            store.NotifyGuest = () => events.NotifyFromHost(storePort);
            var uuid = domain.Uuid;
            DomainXenStoreNodes.Write(xenstored, new DomainXenStoreNodes.Layout(
                domain.Id, config.Name, uuid, ramBytes >> 10, maxPages * 4, config.Vcpus, config.MaxVcpus,
                build.ConsoleRing >> 12, build.ConsolePort, build.StoreRing >> 12, build.StorePort));
            store.Connect(xenstored, domain.Id);
            xenstored.IntroduceDomain(domain.Id);
            imagesHandedOver = true;
            disks = DiskDevices.Plug(xenstored, domain, config, images, m => hypervisor.Log.Xen(m));
            foreach (var line in build.Kernel.Notes.Describe())
                hypervisor.Log.Xen($"d{domain.Id}: ELF note {line}");
            return new ManagedDomain(domain, config, console, store) { Disks = disks };
        }
        catch (Exception e)
        {
            if (!imagesHandedOver) foreach (var image in images) image.Dispose();
            if (domain is not null)
            {
                DiskDevices.Unplug(xenstored, domain.Id, disks);
                DomainXenStoreNodes.Remove(xenstored, domain.Id, domain.Uuid);
                if (xenstored.IsDomainIntroduced(domain.Id)) xenstored.ReleaseDomain(domain.Id);
                domain.Destroy();
            }
            else memory.Dispose();
            if (e is BootException or GuestMemoryAllocationException)
                throw new ToolstackException(e.Message);
            if (e is KvmUnavailableException)
                throw new ToolstackException(e.Message);
            throw;
        }
    }

    private static (byte[] Bytes, string Path) ReadImage(string path, string workingDirectory, string key, string source)
    {
        if (BuiltinGuests.IsBuiltin(path))
        {
            return (BuiltinGuests.TryGet(path) ?? throw new ToolstackException(
                $"{source}: {key}: no built-in guest \"{path}\" (built-in: {string.Join(", ", BuiltinGuests.Names.Select(n => BuiltinGuests.Scheme + n))})"), path);
        }
        string full = Path.GetFullPath(path, workingDirectory);
        if (!File.Exists(full))
            throw new ToolstackException($"{source}: {key}: {full}: no such file");
        try
        {
            return (File.ReadAllBytes(full), full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ToolstackException($"{source}: {key}: {full}: cannot read: {e.Message}");
        }
    }
}
