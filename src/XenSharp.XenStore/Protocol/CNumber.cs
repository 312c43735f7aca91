namespace XenSharp.XenStore;

/// <summary>
/// Number parsing with the C library semantics xenstored applies to request arguments
/// (<c>atoi</c>, and <c>strtoul</c> for domain ids), so that odd input gets the same answer.
/// </summary>
internal static class CNumber
{
    /// <summary>
    /// <c>atoi</c>: optional whitespace and sign, then leading decimal digits; anything after is
    /// ignored; no digits gives 0. Wraps like a 32-bit int.
    /// </summary>
    public static int Atoi(string s) => unchecked((int)Atol(s));

    /// <summary><c>atol</c> with 64-bit wrap-around instead of undefined overflow.</summary>
    public static long Atol(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
        long value = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++) value = unchecked(value * 10 + (s[i] - '0'));
        return negative ? unchecked(-value) : value;
    }

    /// <summary>
    /// A domain id as xenstored's <c>parse_domid</c>: decimal digits forming the whole string
    /// (the empty string is 0, as <c>strtoul</c> makes it) and at most 65535.
    /// </summary>
    public static bool TryParseDomid(string? s, out int domid)
    {
        domid = 0;
        if (s is null) return false;
        long value = 0;
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c)) return false;
            value = value * 10 + (c - '0');
            if (value > 65535) return false;
        }
        domid = (int)value;
        return true;
    }
}
