namespace XenSharp.XenStore.Wire;

/// <summary>
/// The error names XenStore sends in ERROR replies (<c>xsd_errors[]</c> in <c>xs_wire.h</c>).
/// The name, not the number, travels on the wire; the numbers here are the Linux errno values
/// clients map them back to. The table keeps the header's order: new errors go at the end.
/// </summary>
public static class XsErrors
{
    /// <summary>Invalid argument.</summary>
    public const string EINVAL = "EINVAL";
    /// <summary>Permission denied.</summary>
    public const string EACCES = "EACCES";
    /// <summary>Already exists.</summary>
    public const string EEXIST = "EEXIST";
    /// <summary>Is a directory.</summary>
    public const string EISDIR = "EISDIR";
    /// <summary>No such node, transaction or watch.</summary>
    public const string ENOENT = "ENOENT";
    /// <summary>Out of memory.</summary>
    public const string ENOMEM = "ENOMEM";
    /// <summary>A quota was hit.</summary>
    public const string ENOSPC = "ENOSPC";
    /// <summary>I/O error (internal failure).</summary>
    public const string EIO = "EIO";
    /// <summary>Directory not empty.</summary>
    public const string ENOTEMPTY = "ENOTEMPTY";
    /// <summary>Operation not supported.</summary>
    public const string ENOSYS = "ENOSYS";
    /// <summary>Read-only.</summary>
    public const string EROFS = "EROFS";
    /// <summary>Busy (e.g. nested transaction).</summary>
    public const string EBUSY = "EBUSY";
    /// <summary>Try again (transaction conflict).</summary>
    public const string EAGAIN = "EAGAIN";
    /// <summary>Already connected.</summary>
    public const string EISCONN = "EISCONN";
    /// <summary>Reply too long.</summary>
    public const string E2BIG = "E2BIG";
    /// <summary>Operation not permitted (e.g. a guest changing a node's owner).</summary>
    public const string EPERM = "EPERM";

    /// <summary>The table of <c>xs_wire.h</c>, in its order: (Linux errno, name).</summary>
    public static IReadOnlyList<(int Errno, string Name)> Table { get; } =
    [
        (22, EINVAL),
        (13, EACCES),
        (17, EEXIST),
        (21, EISDIR),
        (2, ENOENT),
        (12, ENOMEM),
        (28, ENOSPC),
        (5, EIO),
        (39, ENOTEMPTY),
        (38, ENOSYS),
        (30, EROFS),
        (16, EBUSY),
        (11, EAGAIN),
        (106, EISCONN),
        (7, E2BIG),
        (1, EPERM),
    ];

    /// <summary>Whether <paramref name="name"/> is one of the names of the table.</summary>
    public static bool IsKnown(string name)
    {
        foreach (var (_, n) in Table)
            if (n == name) return true;
        return false;
    }

    /// <summary>
    /// The wire name for a Linux errno. Numbers outside the table become EINVAL, as xenstored
    /// does for an untranslatable error.
    /// </summary>
    public static string FromErrno(int errno)
    {
        foreach (var (e, n) in Table)
            if (e == errno) return n;
        return EINVAL;
    }

    /// <summary>The Linux errno of a wire name, or null for a name outside the table.</summary>
    public static int? ToErrno(string name)
    {
        foreach (var (e, n) in Table)
            if (n == name) return e;
        return null;
    }
}
