namespace XenSharp.Abi.Block;

/// <summary>Request operation codes and per-request limits of io/blkif.h.</summary>
public static class BlkifOp
{
    public const byte Read = 0;
    public const byte Write = 1;
    /// <summary>Earlier writes complete before it, later ones after (feature-barrier).</summary>
    public const byte WriteBarrier = 2;
    /// <summary>Commit the backing store's volatile cache (feature-flush-cache).</summary>
    public const byte FlushDiskCache = 3;
    /// <summary>Reserved (SLES device-specific packets); never supported.</summary>
    public const byte Reserved1 = 4;
    /// <summary>struct blkif_request_discard (feature-discard).</summary>
    public const byte Discard = 5;
    /// <summary>struct blkif_request_indirect (feature-max-indirect-segments).</summary>
    public const byte Indirect = 6;

    /// <summary>BLKIF_MAX_SEGMENTS_PER_REQUEST: segments in a direct request.</summary>
    public const int MaxSegmentsPerRequest = 11;
    /// <summary>BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST.</summary>
    public const int MaxIndirectPagesPerRequest = 8;
    /// <summary>struct blkif_request_segment: gref u32, first_sect u8, last_sect u8, 2 bytes padding.</summary>
    public const int SegmentSize = 8;
    /// <summary>Segments one indirect page holds (PAGE_SIZE / sizeof(struct blkif_request_segment)).</summary>
    public const int SegmentsPerIndirectPage = 4096 / SegmentSize;
    /// <summary>Sector numbers, first_sect and last_sect count 512-byte units whatever sector-size says.</summary>
    public const int SectorSize = 512;
    /// <summary>The last sector of a 4 KiB page (first_sect/last_sect lie in 0..7).</summary>
    public const int LastSectorInPage = 7;
    /// <summary>BLKIF_DISCARD_SECURE in blkif_request_discard.flag.</summary>
    public const byte DiscardSecure = 1;
}
