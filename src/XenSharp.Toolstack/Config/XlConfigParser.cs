namespace XenSharp.Toolstack.Config;

/// <summary>
/// Reads the xl.cfg(5) syntax into an <see cref="XlConfigFile"/>: <c>key = value</c> settings
/// (one per line or separated by <c>;</c>), <c>key += value</c> appends, <c>#</c> comments,
/// single- or double-quoted strings with escapes, integers (decimal, <c>0x</c> hex, <c>0</c>
/// octal; xl has no floating point), and lists <c>[ ... ]</c> that may span lines, nest and
/// end with a trailing comma. A repeated key keeps its last value, with a warning.
/// Syntax errors throw <see cref="XlConfigException"/>:
/// <c>FILE:LINE: syntax error: FOUND (expected ACCEPTED)</c>.
/// </summary>
public static class XlConfigParser
{
    /// <summary>
    /// How deep lists may nest. Documented keys use at most a list of lists (<c>vnuma</c>,
    /// <c>vsnd</c>); xl's grammar allows more, so a few levels more are accepted.
    /// </summary>
    public const int MaxListDepth = 8;

    /// <summary>Parses <paramref name="text"/>, naming it <paramref name="fileName"/> in messages.</summary>
    public static XlConfigFile Parse(string text, string fileName)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        var settings = new List<XlSetting>();
        var warnings = new List<string>();
        new XlStatementParser(text, fileName, null, settings, warnings).Run();
        return new XlConfigFile(fileName, settings, warnings);
    }

    /// <summary>Reads and parses the file at <paramref name="path"/> (named as given in messages).</summary>
    public static XlConfigFile ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new XlConfigException($"{path}: cannot read the configuration file: no such file", e) { Location = path };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new XlConfigException($"{path}: cannot read the configuration file: {e.Message}", e) { Location = path };
        }
        return Parse(text, path);
    }

    /// <summary>
    /// Parses one <c>xl create CFG key=value</c> override with the file grammar and appends its
    /// settings to <paramref name="settings"/>. Errors name the override text.
    /// </summary>
    internal static void ParseOverride(string overrideText, string fileName, List<XlSetting> settings, List<string> warnings)
    {
        int added = new XlStatementParser(overrideText, fileName, overrideText, settings, warnings).Run();
        if (added == 0)
        {
            throw XlConfigException.Syntax(fileName, 1, overrideText, "no setting", "key=value, e.g. memory=512");
        }
    }
}
