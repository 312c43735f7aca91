namespace XenSharp.Toolstack.Config;

/// <summary>
/// One <c>key = value</c> (or <c>key += value</c>) statement of an xl.cfg file or of an
/// <c>xl create</c> command-line override. <paramref name="Line"/> is the 1-based line of the key.
/// </summary>
/// <param name="Key">The key, e.g. <c>memory</c>.</param>
/// <param name="Value">The value; for <c>+=</c> the value already joined with the earlier one.</param>
/// <param name="Line">The 1-based line the statement starts on.</param>
public sealed record XlSetting(string Key, XlValue Value, int Line)
{
    /// <summary>The configuration file's name as given to the parser (used in messages).</summary>
    public string File { get; init; } = "";

    /// <summary>The command-line override text this setting came from; null if from the file.</summary>
    public string? Override { get; init; }

    /// <summary>
    /// Whether the statement used <c>+=</c>: strings are joined and lists concatenated with the
    /// previous value of the key. As in xl, such a setting cannot be read as a number.
    /// </summary>
    public bool Appended { get; init; }

    /// <summary>
    /// Where the setting came from, for messages: <c>FILE:LINE</c>, or
    /// <c>command-line override 'key=value'</c>.
    /// </summary>
    public string Location => XlConfigException.FormatLocation(File, Line, Override);
}
