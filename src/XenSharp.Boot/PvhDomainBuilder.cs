using XenSharp.Abi.Hypercalls;
using XenSharp.Abi.Pvh;
using XenSharp.Boot.Pvh;
using XenSharp.Boot.X86;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Boot;

/// <summary>
/// Builds a PVH guest into a freshly created (paused) domain, following Xen's PVHv2 boot ABI
/// (docs/misc/pvh.pandoc):
/// 1. load the ELF's PT_LOAD segments at their physical addresses (PHYS32_ENTRY required);
/// 2. place hvm_start_info (v1) with the command line, the modules (ramdisk) and the memory
///    map on the pages after the kernel;
/// 3. clear the special pages and publish them in the HVM parameters (console and XenStore
///    rings and their event channels);
/// 4. give vCPU 0 the ABI's initial state: 32-bit flat protected mode, paging off,
///    EBX = start_info. Other vCPUs wait for VCPUOP_initialise/VCPUOP_up.
/// </summary>
public sealed class PvhDomainBuilder
{
    public required ReadOnlyMemory<byte> Kernel { get; init; }
    public required string KernelPath { get; init; }
    public ReadOnlyMemory<byte>? Ramdisk { get; init; }
    public string? RamdiskPath { get; init; }
    public string? CommandLine { get; init; }
    public required ulong RamBytes { get; init; }

    /// <summary>What the build produced, for the toolstack to wire backends to.</summary>
    public sealed record Result(LoadedKernel Kernel, PvhStartInfoLayout StartInfo, ulong ConsoleRing, int ConsolePort, ulong StoreRing, int StorePort);

    /// <summary>Builds into <paramref name="domain"/>; <paramref name="consoleKick"/> and <paramref name="storeKick"/> handle the guest's notifications.</summary>
    public Result Build(Domain domain, Action consoleKick, Action storeKick)
    {
        var memory = domain.Memory;
        var kernel = PvhKernelLoader.Load(memory, Kernel, KernelPath);

        var map = X86Layout.MemoryMap(RamBytes);
        domain.MemoryMap = map;
        var modules = Ramdisk is { } rd ? new[] { new PvhModule(RamdiskPath ?? "ramdisk", rd) } : [];
        var startInfo = new PvhStartInfoBuilder
        {
            CommandLine = CommandLine,
            Modules = modules,
            MemoryMap = map.Select(e => new HvmMemmapTableEntry(e.Address, e.Size, e.Type)).ToArray(),
        }.Write(memory, kernel.FirstFreePage);

        ulong console = X86Layout.SpecialPage(X86Layout.ConsoleRingPage);
        ulong store = X86Layout.SpecialPage(X86Layout.XenStoreRingPage);
        for (int i = 0; i < X86Layout.SpecialPageCount; i++)
            memory.Write(X86Layout.SpecialPage(i), new byte[X86Layout.PageSize]);
        var (consolePort, storePort) = GuestRings.Publish(domain, console, store, consoleKick, storeKick);

        var boot = domain.Vcpus[0];
        boot.PendingInitialState = InitialVcpuState.Pvh32(kernel.EntryPoint, startInfo.StartInfoAddress, boot.Cpu.SpecialRegisters);
        boot.Initialised = true;
        return new Result(kernel, startInfo, console, consolePort, store, storePort);
    }
}
