namespace XenSharp.Toolstack.Config;

/// <summary>
/// The recursive-descent parser behind <see cref="XlConfigParser"/>: reads statements from one
/// text (a file, or one command-line override) and appends them to a list of settings.
/// <para>
/// Grammar (as xl's): statements are separated by new lines or <c>;</c>, and empty statements
/// are allowed; a statement is <c>KEY = VALUE</c> or <c>KEY += VALUE</c> on one line; a key is
/// a lowercase letter followed by lowercase letters, digits, <c>_</c> or <c>.</c>; a value is a
/// quoted string, a number, or <c>[ VALUE, ... ]</c>, where new lines may follow <c>[</c>, each
/// value and each comma, and one trailing comma is allowed. The last statement needs no newline.
/// </para>
/// </summary>
internal sealed class XlStatementParser
{
    private const string ExpectedKey = "a key: a lowercase letter, then lowercase letters, digits, '_' or '.'";
    private const string ExpectedValue = "a value: a \"quoted string\", a number, or a [ list ]";

    private readonly XlLexer _lexer;
    private readonly string _file;
    private readonly string? _override;
    private readonly List<XlSetting> _settings;
    private readonly List<string> _warnings;
    private XlToken _tok;

    /// <summary>
    /// A parser of <paramref name="text"/> that appends to <paramref name="settings"/> (which may
    /// already hold the file's settings, for <c>+=</c> in overrides) and <paramref name="warnings"/>.
    /// </summary>
    public XlStatementParser(string text, string file, string? overrideText, List<XlSetting> settings, List<string> warnings)
    {
        _lexer = new XlLexer(text, file, overrideText);
        _file = file;
        _override = overrideText;
        _settings = settings;
        _warnings = warnings;
    }

    /// <summary>Parses every statement; returns how many settings were added.</summary>
    public int Run()
    {
        int added = 0;
        Advance();
        while (true)
        {
            switch (_tok.Kind)
            {
                case XlTokenKind.End:
                    return added;
                case XlTokenKind.Newline or XlTokenKind.Semicolon:
                    Advance();
                    continue;
                case XlTokenKind.Word:
                    break;
                default:
                    throw Error(_tok, ExpectedKey);
            }

            string key = ParseAssignment();
            added++;
            switch (_tok.Kind)
            {
                case XlTokenKind.End:
                    return added;
                case XlTokenKind.Newline or XlTokenKind.Semicolon:
                    Advance();
                    break;
                default:
                    throw Error(_tok, $"';' or a new line after the value of '{key}'");
            }
        }
    }

    /// <summary>Parses <c>KEY (=|+=) VALUE</c> at the current token; leaves the token after the value current.</summary>
    private string ParseAssignment()
    {
        XlToken keyToken = _tok;
        if (!IsKey(keyToken.Text))
        {
            throw Error(keyToken, ExpectedKey);
        }
        string key = keyToken.Text;

        Advance();
        bool append;
        switch (_tok.Kind)
        {
            case XlTokenKind.Assign:
                append = false;
                break;
            case XlTokenKind.AppendAssign:
                append = true;
                break;
            default:
                throw Error(_tok, $"'=' or '+=' after '{key}'");
        }

        Advance();
        XlValue value = ParseValue(0);
        Store(key, keyToken.Line, append, value);
        return key;
    }

    private XlValue ParseValue(int depth)
    {
        XlToken token = _tok;
        switch (token.Kind)
        {
            case XlTokenKind.String:
                Advance();
                return new XlString(token.Text, token.Line);
            case XlTokenKind.Word when token.Text[0] is >= '0' and <= '9':
                if (!XlNumber.TryParse(token.Text, out long number, out string expected))
                {
                    throw Error(token, expected);
                }
                Advance();
                return new XlNumber(token.Text, number, token.Line);
            case XlTokenKind.LeftBracket:
                return ParseList(depth + 1);
            case XlTokenKind.Word when IsKey(token.Text):
                throw Error(token, ExpectedValue + " (text must be quoted)");
            default:
                throw Error(token, ExpectedValue);
        }
    }

    private XlList ParseList(int depth)
    {
        XlToken open = _tok;
        if (depth > XlConfigParser.MaxListDepth)
        {
            throw Error(open, $"a value: lists nest at most {XlConfigParser.MaxListDepth} deep");
        }

        var items = new List<XlValue>();
        AdvanceOverNewlines();
        while (_tok.Kind != XlTokenKind.RightBracket)
        {
            items.Add(ParseValue(depth));
            SkipNewlines();
            if (_tok.Kind == XlTokenKind.RightBracket)
            {
                break;
            }
            if (_tok.Kind != XlTokenKind.Comma)
            {
                string opened = _override is null ? $" opened on line {open.Line}" : "";
                throw Error(_tok, $"',' or ']' in the list{opened}");
            }
            AdvanceOverNewlines();
        }
        Advance();
        return new XlList(items, open.Line);
    }

    private void Store(string key, int line, bool append, XlValue value)
    {
        XlSetting? previous = _settings.FindLast(s => s.Key == key);
        var setting = new XlSetting(key, value, line) { File = _file, Override = _override, Appended = append };
        if (append && previous is not null)
        {
            setting = setting with { Value = Join(previous, setting) };
        }
        else if (!append && previous is not null && _override is null && previous.Override is null)
        {
            _warnings.Add($"{setting.Location}: '{key}' set again; replaces the value from line {previous.Line} (the last one wins)");
        }
        _settings.Add(setting);
    }

    /// <summary>xl's <c>+=</c>: strings (and numbers, as text) are joined, lists concatenated.</summary>
    private static XlValue Join(XlSetting previous, XlSetting added)
    {
        XlValue before = previous.Value;
        XlValue after = added.Value;
        if (before is XlList beforeList && after is XlList afterList)
        {
            return new XlList(beforeList.Items.Concat(afterList.Items), after.Line);
        }
        if (before.ScalarText is { } beforeText && after.ScalarText is { } afterText)
        {
            return new XlString(beforeText + afterText, after.Line);
        }
        string shape = before is XlList ? "a [ list ]" : "a single value (string or number)";
        throw XlConfigException.BadValue(added, XlSettingReader.Show(after),
            $"{shape}, to add with '+=' to the value from {previous.Location}");
    }

    /// <summary>Whether <paramref name="word"/> is an xl key: [a-z][a-z0-9_.]*.</summary>
    internal static bool IsKey(string word)
    {
        if (word.Length == 0 || word[0] is < 'a' or > 'z')
        {
            return false;
        }
        foreach (char c in word)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '.'))
            {
                return false;
            }
        }
        return true;
    }

    private void Advance() => _tok = _lexer.Next();

    private void AdvanceOverNewlines()
    {
        Advance();
        SkipNewlines();
    }

    private void SkipNewlines()
    {
        while (_tok.Kind == XlTokenKind.Newline)
        {
            Advance();
        }
    }

    private XlConfigException Error(XlToken found, string expected) =>
        XlConfigException.Syntax(_file, found.Line, _override, Describe(found), expected);

    private string Describe(XlToken token) => token.Kind switch
    {
        XlTokenKind.End => _lexer.EndDescription,
        XlTokenKind.Newline => "end of line",
        XlTokenKind.String => token.Raw,
        XlTokenKind.Word => $"'{XlString.Escape(token.Raw)}'",
        _ => $"'{token.Raw}'",
    };
}
