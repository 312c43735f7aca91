using System.Runtime.InteropServices;

namespace XenSharp.Abi.Pvh;

/// <summary>
/// struct hvm_start_info (arch-x86/hvm/start_info.h), version 1: the start-of-day block whose
/// guest-physical address a PVH guest receives in %ebx. All addresses are guest-physical and
/// little endian; 0 means "not present". 56 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = StructSize)]
public struct HvmStartInfo
{
    /// <summary>sizeof(struct hvm_start_info) for version 1.</summary>
    public const int StructSize = 56;

    /// <summary>XEN_HVM_START_MAGIC_VALUE ("xEn3" with the 0x80 bit of the "E" set).</summary>
    public const uint MagicValue = 0x336ec578;

    /// <summary>The structure version XenSharp writes (1: has the memory map fields).</summary>
    public const uint CurrentVersion = 1;

    /// <summary>magic: <see cref="MagicValue"/>.</summary>
    [FieldOffset(0)] public uint Magic;

    /// <summary>version: version of this structure.</summary>
    [FieldOffset(4)] public uint Version;

    /// <summary>flags: SIF_xxx flags.</summary>
    [FieldOffset(8)] public uint Flags;

    /// <summary>nr_modules: number of entries at <see cref="ModlistPaddr"/>.</summary>
    [FieldOffset(12)] public uint NrModules;

    /// <summary>modlist_paddr: address of an array of <see cref="HvmModlistEntry"/>.</summary>
    [FieldOffset(16)] public ulong ModlistPaddr;

    /// <summary>cmdline_paddr: address of the NUL-terminated command line.</summary>
    [FieldOffset(24)] public ulong CmdlinePaddr;

    /// <summary>rsdp_paddr: address of the ACPI RSDP.</summary>
    [FieldOffset(32)] public ulong RsdpPaddr;

    /// <summary>memmap_paddr: address of an array of <see cref="HvmMemmapTableEntry"/> (version 1+).</summary>
    [FieldOffset(40)] public ulong MemmapPaddr;

    /// <summary>memmap_entries: number of memory map entries, 0 when none (version 1+).</summary>
    [FieldOffset(48)] public uint MemmapEntries;

    /// <summary>reserved: must be zero.</summary>
    [FieldOffset(52)] public uint Reserved;
}
