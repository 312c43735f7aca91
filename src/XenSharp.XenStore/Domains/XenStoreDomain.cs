using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// What the store knows about one domain: whether it has been introduced (and with which ring
/// frame and event channel), the domain it acts for, its shutdown notification state, feature bits
/// and quota overrides. Domain 0 is introduced from the start.
/// </summary>
internal sealed class XenStoreDomain(int domainId, XenStoreFeatures features)
{
    public int DomainId { get; } = domainId;

    /// <summary>INTRODUCE (or <see cref="Xenstored.IntroduceDomain"/>) happened and no RELEASE since.</summary>
    public bool Introduced { get; set; }

    /// <summary>Ring frame given by INTRODUCE.</summary>
    public ulong RingFrame { get; set; }

    /// <summary>Event channel given by INTRODUCE.</summary>
    public uint EventChannel { get; set; }

    /// <summary>The domain this one acts for (SET_TARGET), if any.</summary>
    public int? TargetDomainId { get; set; }

    /// <summary>@releaseDomain already fired for a shutdown; RESUME re-arms it.</summary>
    public bool ShutdownReported { get; set; }

    /// <summary>Feature bits (GET_FEATURE/SET_FEATURE).</summary>
    public XenStoreFeatures Features { get; set; } = features;

    /// <summary>Quotas set for this domain alone (SET_QUOTA with a domid); null: the global ones.</summary>
    public XenStoreQuotas? QuotaOverride { get; set; }
}
