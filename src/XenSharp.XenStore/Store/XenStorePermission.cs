using System.Globalization;

namespace XenSharp.XenStore;

/// <summary>
/// One entry of a node's permission list: a domain and the access it gets. In a list, the first
/// entry names the node's owner (who always has full access) and its access is the default for
/// every domain without an entry of its own. The wire form is the access letter followed by the
/// domain id in decimal, e.g. "b0" or "r5".
/// </summary>
public readonly record struct XenStorePermission(int DomainId, XenStoreAccess Access)
{
    /// <summary>DOMID_ANY: an entry that applies to every domain.</summary>
    public const int DomidAny = 0x7FF5;

    /// <summary>DOMID_SELF, accepted by IS_DOMAIN_INTRODUCED.</summary>
    public const int DomidSelf = 0x7FF0;

    /// <summary>First reserved domain id (DOMID_FIRST_RESERVED); real domains are below.</summary>
    public const int DomidFirstReserved = 0x7FF0;

    /// <summary>An "n" entry.</summary>
    public static XenStorePermission NoAccess(int domainId) => new(domainId, XenStoreAccess.None);

    /// <summary>An "r" entry.</summary>
    public static XenStorePermission ReadOnly(int domainId) => new(domainId, XenStoreAccess.Read);

    /// <summary>A "w" entry.</summary>
    public static XenStorePermission WriteOnly(int domainId) => new(domainId, XenStoreAccess.Write);

    /// <summary>A "b" entry.</summary>
    public static XenStorePermission ReadWrite(int domainId) => new(domainId, XenStoreAccess.Both);

    /// <summary>The wire form ("b0", "r5", "n32757").</summary>
    public override string ToString()
    {
        char letter = Access switch
        {
            XenStoreAccess.Read => 'r',
            XenStoreAccess.Write => 'w',
            XenStoreAccess.Both => 'b',
            _ => 'n',
        };
        return letter + DomainId.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Parses the wire form; throws <see cref="FormatException"/> when malformed.</summary>
    public static XenStorePermission Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"not a XenStore permission: '{text}'");

    /// <summary>
    /// Parses the wire form: one of n/r/w/b, then an integer that must make up the rest of the
    /// string. As xenstored (which uses <c>strtol(p, &amp;end, 0)</c>) the number may be
    /// decimal, 0x-prefixed hexadecimal or 0-prefixed octal, with an optional sign, and is
    /// truncated to 32 bits.
    /// </summary>
    public static bool TryParse(string text, out XenStorePermission permission)
    {
        permission = default;
        if (string.IsNullOrEmpty(text)) return false;
        XenStoreAccess access;
        switch (text[0])
        {
            case 'r': access = XenStoreAccess.Read; break;
            case 'w': access = XenStoreAccess.Write; break;
            case 'b': access = XenStoreAccess.Both; break;
            case 'n': access = XenStoreAccess.None; break;
            default: return false;
        }
        if (!TryParseCInteger(text.AsSpan(1), out long value)) return false;
        permission = new XenStorePermission(unchecked((int)(uint)value), access);
        return true;
    }

    // strtol(…, 0) over the whole span: whitespace, sign, base prefix, digits, nothing after.
    private static bool TryParseCInteger(ReadOnlySpan<char> s, out long value)
    {
        value = 0;
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
        int radix = 10;
        if (i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
            i + 2 < s.Length && Uri.IsHexDigit(s[i + 2]))
        {
            radix = 16;
            i += 2;
        }
        else if (i < s.Length && s[i] == '0')
        {
            radix = 8;
        }
        int start = i;
        ulong acc = 0;
        bool overflow = false;
        for (; i < s.Length; i++)
        {
            int d = DigitValue(s[i]);
            if (d < 0 || d >= radix) break;
            if (acc > (ulong.MaxValue - (ulong)d) / (ulong)radix) overflow = true;
            else acc = acc * (ulong)radix + (ulong)d;
        }
        if (i == start || i != s.Length) return false;
        if (overflow || acc > long.MaxValue) value = negative ? long.MinValue : long.MaxValue;
        else value = negative ? -(long)acc : (long)acc;
        return true;
    }

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
