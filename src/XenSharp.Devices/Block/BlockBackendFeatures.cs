namespace XenSharp.Devices.Block;

/// <summary>What a block backend offers its frontend (published as the backend's feature nodes).</summary>
public sealed record BlockBackendFeatures
{
    /// <summary>Linux blkback's limit, and so what Linux frontends expect: feature-max-indirect-segments.</summary>
    public const int DefaultMaxIndirectSegments = 256;
    /// <summary>Linux blkback's default max-ring-page-order (16 pages).</summary>
    public const int DefaultMaxRingPageOrder = 4;

    /// <summary>feature-discard (only for writable disks).</summary>
    public bool Discard { get; init; } = true;
    /// <summary>feature-max-indirect-segments; 0 offers no BLKIF_OP_INDIRECT.</summary>
    public int MaxIndirectSegments { get; init; } = DefaultMaxIndirectSegments;
    /// <summary>max-ring-page-order.</summary>
    public int MaxRingPageOrder { get; init; } = DefaultMaxRingPageOrder;
    /// <summary>The domain id the backend acts as when it maps grants (0: the host, like dom0).</summary>
    public int BackendDomainId { get; init; }
}
