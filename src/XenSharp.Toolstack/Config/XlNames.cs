namespace XenSharp.Toolstack.Config;

/// <summary>
/// xl's spellings of <see cref="DomainType"/> and <see cref="ShutdownAction"/> values
/// (<c>pvh</c>, <c>rename-restart</c>, ...), both ways. Matching is exact, as in xl.
/// </summary>
public static class XlNames
{
    /// <summary>The domain types in xl's spelling, in the order xl.cfg(5) lists them.</summary>
    public static IReadOnlyList<string> DomainTypes { get; } = ["pv", "pvh", "hvm"];

    /// <summary>The shutdown actions in xl's spelling, in the order xl.cfg(5) lists them.</summary>
    public static IReadOnlyList<string> ShutdownActions => s_shutdownActions;

    // Indexed by ShutdownAction.
    private static readonly string[] s_shutdownActions =
        ["destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart", "soft-reset"];

    /// <summary>The xl spelling of <paramref name="type"/>: <c>pv</c>, <c>pvh</c> or <c>hvm</c>.</summary>
    public static string ToXlName(this DomainType type) => type switch
    {
        DomainType.Pv => "pv",
        DomainType.Pvh => "pvh",
        DomainType.Hvm => "hvm",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The xl spelling of <paramref name="action"/>, e.g. <c>coredump-destroy</c>.</summary>
    public static string ToXlName(this ShutdownAction action) => action switch
    {
        ShutdownAction.Destroy => "destroy",
        ShutdownAction.Restart => "restart",
        ShutdownAction.RenameRestart => "rename-restart",
        ShutdownAction.Preserve => "preserve",
        ShutdownAction.CoredumpDestroy => "coredump-destroy",
        ShutdownAction.CoredumpRestart => "coredump-restart",
        ShutdownAction.SoftReset => "soft-reset",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    /// <summary>Reads <c>pv</c>, <c>pvh</c> or <c>hvm</c>.</summary>
    public static bool TryParseDomainType(string text, out DomainType type)
    {
        switch (text)
        {
            case "pv": type = DomainType.Pv; return true;
            case "pvh": type = DomainType.Pvh; return true;
            case "hvm": type = DomainType.Hvm; return true;
            default: type = default; return false;
        }
    }

    /// <summary>Reads one of the <see cref="ShutdownActions"/> names.</summary>
    public static bool TryParseShutdownAction(string text, out ShutdownAction action)
    {
        int index = Array.IndexOf(s_shutdownActions, text);
        action = (ShutdownAction)Math.Max(index, 0);
        return index >= 0;
    }
}
