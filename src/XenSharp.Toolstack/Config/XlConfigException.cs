namespace XenSharp.Toolstack.Config;

/// <summary>
/// An xl.cfg file (or a command-line override) that cannot be used: a syntax error, a bad value
/// for a key, or a missing mandatory key. The message is meant for the person who wrote the file
/// and always starts with where the problem is:
/// <list type="bullet">
/// <item><c>FILE:LINE: syntax error: FOUND (expected ACCEPTED)</c></item>
/// <item><c>FILE:LINE: KEY: bad value 'VALUE' (accepted: ACCEPTED)</c></item>
/// <item><c>FILE: KEY: missing (WHY)</c></item>
/// </list>
/// For a command-line override the location is <c>command-line override 'TEXT'</c>.
/// </summary>
public sealed class XlConfigException : Exception
{
    /// <summary>An error with a complete message.</summary>
    public XlConfigException(string message) : base(message) { }

    /// <summary>An error with a complete message, caused by <paramref name="innerException"/>.</summary>
    public XlConfigException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The location prefix of the message (<c>FILE:LINE</c>, <c>FILE</c> or the override).</summary>
    public string? Location { get; init; }

    /// <summary>The key the error is about, if any.</summary>
    public string? Key { get; init; }

    /// <summary>The 1-based line in the file, when the error is tied to one.</summary>
    public int? Line { get; init; }

    /// <summary>Location text for messages: <c>FILE:LINE</c>, or the override that was being read.</summary>
    public static string FormatLocation(string file, int line, string? overrideText) =>
        overrideText is not null ? $"command-line override '{XlString.Escape(overrideText)}'"
        : line > 0 ? $"{file}:{line}"
        : file;

    internal static XlConfigException Syntax(string file, int line, string? overrideText, string found, string expected)
    {
        string location = FormatLocation(file, line, overrideText);
        return new XlConfigException($"{location}: syntax error: {found} (expected {expected})")
        {
            Location = location,
            Line = overrideText is null ? line : null,
        };
    }

    internal static XlConfigException BadValue(XlSetting setting, string shown, string accepted) =>
        new($"{setting.Location}: {setting.Key}: bad value '{shown}' (accepted: {accepted})")
        {
            Location = setting.Location,
            Key = setting.Key,
            Line = setting.Override is null ? setting.Line : null,
        };

    internal static XlConfigException Missing(string file, string key, string why) =>
        new($"{file}: {key}: missing ({why})")
        {
            Location = file,
            Key = key,
        };
}
