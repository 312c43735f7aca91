using System.Text;

namespace XenSharp.Toolstack.Config;

/// <summary>A quoted string value, holding its characters after escapes are decoded.</summary>
public sealed class XlString : XlValue
{
    /// <summary>A string value read from <paramref name="line"/> (0 when built in code).</summary>
    public XlString(string value, int line = 0) : base(line)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
    }

    /// <summary>The decoded characters.</summary>
    public string Value { get; }

    /// <inheritdoc />
    public override XlValueKind Kind => XlValueKind.String;

    /// <inheritdoc />
    public override string ScalarText => Value;

    /// <inheritdoc />
    public override bool Equals(XlValue? other) => other is XlString s && s.Value == Value;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(XlValueKind.String, Value);

    /// <inheritdoc />
    public override string ToString() => Quote(Value);

    /// <summary>
    /// <paramref name="text"/> as an xl double-quoted string, using the escapes the xl lexer
    /// accepts for quotes, backslashes and control characters.
    /// </summary>
    public static string Quote(string text) => "\"" + Escape(text, '"') + "\"";

    /// <summary>
    /// <paramref name="text"/> with control characters written as xl escapes (<c>\n</c>,
    /// <c>\x01</c>, ...) and, when <paramref name="quote"/> is given, backslashes and that quote
    /// character too (<c>\\</c>, <c>\"</c>), as inside a quoted string.
    /// </summary>
    public static string Escape(string text, char? quote = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string? escape = c switch
            {
                '\\' when quote is not null => @"\\",
                '\a' => @"\a",
                '\b' => @"\b",
                '\f' => @"\f",
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                '\v' => @"\v",
                _ when c == quote => "\\" + quote,
                _ when c < ' ' || c == '\x7f' => $"\\x{(int)c:x2}",
                _ => null,
            };
            if (escape is null)
            {
                sb?.Append(c);
                continue;
            }
            sb ??= new StringBuilder(text.Length + 8).Append(text, 0, i);
            sb.Append(escape);
        }
        return sb?.ToString() ?? text;
    }
}
