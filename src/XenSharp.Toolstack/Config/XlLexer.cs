using System.Text;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Splits xl.cfg text into tokens. Spaces, tabs and carriage returns separate tokens;
/// <c>#</c> starts a comment that runs to the end of the line; strings are quoted with
/// <c>"</c> or <c>'</c>, stay on one line and accept the escapes <c>\" \' \\ \a \b \f \n \r
/// \t \v \xHH \OOO</c>. Anything else that is not punctuation is a word, which the parser
/// judges as a key or a number.
/// </summary>
internal sealed class XlLexer
{
    private const string EscapesAccepted = @"one of the escapes \"" \' \\ \a \b \f \n \r \t \v \xHH \OOO";

    private readonly string _text;
    private readonly string _file;
    private readonly string? _override;
    private int _pos;
    private int _line = 1;

    /// <summary>A lexer over <paramref name="text"/>, naming <paramref name="file"/> (or the override) in errors.</summary>
    public XlLexer(string text, string file, string? overrideText)
    {
        _text = text;
        _file = file;
        _override = overrideText;
        if (_text.Length > 0 && _text[0] == '\uFEFF')
        {
            _pos = 1;
        }
    }

    /// <summary>How the end of the text is described in messages.</summary>
    public string EndDescription => _override is null ? "end of file" : "end of text";

    /// <summary>Reads the next token; throws <see cref="XlConfigException"/> on a malformed string.</summary>
    public XlToken Next()
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            switch (c)
            {
                case ' ' or '\t' or '\r' or '\f' or '\v':
                    _pos++;
                    continue;
                case '#':
                    while (_pos < _text.Length && _text[_pos] != '\n')
                    {
                        _pos++;
                    }
                    continue;
                case '\n':
                    _pos++;
                    return new XlToken(XlTokenKind.Newline, "\n", "\n", _line++);
                case '[':
                    return Punctuation(XlTokenKind.LeftBracket, 1);
                case ']':
                    return Punctuation(XlTokenKind.RightBracket, 1);
                case ',':
                    return Punctuation(XlTokenKind.Comma, 1);
                case ';':
                    return Punctuation(XlTokenKind.Semicolon, 1);
                case '=':
                    return Punctuation(XlTokenKind.Assign, 1);
                case '+' when StartsAppend(_pos):
                    return Punctuation(XlTokenKind.AppendAssign, 2);
                case '"' or '\'':
                    return QuotedString(c);
                default:
                    return Word();
            }
        }
        return new XlToken(XlTokenKind.End, "", "", _line);
    }

    private bool StartsAppend(int pos) => _text[pos] == '+' && pos + 1 < _text.Length && _text[pos + 1] == '=';

    private XlToken Punctuation(XlTokenKind kind, int length)
    {
        string raw = _text.Substring(_pos, length);
        _pos += length;
        return new XlToken(kind, raw, raw, _line);
    }

    private XlToken Word()
    {
        int start = _pos;
        while (_pos < _text.Length && IsWordChar(_text[_pos]) && !StartsAppend(_pos))
        {
            _pos++;
        }
        string word = _text[start.._pos];
        return new XlToken(XlTokenKind.Word, word, word, _line);
    }

    /// <summary>
    /// Whether <paramref name="c"/> continues a word: anything but the separators the lexer
    /// skips, new lines and punctuation. (Other odd characters, such as a no-break space, stay in
    /// the word so the parser reports them instead of silently splitting on them.)
    /// </summary>
    private static bool IsWordChar(char c) =>
        c is not (' ' or '\t' or '\r' or '\f' or '\v' or '\n' or ',' or '[' or ']' or '=' or ';' or '#' or '"' or '\'');

    private XlToken QuotedString(char quote)
    {
        int start = _pos++;
        var value = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n')
            {
                string where = _pos >= _text.Length ? EndDescription : "end of line";
                throw Error($"{where} inside the string {Excerpt(start)}", $"the closing {quote} on the same line (xl strings cannot span lines)");
            }

            char c = _text[_pos++];
            if (c == quote)
            {
                break;
            }
            if (c != '\\')
            {
                value.Append(c);
                continue;
            }

            if (_pos >= _text.Length || _text[_pos] == '\n')
            {
                throw Error($"'\\' at the end of the line inside the string {Excerpt(start)}", EscapesAccepted + " (xl strings cannot span lines)");
            }
            char e = _text[_pos++];
            switch (e)
            {
                case '"' or '\'' or '\\':
                    value.Append(e);
                    break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'n': value.Append('\n'); break;
                case 'r': value.Append('\r'); break;
                case 't': value.Append('\t'); break;
                case 'v': value.Append('\v'); break;
                case 'x':
                    value.Append(HexEscape());
                    break;
                case >= '0' and <= '7':
                    value.Append(OctalEscape(e));
                    break;
                default:
                    throw Error($"'\\{e}' inside the string {Excerpt(start)}", EscapesAccepted);
            }
        }
        return new XlToken(XlTokenKind.String, value.ToString(), _text[start.._pos], _line);
    }

    private char HexEscape()
    {
        int high = _pos < _text.Length ? HexDigit(_text[_pos]) : -1;
        int low = _pos + 1 < _text.Length ? HexDigit(_text[_pos + 1]) : -1;
        if (high < 0 || low < 0)
        {
            int end = Math.Min(_pos + 2, _text.Length);
            string seen = _text[_pos..end].Split('\n')[0];
            throw Error($"'\\x{seen}' in a string", @"two hexadecimal digits after \x, as in \x1b");
        }
        _pos += 2;
        return (char)(high * 16 + low);
    }

    private char OctalEscape(char first)
    {
        int value = first - '0';
        for (int n = 1; n < 3 && _pos < _text.Length && _text[_pos] is >= '0' and <= '7'; n++)
        {
            value = value * 8 + (_text[_pos++] - '0');
        }
        if (value > 255)
        {
            throw Error($"'\\{Convert.ToString(value, 8)}' in a string", @"an octal escape from \0 to \377");
        }
        return (char)value;
    }

    private static int HexDigit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>The start of the string beginning at <paramref name="start"/>, cut at the line end and shortened.</summary>
    private string Excerpt(int start)
    {
        int end = _text.IndexOf('\n', start);
        string text = (end < 0 ? _text[start..] : _text[start..end]).TrimEnd('\r');
        return text.Length > 40 ? text[..40] + "..." : text;
    }

    private XlConfigException Error(string found, string expected) =>
        XlConfigException.Syntax(_file, _line, _override, found, expected);
}
