namespace XenSharp.Abi.Hypercalls;

/// <summary>memory_op sub-commands (XENMEM_* in memory.h) and map spaces.</summary>
public static class MemoryOp
{
    public const int IncreaseReservation = 0;
    public const int DecreaseReservation = 1;
    public const int MaximumRamPage = 2;
    public const int CurrentReservation = 3;   // arg: domid_t*
    public const int MaximumReservation = 4;   // arg: domid_t*
    public const int MachphysMfnList = 5;
    public const int PopulatePhysmap = 6;
    /// <summary>
    /// struct xen_add_to_physmap. 64-bit: domid u16 @0, size u16 @2, space u32 @4, idx u64 @8,
    /// gpfn u64 @16 (24 bytes). 32-bit guests: idx u32 @8, gpfn u32 @12 (16 bytes).
    /// </summary>
    public const int AddToPhysmap = 7;
    /// <summary>struct xen_memory_map { u32 nr_entries; handle buffer; } handle @8 (64-bit) or @4 (32-bit).</summary>
    public const int MemoryMap = 9;
    public const int MachineMemoryMap = 10;
    public const int Exchange = 11;
    public const int MaximumGpfn = 14;

    public const int MapSpaceSharedInfo = 0;
    public const int MapSpaceGrantTable = 1;
    public const int MapSpaceGmfn = 2;

    /// <summary>XENMAPIDX_grant_table_status: with XENMAPSPACE_grant_table, idx names a v2 status frame.</summary>
    public const uint MapIdxGrantTableStatus = 1u << 31;

    /// <summary>Size of one e820 entry as XENMEM_memory_map returns it (u64 addr, u64 size, u32 type; packed).</summary>
    public const int E820EntrySize = 20;
}

/// <summary>Special domain ids (xen.h).</summary>
public static class DomId
{
    public const ushort First_Reserved = 0x7FF0;
    public const ushort Self = 0x7FF0;
    public const ushort Io = 0x7FF1;
    public const ushort Xen = 0x7FF2;
    public const ushort Cow = 0x7FF3;
    public const ushort Invalid = 0x7FF4;
    public const ushort Idle = 0x7FFF;
}
