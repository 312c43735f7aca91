namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// Where the daemon keeps its control socket, pid file and log:
/// XENSHARP_STATE_DIR when set (everything in it); as root, /run/xensharp and
/// /var/log/xensharp like a system service; otherwise $XDG_RUNTIME_DIR/xensharp (or
/// /tmp/xensharp-UID) and $XDG_STATE_HOME/xensharp (or ~/.local/state/xensharp).
/// </summary>
public sealed record StatePaths(string RuntimeDirectory, string LogDirectory)
{
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
            return new StatePaths(full, full);
        }
        if (Environment.UserName == "root" || GetEuid() == 0)
            return new StatePaths("/run/xensharp", "/var/log/xensharp");

        string runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg
            ? Path.Combine(xdg, "xensharp")
            : Path.Combine(Path.GetTempPath(), $"xensharp-{GetEuid()}");
        string state = Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } xs
            ? Path.Combine(xs, "xensharp")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "xensharp");
        return new StatePaths(runtime, state);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
