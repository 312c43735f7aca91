namespace XenSharp.Bench;

/// <summary>
/// A XenSharp daemon of the benchmarks' own: `xl` with a temporary XENSHARP_STATE_DIR (the first
/// command starts the daemon); <see cref="Dispose"/> stops it and deletes the directory.
/// </summary>
public sealed class BenchDaemon : IDisposable
{
    public string Xl { get; } = Repo.Xl();

    public Dictionary<string, string> Env { get; } = new()
    {
        ["XENSHARP_STATE_DIR"] = Path.Combine(Path.GetTempPath(), $"xensharp-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"),
    };

    public BenchDaemon() => Run("info"); // starts the daemon

    public (int Code, string Out, string Err) Run(params string[] args) => Repo.Run(Xl, args, Env);

    public int Pid => int.Parse(Info("daemon_pid"));

    /// <summary>The daemon's xenstored Unix socket (for XENSTORED_PATH).</summary>
    public string XenStoreSocket => Info("xenstore_socket");

    /// <summary>One field of `xl info`.</summary>
    public string Info(string key)
    {
        var line = Run("info").Out.Split('\n').FirstOrDefault(l => l.Split(':')[0].Trim() == key)
            ?? throw new InvalidOperationException($"`xl info` printed no {key} line");
        return line[(line.IndexOf(':') + 1)..].Trim();
    }

    public void Dispose()
    {
        Run("daemon-stop");
        try { Directory.Delete(Env["XENSHARP_STATE_DIR"], recursive: true); } catch (IOException) { }
    }
}
