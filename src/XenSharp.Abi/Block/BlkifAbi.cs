namespace XenSharp.Abi.Block;

/// <summary>
/// The two x86 layouts of the blkif ring entries (the frontend's <c>protocol</c> node picks
/// one). They differ only in where uint64_t fields fall: i386 aligns them to 4 bytes, x86-64
/// to 8. Offsets are in bytes from the start of the ring entry.
/// <code>
///                         x86_32  x86_64
///   blkif_request          108     112     operation@0 nr_segments@1 handle@2 id sector seg[11]
///     id / sector / seg    4/12/20 8/16/24
///   blkif_request_discard          flag@1 handle@2 id sector nr_sectors
///     nr_sectors             20      24
///   blkif_request_indirect  64      64     indirect_op@1 nr_segments@2 (u16) id sector handle grefs[8]
///     handle / grefs       20/24   24/28
///   blkif_response          12      16     id@0 operation@8 status@10 (i16)
/// </code>
/// </summary>
public sealed class BlkifAbi
{
    /// <summary>XEN_IO_PROTO_ABI_X86_32.</summary>
    public const string X86_32Name = "x86_32-abi";
    /// <summary>XEN_IO_PROTO_ABI_X86_64.</summary>
    public const string X86_64Name = "x86_64-abi";

    public static BlkifAbi X86_32 { get; } = new(X86_32Name, idOffset: 4, requestSize: 108, responseSize: 12, indirectHandle: 20, indirectGrefs: 24);
    public static BlkifAbi X86_64 { get; } = new(X86_64Name, idOffset: 8, requestSize: 112, responseSize: 16, indirectHandle: 24, indirectGrefs: 28);

    /// <summary>The backend's own ABI, used when the frontend writes no protocol (a 64-bit backend, like dom0).</summary>
    public static BlkifAbi Native => X86_64;

    private BlkifAbi(string name, int idOffset, int requestSize, int responseSize, int indirectHandle, int indirectGrefs)
    {
        Name = name;
        IdOffset = idOffset;
        SectorOffset = idOffset + 8;
        SegmentsOffset = idOffset + 16;
        DiscardSectorsOffset = idOffset + 16;
        RequestSize = requestSize;
        ResponseSize = responseSize;
        IndirectHandleOffset = indirectHandle;
        IndirectGrefsOffset = indirectGrefs;
    }

    /// <summary>The protocol node's value for this layout.</summary>
    public string Name { get; }

    public const int OperationOffset = 0;
    public const int NrSegmentsOffset = 1;
    public const int HandleOffset = 2;
    /// <summary>blkif_request_discard.flag.</summary>
    public const int DiscardFlagOffset = 1;
    /// <summary>blkif_request_indirect.indirect_op.</summary>
    public const int IndirectOpOffset = 1;
    /// <summary>blkif_request_indirect.nr_segments (u16).</summary>
    public const int IndirectNrSegmentsOffset = 2;

    /// <summary>id (u64), the same offset in all three request structs.</summary>
    public int IdOffset { get; }
    /// <summary>sector_number (u64), the same offset in all three request structs.</summary>
    public int SectorOffset { get; }
    /// <summary>seg[0] of blkif_request.</summary>
    public int SegmentsOffset { get; }
    /// <summary>blkif_request_discard.nr_sectors (u64).</summary>
    public int DiscardSectorsOffset { get; }
    /// <summary>blkif_request_indirect.handle (u16).</summary>
    public int IndirectHandleOffset { get; }
    /// <summary>blkif_request_indirect.indirect_grefs[0].</summary>
    public int IndirectGrefsOffset { get; }
    /// <summary>sizeof(struct blkif_request), the largest request and so the ring entry's size.</summary>
    public int RequestSize { get; }
    /// <summary>sizeof(struct blkif_response).</summary>
    public int ResponseSize { get; }
    /// <summary>sizeof(union blkif_sring_entry).</summary>
    public int EntrySize => RequestSize;

    public const int ResponseIdOffset = 0;
    public const int ResponseOperationOffset = 8;
    public const int ResponseStatusOffset = 10;

    /// <summary>The layout a protocol node names; absent or empty → <see cref="Native"/>; unknown → null.</summary>
    public static BlkifAbi? FromProtocol(string? protocol) => protocol switch
    {
        null or "" => Native,
        X86_32Name => X86_32,
        X86_64Name => X86_64,
        _ => null,
    };

    public override string ToString() => Name;
}
