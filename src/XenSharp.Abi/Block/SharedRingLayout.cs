namespace XenSharp.Abi.Block;

/// <summary>
/// The shared ring header of io/ring.h (DEFINE_RING_TYPES): four free-running u32 indices,
/// 48 bytes of padding, then the entries (a union of request and response). A ring of
/// <c>pages</c> pages holds the largest power of two of entries that fits after the header
/// (__RING_SIZE); a multi-page ring is one contiguous area across its pages.
/// </summary>
public static class SharedRingLayout
{
    public const int ReqProdOffset = 0;
    public const int ReqEventOffset = 4;
    public const int RspProdOffset = 8;
    public const int RspEventOffset = 12;
    /// <summary>offsetof(struct X_sring, ring).</summary>
    public const int EntriesOffset = 64;
    public const int PageSize = 4096;

    /// <summary>Entries in a ring of <paramref name="pages"/> pages with entries of <paramref name="entrySize"/> bytes.</summary>
    public static int EntryCount(int pages, int entrySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(entrySize, 1);
        uint fit = (uint)((pages * PageSize - EntriesOffset) / entrySize);
        return fit == 0 ? 0 : (int)(1u << (31 - System.Numerics.BitOperations.LeadingZeroCount(fit)));
    }
}
