using XenSharp.Boot;
using XenSharp.Boot.Arm64;
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
        var arch = ChooseArchitecture(config, kernel, kernelPath);

        CheckMemory(config);
        ulong ramBytes = checked((ulong)config.MemoryMiB << 20);
        var guest = new GuestImages(kernel, kernelPath, ramdisk, ramdiskPath, ramBytes);
        return arch == GuestArchitecture.Arm64
            ? Assemble(config, workingDirectory, guest, GuestArchitecture.Arm64,
                       Arm64Layout.Create(ramBytes, config.MaxVcpus).MemoryRanges(), BuildArm)
            : Assemble(config, workingDirectory, guest, GuestArchitecture.X86, X86Layout.MemoryRanges(ramBytes), BuildPvh);
    }

    /// <summary>The kernel (and ramdisk) read from disk, and the RAM size, for a builder.</summary>
    private sealed record GuestImages(byte[] Kernel, string KernelPath, byte[]? Ramdisk, string? RamdiskPath, ulong RamBytes);

    /// <summary>What a builder made that the toolstack wires backends to.</summary>
    private sealed record GuestBuild(ulong ConsoleRing, int ConsolePort, ulong StoreRing, int StorePort, IEnumerable<string> LogLines)
    {
        public VuartConsoleBackend? Vuart { get; init; }
    }

    /// <summary>
    /// The guest's architecture: the kernel image says (ELF machine, arm64 Image header, x86 boot
    /// header); <c>arch</c> in the config may name it, and must then agree with the image.
    /// </summary>
    private GuestArchitecture ChooseArchitecture(DomainConfig config, byte[] kernel, string kernelPath)
    {
        var detected = BootImageArchitecture.Detect(kernel) switch
        {
            BootImageKind.Arm64 => GuestArchitecture.Arm64,
            BootImageKind.X86 => GuestArchitecture.X86,
            _ => (GuestArchitecture?)null,
        };
        if (config.Arch is { } named && detected is { } found && named != found)
            throw new ToolstackException($"{config.Source}: arch = \"{ArchName(named)}\", but kernel {kernelPath} is an {ArchName(found)} image (accepted: {DomainConfig.ArchAccepted})");
        var arch = config.Arch ?? detected ?? GuestArchitecture.X86;
        if (arch == GuestArchitecture.Arm64 && hypervisor.ArmAccelerator is null)
            throw new ToolstackException($"{config.Source}: kernel {kernelPath} is an AArch64 image, and this hypervisor has no AArch64 accelerator");
        if (arch != GuestArchitecture.Arm64 && config.Vuart is not null)
            throw new ToolstackException($"{config.Source}: vuart = \"{config.Vuart}\" is for ARM guests (the kernel {kernelPath} is an x86 image): remove it");
        if (arch != GuestArchitecture.Arm64 && config.GicVersion is not null)
            throw new ToolstackException($"{config.Source}: gic_version is for ARM guests (the kernel {kernelPath} is an x86 image): remove it");
        return arch;
    }

    private static string ArchName(GuestArchitecture arch) => arch == GuestArchitecture.Arm64 ? "aarch64" : "x86";

    /// <summary>
    /// Creates the domain and everything around it; <paramref name="build"/> loads the guest and
    /// its start state. Any failure destroys everything made so far.
    /// </summary>
    private ManagedDomain Assemble(DomainConfig config, string workingDirectory, GuestImages guest, GuestArchitecture arch,
        (ulong GuestPhysical, ulong Size)[] ranges, Func<Domain, DomainConfig, GuestImages, Action, Action, GuestBuild> build)
    {
        // Disk images open before anything is built: a missing file fails here, leaving nothing.
        var images = DiskDevices.OpenImages(config, workingDirectory);
        GuestMemory memory;
        try
        {
            memory = GuestMemory.Allocate(ranges, $"xensharp-{config.Name}");
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
            ulong pages = guest.RamBytes / X86Layout.PageSize;
            ulong maxPages = Math.Max(pages, checked((ulong)config.MaxMemMiB << 20) / X86Layout.PageSize);
            domain = hypervisor.CreateDomain(config.Name, config.Uuid ?? Guid.NewGuid(), memory, config.MaxVcpus, pages, maxPages, arch);
            domain.EventChannels.MaxEventChannels = config.MaxEventChannels;
            domain.Grants.MaxFrames = config.MaxGrantFrames;
            domain.Grants.MaxVersion = config.MaxGrantVersion;
            ApplyScheduling(domain, config);
            PvConsoleBackend? console = null;
            XenStoreRingBackend? store = null;
            var built = build(domain, config, guest, () => console?.Drain(), () => store?.Pump());
            console = new PvConsoleBackend(memory, built.ConsoleRing);
            store = new XenStoreRingBackend(memory, built.StoreRing);
            var events = domain.EventChannels;
            int consolePort = built.ConsolePort, storePort = built.StorePort;
            console.NotifyGuest = () => events.NotifyFromHost(consolePort);
            store.NotifyGuest = () => events.NotifyFromHost(storePort);
            var uuid = domain.Uuid;
            DomainXenStoreNodes.Write(xenstored, new DomainXenStoreNodes.Layout(
                domain.Id, config.Name, uuid, guest.RamBytes >> 10, maxPages * 4, config.Vcpus, config.MaxVcpus,
                built.ConsoleRing >> 12, built.ConsolePort, built.StoreRing >> 12, built.StorePort));
            store.Connect(xenstored, domain.Id);
            xenstored.IntroduceDomain(domain.Id);
            imagesHandedOver = true;
            disks = DiskDevices.Plug(xenstored, domain, config, images, m => hypervisor.Log.Xen(m));
            foreach (var line in built.LogLines)
                hypervisor.Log.Xen($"d{domain.Id}: {line}");
            return new ManagedDomain(domain, config, console, store) { Disks = disks, Vuart = built.Vuart };
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

    /// <summary>An x86 PVH guest (<see cref="PvhDomainBuilder"/>).</summary>
    private static GuestBuild BuildPvh(Domain domain, DomainConfig config, GuestImages guest, Action consoleKick, Action storeKick)
    {
        var build = new PvhDomainBuilder
        {
            Kernel = guest.Kernel,
            KernelPath = guest.KernelPath,
            Ramdisk = guest.Ramdisk,
            RamdiskPath = guest.RamdiskPath,
            CommandLine = config.Cmdline,
            RamBytes = guest.RamBytes,
        }.Build(domain, consoleKick, storeKick);
        return new GuestBuild(build.ConsoleRing, build.ConsolePort, build.StoreRing, build.StorePort,
            build.Kernel.Notes.Describe().Select(line => $"ELF note {line}"));
    }

    /// <summary>An AArch64 guest (<see cref="ArmDomainSetup"/>): kernel, device tree, magic pages, platform devices.</summary>
    private static GuestBuild BuildArm(Domain domain, DomainConfig config, GuestImages guest, Action consoleKick, Action storeKick)
    {
        var vuart = config.Vuart is not null ? new VuartConsoleBackend() : null;
        var arm = ArmDomainSetup.Build(domain, guest.Kernel, guest.KernelPath, guest.Ramdisk, config.Cmdline, guest.RamBytes,
                                       vuart, consoleKick, storeKick);
        return new GuestBuild(arm.ConsoleRing, arm.ConsolePort, arm.StoreRing, arm.StorePort, arm.LogLines) { Vuart = vuart };
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
