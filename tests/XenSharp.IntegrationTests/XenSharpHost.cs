using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// One XenSharp "host" for a test collection: a private state directory (control socket, pid
/// file, daemon log) and the real <c>xl</c> apphost from the test output directory, run as a
/// child process with XENSHARP_STATE_DIR pointing at that directory. The first <c>xl</c>
/// command starts the daemon; <see cref="Dispose"/> stops it with <c>xl daemon-stop</c>
/// (which destroys any domains left) and deletes the directory.
/// </summary>
public sealed class XenSharpHost : IDisposable
{
    /// <summary>How long one xl command may take before it is killed and the test fails.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private int _configCounter;

    public XenSharpHost()
    {
        XlPath = Path.Combine(AppContext.BaseDirectory, "xl");
        if (!File.Exists(XlPath))
            throw new InvalidOperationException($"the xl apphost is missing from the test output ({XlPath}); the test project references src/XenSharp.Xl to put it there");
        StateDir = Path.Combine(Path.GetTempPath(), "xensharp-it-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(StateDir);
    }

    /// <summary>The daemon's state directory (XENSHARP_STATE_DIR) for this host.</summary>
    public string StateDir { get; }

    /// <summary>The xl apphost that the tests run.</summary>
    public string XlPath { get; }

    public string DaemonLog => Path.Combine(StateDir, "xensharpd.log");

    /// <summary>The repository root: the first directory above the test binaries that holds XenSharp.slnx.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>examples/demo.cfg in the repository.</summary>
    public static string DemoConfig => Path.Combine(RepoRoot, "examples", "demo.cfg");

    /// <summary>A C test guest built by `make -C guests` (the test build runs it): guests/build/NAME.elf.</summary>
    public static string Guest(string name)
    {
        string path = Path.Combine(RepoRoot, "guests", "build", name + ".elf");
        if (!File.Exists(path))
            throw new InvalidOperationException($"test guest {path} is missing: the test build runs `make -C guests`; run it by hand to see why it failed");
        return path;
    }

    /// <summary>An AArch64 test guest built by `make -C guests` (guests/arm64/build/NAME.elf).</summary>
    public static string ArmGuest(string name)
    {
        string path = Path.Combine(RepoRoot, "guests", "arm64", "build", name + ".elf");
        if (!File.Exists(path))
            throw new InvalidOperationException($"test guest {path} is missing: the test build runs `make -C guests` (which needs gcc-aarch64-linux-gnu); run it by hand to see why it failed");
        return path;
    }

    /// <summary>Runs <c>xl ARGS</c> to completion (at most <see cref="DefaultTimeout"/>).</summary>
    public XlResult Xl(params string[] args) => Xl(DefaultTimeout, args);

    /// <summary>Runs <c>xl ARGS</c>; when it does not finish within <paramref name="timeout"/>, kills it and fails the test with what it printed.</summary>
    public XlResult Xl(TimeSpan timeout, params string[] args)
    {
        using var p = new Process { StartInfo = StartInfo(args) };
        p.Start();
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        if (!p.WaitForExit(timeout))
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            string o = stdout.Wait(5000) ? stdout.Result : "<not available>";
            string e = stderr.Wait(5000) ? stderr.Result : "<not available>";
            Assert.Fail($"`xl {string.Join(' ', args)}` did not finish within {timeout.TotalSeconds:0} s and was killed.\n" +
                        $"--- stdout ---\n{o}\n--- stderr ---\n{e}\n--- daemon log (tail) ---\n{DaemonLogTail()}");
        }
        p.WaitForExit(); // lets the output readers reach EOF
        return new XlResult(args, p.ExitCode, stdout.Result, stderr.Result, clock.Elapsed, this);
    }

    /// <summary>Starts <c>xl ARGS</c> without waiting for it (for commands that stay attached, like <c>create -c</c> of a guest that never ends).</summary>
    public XlProcess StartXl(params string[] args) => new(StartInfo(args), args);

    private ProcessStartInfo StartInfo(string[] args)
    {
        var psi = new ProcessStartInfo(XlPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = StateDir,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XENSHARP_STATE_DIR"] = StateDir;
        return psi;
    }

    /// <summary>Writes an xl.cfg file into the state directory and returns its full path.</summary>
    public string WriteConfig(string name, string text)
    {
        string path = Path.Combine(StateDir, $"{name}-{Interlocked.Increment(ref _configCounter)}.cfg");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>An xl.cfg for a PVH guest.</summary>
    public string WritePvhConfig(string name, string kernel, int memoryMiB = 16, int vcpus = 1, string extra = "") =>
        WriteConfig(name, $"""
            name = "{name}"
            type = "pvh"
            kernel = "{kernel}"
            memory = {memoryMiB}
            vcpus = {vcpus}
            on_poweroff = "destroy"
            on_crash = "destroy"
            {extra}
            """);

    /// <summary>Runs <c>xl list</c> and parses its table.</summary>
    public IReadOnlyList<DomainRow> List()
    {
        var r = Xl("list").AssertSuccess();
        return DomainRow.ParseTable(r);
    }

    /// <summary>Asserts that <c>xl list</c> shows Domain-0 and nothing else.</summary>
    public void AssertOnlyDomain0()
    {
        var rows = List();
        Assert.True(rows.Count == 1 && rows[0].Name == "Domain-0" && rows[0].Id == 0,
            "expected `xl list` to show only Domain-0, got:\n" + string.Join('\n', rows.Select(r => r.Line)));
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            Thread.Sleep(200);
        }
    }

    /// <summary>Destroys every domain except Domain-0 (cleanup after a test, so one failure does not cascade).</summary>
    public void DestroyAllGuests()
    {
        if (!File.Exists(Path.Combine(StateDir, "control.sock"))) return;
        var list = Xl("list");
        if (list.ExitCode != 0) return;
        foreach (var d in DomainRow.ParseTable(list).Where(d => d.Id != 0))
            Xl("destroy", d.Id.ToString(CultureInfo.InvariantCulture));
    }

    public string DaemonLogTail(int lines = 40)
    {
        try
        {
            using var s = new FileStream(DaemonLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(s);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "<no daemon log>";
        }
    }

    public void Dispose()
    {
        int? daemonPid = null;
        try
        {
            string pidFile = Path.Combine(StateDir, "xensharpd.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid)) daemonPid = pid;
            Xl(TimeSpan.FromSeconds(30), "daemon-stop");
        }
        catch (Exception)
        {
            // Keep going: the daemon is killed below if it did not stop.
        }
        if (daemonPid is int id)
        {
            var clock = Stopwatch.StartNew();
            while (IsAlive(id) && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(50);
            if (IsAlive(id))
            {
                try { Process.GetProcessById(id).Kill(); } catch (Exception) { }
            }
        }
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Whether a process (not ours: the daemon runs in its own session) is still running and not a zombie.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "XenSharp.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no XenSharp.slnx above {AppContext.BaseDirectory}");
    }
}

/// <summary>What one xl command printed and how it exited.</summary>
public sealed record XlResult(string[] Args, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, XenSharpHost Host)
{
    public IEnumerable<string> StdoutLines => Lines(Stdout);
    public IEnumerable<string> StderrLines => Lines(Stderr);

    /// <summary>stderr without xl's "Parsing config from ..." progress line: what is left are warnings and errors.</summary>
    public IReadOnlyList<string> ErrorLines => StderrLines.Where(l => !l.StartsWith("Parsing config from ", StringComparison.Ordinal)).ToList();

    public XlResult AssertExit(int expected)
    {
        Assert.True(ExitCode == expected, $"expected exit code {expected}\n{Describe()}");
        return this;
    }

    public XlResult AssertSuccess() => AssertExit(0);

    /// <summary>The command, exit code and output, for assertion messages.</summary>
    public string Describe() =>
        $"`xl {string.Join(' ', Args)}` exited {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}\n" +
        $"--- daemon log (tail) ---\n{Host.DaemonLogTail(15)}";

    public override string ToString() => Describe();

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);
}

/// <summary>A row of <c>xl list</c>: Name ID Mem VCPUs State Time(s).</summary>
public sealed record DomainRow(string Name, int Id, long MemoryMiB, int Vcpus, string State, double CpuSeconds, string Line)
{
    private static readonly Regex Row = new(
        @"^(?<name>\S+)\s+(?<id>\d+)\s+(?<mem>\d+)\s+(?<vcpus>\d+)\s+(?<state>[-rbpscd]{6})\s+(?<time>\d+(\.\d+)?)$",
        RegexOptions.CultureInvariant);

    public static IReadOnlyList<DomainRow> ParseTable(XlResult list)
    {
        var lines = list.StdoutLines.ToList();
        Assert.True(lines.Count >= 1 && lines[0].StartsWith("Name", StringComparison.Ordinal) && lines[0].Contains("State"),
            "`xl list` printed no header line\n" + list.Describe());
        var rows = new List<DomainRow>();
        foreach (var line in lines.Skip(1))
        {
            var m = Row.Match(line);
            Assert.True(m.Success, $"`xl list` row not in xl's layout: \"{line}\"\n{list.Describe()}");
            rows.Add(new DomainRow(
                m.Groups["name"].Value,
                int.Parse(m.Groups["id"].Value, CultureInfo.InvariantCulture),
                long.Parse(m.Groups["mem"].Value, CultureInfo.InvariantCulture),
                int.Parse(m.Groups["vcpus"].Value, CultureInfo.InvariantCulture),
                m.Groups["state"].Value,
                double.Parse(m.Groups["time"].Value, CultureInfo.InvariantCulture),
                line));
        }
        return rows;
    }
}

/// <summary>An xl command left running (its output is collected as it comes).</summary>
public sealed class XlProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly string[] _args;

    public XlProcess(ProcessStartInfo psi, string[] args)
    {
        _args = args;
        _process = new Process { StartInfo = psi };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Append(e.Data).Append('\n'); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Append(e.Data).Append('\n'); };
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Waits for xl to exit (and its output to be read); false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit();
        return true;
    }

    public int ExitCode => _process.ExitCode;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails the test (with the output) after <paramref name="timeout"/>.</summary>
    public void WaitForStdout(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (clock.Elapsed > timeout || _process.HasExited)
                Assert.Fail($"`xl {string.Join(' ', _args)}` did not print \"{text}\" ({(_process.HasExited ? $"exited {_process.ExitCode}" : $"waited {timeout.TotalSeconds:0} s")})\n" +
                            $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Kills the xl process (SIGKILL), as a user closing the terminal or `kill -9` would.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try { Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}

/// <summary>Base for test classes: a shared host, and leftover domains destroyed after each test.</summary>
public abstract class XlTestBase(XenSharpHost host) : IDisposable
{
    protected XenSharpHost Host { get; } = host;

    public void Dispose()
    {
        Host.DestroyAllGuests();
        GC.SuppressFinalize(this);
    }
}
