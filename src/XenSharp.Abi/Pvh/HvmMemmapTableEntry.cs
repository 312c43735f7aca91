using System.Runtime.InteropServices;

namespace XenSharp.Abi.Pvh;

/// <summary>struct hvm_memmap_table_entry (arch-x86/hvm/start_info.h): one memory map range, 24 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = StructSize)]
public struct HvmMemmapTableEntry
{
    /// <summary>sizeof(struct hvm_memmap_table_entry).</summary>
    public const int StructSize = 24;

    /// <summary>addr: base guest-physical address of the range.</summary>
    [FieldOffset(0)] public ulong Addr;

    /// <summary>size: size of the range in bytes.</summary>
    [FieldOffset(8)] public ulong Size;

    /// <summary>type: one of the <see cref="HvmMemmapType"/> values.</summary>
    [FieldOffset(16)] public uint Type;

    /// <summary>reserved: must be zero for version 1.</summary>
    [FieldOffset(20)] public uint Reserved;

    /// <summary>An entry for [addr, addr+size) of the given type.</summary>
    public HvmMemmapTableEntry(ulong addr, ulong size, uint type)
    {
        Addr = addr;
        Size = size;
        Type = type;
        Reserved = 0;
    }
}
