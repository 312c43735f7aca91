namespace XenSharp.Toolstack.Config;

/// <summary>
/// A parsed xl.cfg file: every setting in the order written (repeats included), the warnings
/// the parser raised, and lookup of a key's effective setting (the last one, as in xl).
/// Immutable; <see cref="ApplyOverrides"/> returns a new instance.
/// </summary>
public sealed class XlConfigFile
{
    private readonly Dictionary<string, XlSetting> _effective = new(StringComparer.Ordinal);
    private readonly List<string> _keys = [];

    internal XlConfigFile(string fileName, IReadOnlyList<XlSetting> settings, IReadOnlyList<string> warnings)
    {
        FileName = fileName;
        Settings = settings.ToArray();
        Warnings = warnings.ToArray();
        foreach (var setting in Settings)
        {
            if (!_effective.ContainsKey(setting.Key))
            {
                _keys.Add(setting.Key);
            }
            _effective[setting.Key] = setting;
        }
    }

    /// <summary>The file name as given to the parser; used in messages.</summary>
    public string FileName { get; }

    /// <summary>Every setting in the order read, including repeated keys and applied overrides.</summary>
    public IReadOnlyList<XlSetting> Settings { get; }

    /// <summary>Warnings such as <c>FILE:LINE: 'memory' set again; ...</c>.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The distinct keys, in the order they first appear.</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>The effective (last) setting of <paramref name="key"/>, or null if it is not set.</summary>
    public XlSetting? Find(string key) => _effective.GetValueOrDefault(key);

    /// <summary>The effective (last) value of <paramref name="key"/>, or null if it is not set.</summary>
    public XlValue? this[string key] => Find(key)?.Value;

    /// <summary>Whether <paramref name="key"/> is set.</summary>
    public bool Contains(string key) => _effective.ContainsKey(key);

    /// <summary>
    /// The configuration with <c>xl create CFG key=value ...</c> overrides applied in order after
    /// the file's settings (so they win). Each override is parsed with the file grammar, so
    /// <c>name="x"</c>, <c>vif=['bridge=br0']</c>, <c>extra+=" quiet"</c> and <c>a=1;b=2</c> all work.
    /// A malformed override throws <see cref="XlConfigException"/> naming the override text.
    /// </summary>
    public XlConfigFile ApplyOverrides(IEnumerable<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var settings = new List<XlSetting>(Settings);
        var warnings = new List<string>(Warnings);
        foreach (string text in overrides)
        {
            ArgumentNullException.ThrowIfNull(text, nameof(overrides));
            XlConfigParser.ParseOverride(text, FileName, settings, warnings);
        }
        return new XlConfigFile(FileName, settings, warnings);
    }
}
