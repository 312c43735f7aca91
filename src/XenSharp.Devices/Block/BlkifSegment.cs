namespace XenSharp.Devices.Block;

/// <summary>struct blkif_request_segment: a granted page and the sectors of it (first..last, 0..7) to transfer.</summary>
public readonly record struct BlkifSegment(uint Gref, byte FirstSect, byte LastSect)
{
    /// <summary>Whether the sectors lie in one 4 KiB page and are in order.</summary>
    public bool IsValid => FirstSect <= LastSect && LastSect <= XenSharp.Abi.Block.BlkifOp.LastSectorInPage;

    /// <summary>512-byte sectors transferred (valid segments only).</summary>
    public int SectorCount => LastSect - FirstSect + 1;
}
