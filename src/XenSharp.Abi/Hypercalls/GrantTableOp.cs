namespace XenSharp.Abi.Hypercalls;

// Grant tables (xen/include/public/grant_table.h): the sub-commands of grant_table_op, the
// flags of grant entries, map and copy operations, the GNTST_* statuses, and the layout of
// every structure for 64-bit guests (x86-64: u64 and handles 8 bytes, 8-aligned) and 32-bit
// guests (i386: xen_pfn_t, unsigned long and handles 4 bytes; u64 is 4-aligned). Offsets are
// computed from the C declarations; GrantTableLayoutTests re-derives them from mirrored
// structs.

/// <summary>grant_table_op sub-commands (GNTTABOP_* in grant_table.h).</summary>
public static class GrantTableOp
{
    public const int MapGrantRef = 0;
    public const int UnmapGrantRef = 1;
    public const int SetupTable = 2;
    public const int DumpTable = 3;
    public const int Transfer = 4;
    public const int Copy = 5;
    public const int QuerySize = 6;
    public const int UnmapAndReplace = 7;
    public const int SetVersion = 8;
    public const int GetStatusFrames = 9;
    public const int GetVersion = 10;
    public const int SwapGrantRef = 11;
    public const int CacheFlush = 12;

    /// <summary>
    /// GNTTABOP_CMD_MASK: the low 12 bits of cmd are the command; the rest is a continuation
    /// argument that only GNTTABOP_cache_flush may carry (Xen answers -EINVAL otherwise).
    /// </summary>
    public const uint CommandMask = (1u << 12) - 1;
}

/// <summary>Flags of a grant entry's flags field (GTF_* in grant_table.h).</summary>
public static class GrantEntryFlags
{
    public const ushort Invalid = 0;
    public const ushort PermitAccess = 1;
    public const ushort AcceptTransfer = 2;
    /// <summary>v2 only: use grant gref of domain trans_domid as if it were this one.</summary>
    public const ushort Transitive = 3;
    public const ushort TypeMask = 3;

    /// <summary>[GST] the grantee may only read.</summary>
    public const ushort ReadOnly = 1 << 2;
    /// <summary>[XEN] mapped (or being copied) for reading. v1: in flags; v2: in the status entry.</summary>
    public const ushort Reading = 1 << 3;
    /// <summary>[XEN] mapped (or being copied) for writing. v1: in flags; v2: in the status entry.</summary>
    public const ushort Writing = 1 << 4;
    public const ushort Pwt = 1 << 5;
    public const ushort Pcd = 1 << 6;
    public const ushort Pat = 1 << 7;
    /// <summary>v2 only: only [page_off, page_off+length) is granted; copy only, no mapping.</summary>
    public const ushort SubPage = 1 << 8;

    /// <summary>GTF_accept_transfer subflags.</summary>
    public const ushort TransferCommitted = 1 << 2;
    public const ushort TransferCompleted = 1 << 3;
}

/// <summary>Results of individual grant operations (GNTST_* in grant_table.h; int16_t status fields).</summary>
public static class GrantStatus
{
    public const short Okay = 0;
    public const short GeneralError = -1;
    public const short BadDomain = -2;
    public const short BadGntref = -3;
    public const short BadHandle = -4;
    public const short BadVirtAddr = -5;
    public const short BadDevAddr = -6;
    public const short NoDeviceSpace = -7;
    public const short PermissionDenied = -8;
    public const short BadPage = -9;
    public const short BadCopyArg = -10;
    public const short AddressTooBig = -11;
    public const short EAgain = -12;
    public const short NoSpace = -13;
}

/// <summary>gnttab_map_grant_ref.flags (GNTMAP_* in grant_table.h).</summary>
public static class GrantMapFlags
{
    public const uint DeviceMap = 1 << 0;
    public const uint HostMap = 1 << 1;
    public const uint ReadOnly = 1 << 2;
    public const uint ApplicationMap = 1 << 3;
    public const uint ContainsPte = 1 << 4;
}

/// <summary>gnttab_copy.flags (GNTCOPY_* in grant_table.h).</summary>
public static class GrantCopyFlags
{
    /// <summary>source.u is a grant ref of source.domid's table (else a gmfn of the caller, domid DOMID_SELF).</summary>
    public const ushort SourceGref = 1 << 0;
    /// <summary>dest.u is a grant ref of dest.domid's table (else a gmfn of the caller, domid DOMID_SELF).</summary>
    public const ushort DestGref = 1 << 1;
}

/// <summary>Sizes of the shared structures and where a grant entry's fields are.</summary>
public static class GrantTableLayout
{
    public const int PageSize = 4096;

    /// <summary>struct grant_entry_v1 { u16 flags; domid_t domid; u32 frame; }.</summary>
    public const int EntryV1Size = 8;
    public const int EntriesPerFrameV1 = PageSize / EntryV1Size; // 512

    /// <summary>union grant_entry_v2 (hdr, full_page, sub_page, transitive), 16 bytes.</summary>
    public const int EntryV2Size = 16;
    public const int EntriesPerFrameV2 = PageSize / EntryV2Size; // 256

    /// <summary>grant_status_t (u16) per ref in the v2 status frames.</summary>
    public const int StatusSize = 2;
    public const int StatusesPerFrame = PageSize / StatusSize; // 2048

    /// <summary>Offsets inside an entry (both versions share the header).</summary>
    public const int EntryFlags = 0, EntryDomId = 2;
    public const int EntryV1Frame = 4;
    /// <summary>full_page.frame and sub_page.frame (u64).</summary>
    public const int EntryV2Frame = 8;
    public const int EntryV2PageOff = 4, EntryV2Length = 6;
    public const int EntryV2TransDomId = 4, EntryV2TransGref = 8;

    /// <summary>GNTTAB_NR_RESERVED_ENTRIES: kept across set_version (console, xenstore, …).</summary>
    public const int ReservedEntries = 8;
    public const int ReservedConsole = 0;
    public const int ReservedXenStore = 1;

    /// <summary>INITIAL_NR_GRANT_FRAMES on x86: every table has at least this many frames.</summary>
    public const int InitialFrames = 1;
}

/// <summary>struct gnttab_map_grant_ref (same layout for 32- and 64-bit guests; 32 bytes).</summary>
public static class GnttabMapGrantRef
{
    public const int HostAddr = 0, Flags = 8, Ref = 12, Dom = 16, Status = 18, Handle = 20, DevBusAddr = 24;
    public const int Size = 32;
}

/// <summary>struct gnttab_unmap_grant_ref and gnttab_unmap_and_replace (same layout; 24 bytes).</summary>
public static class GnttabUnmapGrantRef
{
    public const int HostAddr = 0, DevBusAddr = 8, NewAddr = 8, Handle = 16, Status = 20;
    public const int Size = 24;
}

/// <summary>
/// struct gnttab_setup_table { domid_t dom; u32 nr_frames; i16 status; handle(xen_pfn_t) frame_list; }.
/// 64-bit: frame_list @16, 24 bytes, 8-byte elements. 32-bit: frame_list @12, 16 bytes, 4-byte elements.
/// </summary>
public static class GnttabSetupTable
{
    public const int Dom = 0, NrFrames = 4, Status = 8;
    public const int FrameList64 = 16, Size64 = 24;
    public const int FrameList32 = 12, Size32 = 16;
}

/// <summary>struct gnttab_query_size { domid_t dom; u32 nr_frames; u32 max_nr_frames; i16 status; } (16 bytes).</summary>
public static class GnttabQuerySize
{
    public const int Dom = 0, NrFrames = 4, MaxNrFrames = 8, Status = 12;
    public const int Size = 16;
}

/// <summary>struct gnttab_set_version { u32 version; } (in/out).</summary>
public static class GnttabSetVersion
{
    public const int Version = 0, Size = 4;
}

/// <summary>struct gnttab_get_version { domid_t dom; u16 pad; u32 version (out); }.</summary>
public static class GnttabGetVersion
{
    public const int Dom = 0, Version = 4, Size = 8;
}

/// <summary>
/// struct gnttab_get_status_frames { u32 nr_frames; domid_t dom; i16 status; handle(u64) frame_list; }:
/// elements are u64 in both layouts. 64-bit: 16 bytes; 32-bit: 12 bytes.
/// </summary>
public static class GnttabGetStatusFrames
{
    public const int NrFrames = 0, Dom = 4, Status = 6, FrameList = 8;
    public const int Size64 = 16, Size32 = 12;
}

/// <summary>struct gnttab_swap_grant_ref { u32 ref_a; u32 ref_b; i16 status; } (12 bytes).</summary>
public static class GnttabSwapGrantRef
{
    public const int RefA = 0, RefB = 4, Status = 8, Size = 12;
}

/// <summary>
/// struct gnttab_copy { struct gnttab_copy_ptr { union { u32 ref; xen_pfn_t gmfn; } u; domid_t domid;
/// u16 offset; } source, dest; u16 len; u16 flags; i16 status; }.
/// 64-bit: ptr is 16 bytes (u @0 8 bytes, domid @8, offset @10, padded), source @0, dest @16,
/// len @32, flags @34, status @36, 40 bytes. 32-bit: ptr is 8 bytes (u @0, domid @4, offset @6),
/// source @0, dest @8, len @16, flags @18, status @20, 24 bytes.
/// </summary>
public static class GnttabCopy
{
    public const int PtrU = 0;
    public const int PtrDomId64 = 8, PtrOffset64 = 10, PtrSize64 = 16;
    public const int PtrDomId32 = 4, PtrOffset32 = 6, PtrSize32 = 8;

    public const int Source = 0;
    public const int Dest64 = 16, Len64 = 32, Flags64 = 34, Status64 = 36, Size64 = 40;
    public const int Dest32 = 8, Len32 = 16, Flags32 = 18, Status32 = 20, Size32 = 24;
}
