namespace XenSharp.Bench;

/// <summary>
/// A XenSharp daemon of the benchmarks' own: `xl` with a temporary XENSHARP_STATE_DIR (the first
/// command starts the daemon); <see cref="Dispose"/> stops it and deletes the directory.
/// With <c>cpus</c> (a taskset list such as "0" or "0,1"), that first command runs under
/// `taskset -c cpus`, so the daemon it spawns, and every vCPU thread of the daemon, inherit
/// that CPU affinity.
/// </summary>
public sealed class BenchDaemon : IDisposable
{
    public string Xl { get; } = Repo.Xl();

    public Dictionary<string, string> Env { get; } = new()
    {
        ["XENSHARP_STATE_DIR"] = Path.Combine(Path.GetTempPath(), $"xensharp-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"),
    };

    public BenchDaemon(string? cpus = null)
    {
        if (cpus is null) Run("info"); // starts the daemon
        else Repo.Run("taskset", ["-c", cpus, Xl, "info"], Env);
    }

    public (int Code, string Out, string Err) Run(params string[] args) => Repo.Run(Xl, args, Env);

    public int Pid => int.Parse(Info("daemon_pid"));

    /// <summary>The daemon's xenstored Unix socket (for XENSTORED_PATH).</summary>
    public string XenStoreSocket => Info("xenstore_socket");

    /// <summary>The daemon's CPU affinity as the kernel reports it (Cpus_allowed_list).</summary>
    public string CpusAllowed =>
        File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("Cpus_allowed_list:"))["Cpus_allowed_list:".Length..].Trim();

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
