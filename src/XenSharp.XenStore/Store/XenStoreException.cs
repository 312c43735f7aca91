using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// A XenStore operation failed; <see cref="ErrorName"/> is the errno name xenstored would send
/// in its ERROR reply ("ENOENT", "EACCES", …; see <see cref="XsErrors"/>).
/// </summary>
public sealed class XenStoreException : Exception
{
    /// <summary>Creates the exception for an error name of <see cref="XsErrors"/>.</summary>
    public XenStoreException(string errorName)
        : base($"XenStore error {errorName}")
    {
        ErrorName = errorName;
    }

    /// <summary>Creates the exception with an error name and a more specific message.</summary>
    public XenStoreException(string errorName, string message)
        : base(message)
    {
        ErrorName = errorName;
    }

    /// <summary>The errno name, as sent on the wire.</summary>
    public string ErrorName { get; }
}
