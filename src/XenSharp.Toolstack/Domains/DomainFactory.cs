using XenSharp.Boot;
using XenSharp.Boot.X86;
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
using XenSharp.Toolstack.Host;

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
        CheckMemory(config);
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

        GuestMemory memory;
        try
        {
            memory = GuestMemory.Allocate(X86Layout.MemoryRanges(ramBytes), $"xensharp-{config.Name}");
        }
        catch (GuestMemoryAllocationException e)
        {
            throw new ToolstackException($"{config.Source}: memory = {config.MemoryMiB} MiB: {e.Message}");
        }

        Domain? domain = null;
        try
        {
            ulong pages = ramBytes / X86Layout.PageSize;
            ulong maxPages = Math.Max(pages, checked((ulong)config.MaxMemMiB << 20) / X86Layout.PageSize);
            domain = hypervisor.CreateDomain(config.Name, config.Uuid ?? Guid.NewGuid(), memory, config.MaxVcpus, pages, maxPages);
            domain.EventChannels.MaxEventChannels = config.MaxEventChannels;
            domain.Grants.MaxFrames = config.MaxGrantFrames;
            domain.Grants.MaxVersion = config.MaxGrantVersion;
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
            foreach (var line in build.Kernel.Notes.Describe())
                hypervisor.Log.Xen($"d{domain.Id}: ELF note {line}");
            return new ManagedDomain(domain, config, console, store);
        }
        catch (Exception e)
        {
            if (domain is not null)
            {
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
