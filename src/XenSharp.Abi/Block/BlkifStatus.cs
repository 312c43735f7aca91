namespace XenSharp.Abi.Block;

/// <summary>blkif_response.status values (BLKIF_RSP_*).</summary>
public static class BlkifStatus
{
    public const short Okay = 0;
    /// <summary>The operation failed (-EIO).</summary>
    public const short Error = -1;
    /// <summary>The operation is not supported.</summary>
    public const short EOpNotSupp = -2;
}
