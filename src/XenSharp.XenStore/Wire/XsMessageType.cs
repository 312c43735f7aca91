namespace XenSharp.XenStore.Wire;

/// <summary>
/// The message types of the XenStore wire protocol (<c>enum xsd_sockmsg_type</c> in
/// <c>xen/include/public/io/xs_wire.h</c>). The numbers are part of the ABI: requests and replies
/// carry them in the first header word.
/// </summary>
public enum XsMessageType : uint
{
    /// <summary>Implementation-specific control command (<c>XS_CONTROL</c>).</summary>
    Control = 0,

    /// <summary>Deprecated alias of <see cref="Control"/> (<c>XS_DEBUG</c>).</summary>
    Debug = Control,

    /// <summary>List the children of a node.</summary>
    Directory = 1,

    /// <summary>Read a node's value.</summary>
    Read = 2,

    /// <summary>Read a node's permission list.</summary>
    GetPerms = 3,

    /// <summary>Register a watch (path, token[, depth]).</summary>
    Watch = 4,

    /// <summary>Remove a watch (path, token).</summary>
    Unwatch = 5,

    /// <summary>Start a transaction; the reply is its id in decimal.</summary>
    TransactionStart = 6,

    /// <summary>End a transaction: "T" commits, "F" aborts.</summary>
    TransactionEnd = 7,

    /// <summary>Control domain: start serving a domain (domid, gfn, event channel).</summary>
    Introduce = 8,

    /// <summary>Control domain: stop serving a domain.</summary>
    Release = 9,

    /// <summary>The home path of a domain (<c>/local/domain/N</c>).</summary>
    GetDomainPath = 10,

    /// <summary>Write a node's value (path, value), creating missing parents.</summary>
    Write = 11,

    /// <summary>Create a node (and missing parents) with an empty value, if it is missing.</summary>
    Mkdir = 12,

    /// <summary>Remove a node and all its children.</summary>
    Rm = 13,

    /// <summary>Replace a node's permission list.</summary>
    SetPerms = 14,

    /// <summary>Unsolicited watch event (path, token); only sent by the server.</summary>
    WatchEvent = 15,

    /// <summary>Error reply carrying an errno name; only sent by the server.</summary>
    Error = 16,

    /// <summary>Control domain: whether a domain has been introduced ("T"/"F").</summary>
    IsDomainIntroduced = 17,

    /// <summary>Control domain: re-arm @releaseDomain for a domain that was shut down.</summary>
    Resume = 18,

    /// <summary>Control domain: let a domain act for a target domain.</summary>
    SetTarget = 19,

    // 20 was XS_RESTRICT, which has been removed; the number is invalid.

    /// <summary>Drop all watches and transactions of the caller (<c>XS_SET_TARGET + 2</c>).</summary>
    ResetWatches = 21,

    /// <summary>Like <see cref="Directory"/>, in parts, for long child lists.</summary>
    DirectoryPart = 22,

    /// <summary>Read the feature bits of the caller or (control domain) of a domain.</summary>
    GetFeature = 23,

    /// <summary>Control domain: set a domain's feature bits before it is introduced.</summary>
    SetFeature = 24,

    /// <summary>Control domain: read a quota, globally or for a domain.</summary>
    GetQuota = 25,

    /// <summary>Control domain: set a quota, globally or for a domain.</summary>
    SetQuota = 26,

    /// <summary>Number of valid types (<c>XS_TYPE_COUNT</c>).</summary>
    TypeCount = 27,

    /// <summary>Guaranteed to remain an invalid type (<c>XS_INVALID</c>).</summary>
    Invalid = 0xffff,
}
