using System.Globalization;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// XenStore path syntax and path arithmetic.
/// </summary>
/// <remarks>
/// Validation, as xenstored's <c>canonicalize</c>:
/// <list type="bullet">
/// <item>only the characters A-Z a-z 0-9 and <c>- / _ @</c>;</item>
/// <item>a path starting with '@' names a special watch node (<c>@introduceDomain</c>,
/// <c>@releaseDomain</c>) and is allowed only where the operation accepts those (WATCH, UNWATCH,
/// GET_PERMS, SET_PERMS);</item>
/// <item>any other path not starting with '/' is relative to the caller's home
/// <c>/local/domain/&lt;domid&gt;</c> (so the empty path becomes <c>/local/domain/N/</c>, which is
/// then rejected for its trailing slash);</item>
/// <item>no "//", no trailing '/' except the root itself;</item>
/// <item>no longer than <see cref="XsWireLimits.AbsolutePathMax"/> (the protocol's absolute limit);</item>
/// <item>for unprivileged callers the part after a leading <c>/local/domain/&lt;N&gt;/</c> must stay
/// below the "path-max" quota (xenstored's rule: length ≥ quota is rejected).</item>
/// </list>
/// xenstored has no depth limit beyond what the length limits imply, and neither does this.
/// Every violation is EINVAL.
/// </remarks>
public static class XenStorePath
{
    /// <summary>The root node.</summary>
    public const string Root = "/";

    /// <summary>Special watch path fired when a domain is introduced.</summary>
    public const string IntroduceDomain = "@introduceDomain";

    /// <summary>Special watch path fired when a domain is released or shut down.</summary>
    public const string ReleaseDomain = "@releaseDomain";

    /// <summary>The home path of a domain, <c>/local/domain/N</c>.</summary>
    public static string DomainPath(int domid) => "/local/domain/" + domid.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether the path names a special node (starts with '@').</summary>
    public static bool IsSpecial(string path) => path.Length > 0 && path[0] == '@';

    /// <summary>Whether every character is one XenStore allows in paths.</summary>
    public static bool HasValidCharacters(string path)
    {
        foreach (char c in path)
        {
            bool ok = c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '/' or '_' or '@';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>
    /// The canonical (absolute) form of a path sent by domain <paramref name="callerDomid"/>, or null
    /// when it is invalid. <paramref name="pathMaxQuota"/> is the caller's "path-max" quota (0: none).
    /// </summary>
    public static string? Canonicalize(string? path, int callerDomid, bool allowSpecial, int pathMaxQuota)
    {
        if (path is null || !HasValidCharacters(path)) return null;
        if (IsSpecial(path) && !allowSpecial) return null;

        string name = path.Length > 0 && (path[0] == '/' || path[0] == '@')
            ? path
            : DomainPath(callerDomid) + "/" + path;

        if (name.EndsWith('/') && name != Root) return null;
        if (name.Contains("//", StringComparison.Ordinal)) return null;
        if (name.Length > XsWireLimits.AbsolutePathMax) return null;
        if (pathMaxQuota > 0 && name.Length - LocalDomainPrefixLength(name) >= pathMaxQuota) return null;
        return name;
    }

    /// <summary>
    /// Length of a leading <c>/local/domain/&lt;up to 5 digits&gt;/</c>, or 0. Path-length quotas
    /// count only what follows it, so that every domain gets the same room below its home.
    /// </summary>
    public static int LocalDomainPrefixLength(string name)
    {
        const string prefix = "/local/domain/";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return 0;
        int i = prefix.Length;
        int digits = 0;
        while (i < name.Length && digits < 5 && char.IsAsciiDigit(name[i])) { i++; digits++; }
        if (digits == 0 || i >= name.Length || name[i] != '/') return 0;
        return i + 1;
    }

    /// <summary>The parent of a node: everything before the last '/', or the root.</summary>
    public static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? Root : path[..slash];
    }

    /// <summary>The last component of a (non-root) path.</summary>
    public static string BaseName(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>The path of child <paramref name="name"/> of <paramref name="parent"/>.</summary>
    public static string Child(string parent, string name) => parent == Root ? "/" + name : parent + "/" + name;

    /// <summary>
    /// Whether <paramref name="child"/> is <paramref name="parent"/> or lies below it, at most
    /// <paramref name="depth"/> levels down (negative: any depth). The root is the parent of every
    /// absolute path; '@' paths are only children of themselves (and of '@' prefixes).
    /// </summary>
    public static bool IsChild(string child, string parent, int depth)
    {
        int len = parent.Length;
        if (!child.StartsWith(parent, StringComparison.Ordinal)) return false;
        if (len > 1 && child.Length > len && child[len] != '/') return false;
        if (depth < 0 || child.Length == len) return true;

        // Count the separators after the parent; the root's own '/' already counts as one level.
        int levels = len == 1 ? 1 : 0;
        for (int i = len; levels <= depth; i++)
        {
            if (i == child.Length) return true;
            if (child[i] == '/') levels++;
        }
        return false;
    }
}
