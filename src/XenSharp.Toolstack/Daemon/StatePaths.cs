namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// Where the daemon keeps its control socket, pid file, log and parameters file:
/// XENSHARP_STATE_DIR when set (everything in it); as root, /run/xensharp, /var/log/xensharp
/// and /etc/xensharp like a system service; otherwise $XDG_RUNTIME_DIR/xensharp (or
/// /tmp/xensharp-UID), $XDG_STATE_HOME/xensharp (or ~/.local/state/xensharp) and
/// $XDG_CONFIG_HOME/xensharp (or ~/.config/xensharp).
/// </summary>
public sealed record StatePaths(string RuntimeDirectory, string LogDirectory, string ConfigDirectory)
{
    /// <summary>The daemon's parameters file (see <see cref="DaemonParameters"/>).</summary>
    public string ParametersFile => Path.Combine(ConfigDirectory, "xensharpd.conf");

    /// <summary>
    /// Where core dumps go (Xen's /var/lib/xen/dump): /var/lib/xensharp/dump as root, else
    /// "dump" in the state (log) directory — under XENSHARP_STATE_DIR when that is set.
    /// </summary>
    public string DumpDirectory { get; init; } = Path.Combine(LogDirectory, "dump");

    public string ControlSocket => Path.Combine(RuntimeDirectory, "control.sock");
    public string PidFile => Path.Combine(RuntimeDirectory, "xensharpd.pid");
    public string LogFile => Path.Combine(LogDirectory, "xensharpd.log");
    /// <summary>xenstored's socket, for XENSTORED_PATH (Debian's xenstore-utils).</summary>
    public string XenStoreSocket => Path.Combine(RuntimeDirectory, "xenstored", "socket");

    public static StatePaths Resolve()
    {
        string? explicitDir = Environment.GetEnvironmentVariable("XENSHARP_STATE_DIR");
        if (!string.IsNullOrEmpty(explicitDir))
        {
            string full = Path.GetFullPath(explicitDir);
            return new StatePaths(full, full, full);
        }
        if (Environment.UserName == "root" || GetEuid() == 0)
            return new StatePaths("/run/xensharp", "/var/log/xensharp", "/etc/xensharp") { DumpDirectory = "/var/lib/xensharp/dump" };

        string runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg
            ? Path.Combine(xdg, "xensharp")
            : Path.Combine(Path.GetTempPath(), $"xensharp-{GetEuid()}");
        string state = Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } xs
            ? Path.Combine(xs, "xensharp")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "xensharp");
        string config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xc
            ? Path.Combine(xc, "xensharp")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "xensharp");
        return new StatePaths(runtime, state, config);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
