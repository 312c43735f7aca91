namespace XenSharp.Toolstack.Config;

/// <summary>
/// What to do when a domain powers off, reboots, crashes, trips the watchdog or soft-resets:
/// the ACTIONs of xl.cfg's <c>on_poweroff</c>, <c>on_reboot</c>, <c>on_crash</c>,
/// <c>on_watchdog</c> and <c>on_soft_reset</c>. See <see cref="XlNames"/> for xl's spellings.
/// </summary>
public enum ShutdownAction
{
    /// <summary><c>destroy</c>: destroy the domain.</summary>
    Destroy,

    /// <summary><c>restart</c>: destroy the domain and create a new one with the same configuration.</summary>
    Restart,

    /// <summary><c>rename-restart</c>: rename the terminated domain, then create a new one.</summary>
    RenameRestart,

    /// <summary><c>preserve</c>: keep the domain for examination (later <c>xl destroy</c>).</summary>
    Preserve,

    /// <summary><c>coredump-destroy</c>: write a core dump, then destroy.</summary>
    CoredumpDestroy,

    /// <summary><c>coredump-restart</c>: write a core dump, then restart.</summary>
    CoredumpRestart,

    /// <summary><c>soft-reset</c>: reset the Xen interfaces of a Xen-aware HVM guest and keep running.</summary>
    SoftReset,
}
