using System.Runtime.InteropServices;
using System.Text;
using XenSharp.Abi.Pvh;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot.Pvh;

/// <summary>
/// Writes a PVH guest's start-of-day data into guest memory: the hvm_start_info (version 1)
/// at the given page, followed by the module list, the memory map, the command lines and then
/// each module's bytes on its own page boundary.
/// </summary>
public sealed class PvhStartInfoBuilder
{
    /// <summary>The kernel command line, or null/empty for none.</summary>
    public string? CommandLine { get; init; }

    /// <summary>Boot modules (e.g. a ramdisk), in the order the guest sees them.</summary>
    public IReadOnlyList<PvhModule> Modules { get; init; } = [];

    /// <summary>The memory map to hand the guest; empty for none.</summary>
    public IReadOnlyList<HvmMemmapTableEntry> MemoryMap { get; init; } = [];

    /// <summary>Guest-physical address of the ACPI RSDP, or 0 when there are no ACPI tables.</summary>
    public ulong RsdpAddress { get; init; }

    /// <summary>SIF_* flags for hvm_start_info.flags.</summary>
    public uint Flags { get; init; }

    /// <summary>
    /// Writes everything starting at <paramref name="address"/> (page aligned, typically the first
    /// free page after the kernel) and returns where each item went.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="address"/> is not page aligned.</exception>
    /// <exception cref="BootException">something does not fit in guest memory, or start_info would lie above 4 GiB.</exception>
    public PvhStartInfoLayout Write(GuestMemory memory, ulong address)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (address % GuestMemory.PageSize != 0)
            throw new ArgumentException($"start_info address 0x{address:x} is not page aligned", nameof(address));
        if (address > uint.MaxValue - (ulong)HvmStartInfo.StructSize)
            throw new BootException($"hvm_start_info at 0x{address:x} would lie above 4 GiB; a PVH guest receives its address in the 32-bit %ebx");

        ulong cursor = address + HvmStartInfo.StructSize;

        ulong modlistAddress = 0;
        if (Modules.Count > 0)
        {
            modlistAddress = BootFormat.AlignUp(cursor, 8);
            cursor = modlistAddress + (ulong)Modules.Count * HvmModlistEntry.StructSize;
        }

        ulong memmapAddress = 0;
        if (MemoryMap.Count > 0)
        {
            memmapAddress = BootFormat.AlignUp(cursor, 8);
            var entries = MemoryMap.ToArray();
            Place(memory, memmapAddress, MemoryMarshal.AsBytes(entries.AsSpan()), "memory map");
            cursor = memmapAddress + (ulong)entries.Length * HvmMemmapTableEntry.StructSize;
        }

        ulong cmdlineAddress = 0;
        if (!string.IsNullOrEmpty(CommandLine))
        {
            cmdlineAddress = cursor;
            cursor = PlaceString(memory, cursor, CommandLine, "kernel command line");
        }

        var modlist = new HvmModlistEntry[Modules.Count];
        for (int i = 0; i < Modules.Count; i++)
        {
            var module = Modules[i];
            if (!string.IsNullOrEmpty(module.CommandLine))
            {
                modlist[i].CmdlinePaddr = cursor;
                cursor = PlaceString(memory, cursor, module.CommandLine, $"{module.Name}: command line");
            }
        }

        var moduleAddresses = new ulong[Modules.Count];
        cursor = BootFormat.AlignUp(cursor, GuestMemory.PageSize);
        for (int i = 0; i < Modules.Count; i++)
        {
            var module = Modules[i];
            moduleAddresses[i] = cursor;
            modlist[i].Paddr = cursor;
            modlist[i].Size = (ulong)module.Bytes.Length;
            Place(memory, cursor, module.Bytes.Span, module.Name);
            cursor = BootFormat.AlignUp(cursor + (ulong)module.Bytes.Length, GuestMemory.PageSize);
        }

        if (modlist.Length > 0)
            Place(memory, modlistAddress, MemoryMarshal.AsBytes(modlist.AsSpan()), "module list");

        var startInfo = new HvmStartInfo
        {
            Magic = HvmStartInfo.MagicValue,
            Version = HvmStartInfo.CurrentVersion,
            Flags = Flags,
            NrModules = (uint)Modules.Count,
            ModlistPaddr = modlistAddress,
            CmdlinePaddr = cmdlineAddress,
            RsdpPaddr = RsdpAddress,
            MemmapPaddr = memmapAddress,
            MemmapEntries = (uint)MemoryMap.Count,
        };
        Place(memory, address, MemoryMarshal.AsBytes(new ReadOnlySpan<HvmStartInfo>(in startInfo)), "hvm_start_info");

        return new PvhStartInfoLayout(address, cmdlineAddress, modlistAddress, memmapAddress, moduleAddresses,
            BootFormat.AlignUp(cursor, GuestMemory.PageSize));
    }

    private static ulong PlaceString(GuestMemory memory, ulong at, string text, string what)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        Place(memory, at, bytes, what);
        return at + (ulong)bytes.Length;
    }

    private static void Place(GuestMemory memory, ulong at, ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.IsEmpty) return;
        try
        {
            memory.Write(at, bytes);
        }
        catch (GuestMemoryAllocationException e)
        {
            throw new BootException(
                $"{what}: {BootFormat.Size((ulong)bytes.Length)} at 0x{at:x}..0x{at + (ulong)bytes.Length:x} does not fit in guest RAM " +
                $"({BootFormat.Ram(memory)}); raise memory= in the domain configuration", e);
        }
    }
}
