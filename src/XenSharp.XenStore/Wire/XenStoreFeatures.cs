namespace XenSharp.XenStore.Wire;

/// <summary>
/// Server feature bits (<c>XENSTORE_SERVER_FEATURE_*</c> in <c>xs_wire.h</c>), as advertised in the
/// ring page's feature word and reported by GET_FEATURE.
/// </summary>
[Flags]
public enum XenStoreFeatures : uint
{
    /// <summary>No feature.</summary>
    None = 0,

    /// <summary>The ring can be reset by the guest (a transport feature).</summary>
    Reconnection = 1,

    /// <summary>The ring page's error field is maintained (a transport feature).</summary>
    Error = 2,

    /// <summary>WATCH accepts a third, depth parameter.</summary>
    WatchDepth = 4,

    /// <summary>Permission entries may name DOMID_ANY.</summary>
    DomidAny = 8,
}
