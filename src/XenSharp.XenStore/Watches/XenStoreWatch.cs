namespace XenSharp.XenStore;

/// <summary>
/// A registered watch: its canonical path, the client's token, the optional depth limit, and how
/// much of the path to strip when reporting (watches set with a relative path get relative event
/// paths).
/// </summary>
internal sealed class XenStoreWatch(string path, string token, int depth, int relativePrefixLength)
{
    /// <summary>Canonical (absolute or '@') path.</summary>
    public string Path { get; } = path;

    /// <summary>Opaque token echoed in every event.</summary>
    public string Token { get; } = token;

    /// <summary>Levels below <see cref="Path"/> that match; negative for any.</summary>
    public int Depth { get; } = depth;

    /// <summary>Length of "/local/domain/N/" for a relative watch, else 0.</summary>
    public int RelativePrefixLength { get; } = relativePrefixLength;

    /// <summary>The path to report for an event on <paramref name="eventPath"/>.</summary>
    public string Report(string eventPath) =>
        RelativePrefixLength > 0 && eventPath.Length >= RelativePrefixLength ? eventPath[RelativePrefixLength..] : eventPath;

    /// <summary>Whether an event on <paramref name="eventPath"/> with <paramref name="match"/> fires this watch.</summary>
    public bool Matches(string eventPath, WatchMatch match) => match switch
    {
        WatchMatch.Exact => eventPath == Path,
        WatchMatch.Subtree => XenStorePath.IsChild(eventPath, Path, Depth),
        WatchMatch.Depth => eventPath == Path || (Depth > 0 && XenStorePath.IsChild(eventPath, Path, Depth)),
        WatchMatch.NoDepth => eventPath == Path && Depth < 0,
        _ => false,
    };
}
