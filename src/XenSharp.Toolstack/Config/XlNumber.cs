namespace XenSharp.Toolstack.Config;

/// <summary>
/// An unquoted integer value. xl reads numbers the way C's <c>strtol(..., 0)</c> does:
/// decimal, hexadecimal after <c>0x</c>, and octal after a leading <c>0</c> (so <c>010</c> is 8).
/// The grammar has no signs and no floating point. Two numbers are equal when their values are,
/// however they were written.
/// </summary>
public sealed class XlNumber : XlValue
{
    /// <summary>A number as written (<paramref name="text"/>) with its value.</summary>
    public XlNumber(string text, long value, int line = 0) : base(line)
    {
        ArgumentNullException.ThrowIfNull(text);
        Text = text;
        Value = value;
    }

    /// <summary>A number built in code, written in decimal.</summary>
    public XlNumber(long value) : this(value.ToString(System.Globalization.CultureInfo.InvariantCulture), value)
    {
    }

    /// <summary>The number as written in the file, e.g. <c>0x100</c>.</summary>
    public string Text { get; }

    /// <summary>The number's value.</summary>
    public long Value { get; }

    /// <inheritdoc />
    public override XlValueKind Kind => XlValueKind.Number;

    /// <inheritdoc />
    public override string ScalarText => Text;

    /// <inheritdoc />
    public override bool Equals(XlValue? other) => other is XlNumber n && n.Value == Value;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(XlValueKind.Number, Value);

    /// <inheritdoc />
    public override string ToString() => Text;

    /// <summary>
    /// Reads <paramref name="text"/> as an xl integer. On failure <paramref name="expected"/>
    /// says what would have been accepted, in words for an error message.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long value, out string expected)
    {
        value = 0;
        expected = "";
        if (text.IsEmpty || !IsDigit(text[0]))
        {
            expected = "an integer: decimal, 0x hexadecimal, or octal with a leading 0";
            return false;
        }

        int radix = 10;
        ReadOnlySpan<char> digits = text;
        if (text.Length > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        {
            radix = 16;
            digits = text[2..];
        }
        else if (text.Length > 1 && text[0] == '0')
        {
            radix = 8;
            digits = text[1..];
        }

        if (digits.IsEmpty)
        {
            expected = "hexadecimal digits after 0x";
            return false;
        }

        ulong accumulated = 0;
        foreach (char c in digits)
        {
            int digit = DigitValue(c);
            if (digit < 0 || digit >= radix)
            {
                expected = Describe(text, radix);
                return false;
            }
            accumulated = accumulated * (ulong)radix + (ulong)digit;
            if (accumulated > long.MaxValue)
            {
                expected = $"an integer no larger than {long.MaxValue}";
                return false;
            }
        }
        value = (long)accumulated;
        return true;
    }

    private static string Describe(ReadOnlySpan<char> text, int radix)
    {
        bool floatLike = text.Contains('.') || text.Contains('e') || text.Contains('E');
        bool allDecimal = true;
        foreach (char c in text)
        {
            allDecimal &= IsDigit(c);
        }
        if (radix == 8 && allDecimal)
        {
            return "octal digits 0-7 after a leading 0 (xl reads 0-prefixed numbers as octal)";
        }
        if (radix == 16)
        {
            return "hexadecimal digits 0-9, a-f after 0x";
        }
        if (floatLike && AllFloatChars(text))
        {
            return "an integer: xl has no floating-point numbers";
        }
        return "an integer: decimal, 0x hexadecimal, or octal with a leading 0 (quote other text)";
    }

    private static bool AllFloatChars(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!IsDigit(c) && c is not ('.' or 'e' or 'E'))
                return false;
        }
        return true;
    }

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
