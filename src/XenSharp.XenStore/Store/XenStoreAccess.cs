namespace XenSharp.XenStore;

/// <summary>
/// The access a permission entry grants: the letters n, r, w and b of the wire format.
/// </summary>
[Flags]
public enum XenStoreAccess
{
    /// <summary>"n": no access.</summary>
    None = 0,

    /// <summary>"r": read.</summary>
    Read = 1,

    /// <summary>"w": write.</summary>
    Write = 2,

    /// <summary>"b": read and write.</summary>
    Both = Read | Write,
}
