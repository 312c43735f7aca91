using System.Diagnostics;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl;

/// <summary>
/// Connects `xl` to the daemon, starting one when none runs. The daemon is started in a
/// session of its own (setsid) with its output to its log file, so killing `xl` or closing its
/// terminal never kills the daemon or its guests.
/// </summary>
public static class DaemonConnection
{
    public static ControlClient Connect()
    {
        var paths = StatePaths.Resolve();
        var client = ControlClient.TryConnect(paths);
        if (client is not null) return client;

        try
        {
            DaemonParameters.Load(paths.ParametersFile);
        }
        catch (XenSharp.Toolstack.Config.XlConfigException e)
        {
            throw new XlUsageException("xl: the XenSharp daemon cannot start: " + e.Message);
        }
        StartDaemon(paths);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            client = ControlClient.TryConnect(paths);
            if (client is not null) return client;
            Thread.Sleep(20);
        }
        string log = File.Exists(paths.LogFile) ? File.ReadLines(paths.LogFile).LastOrDefault() ?? "" : "";
        throw new XlUsageException($"xl: the XenSharp daemon did not start (see {paths.LogFile}){(log.Length > 0 ? ": " + log : "")}");
    }

    private static void StartDaemon(StatePaths paths)
    {
        Directory.CreateDirectory(paths.RuntimeDirectory);
        Directory.CreateDirectory(paths.LogDirectory);
        var (file, prefix) = SelfCommand();
        var psi = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
        };
        // exec setsid <xl> daemon, detached, stdio to the log file.
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("if command -v setsid >/dev/null 2>&1; then setsid \"$@\" </dev/null >>\"$LOG\" 2>&1 & else \"$@\" </dev/null >>\"$LOG\" 2>&1 & fi");
        psi.ArgumentList.Add("xl-daemon-launcher");
        psi.ArgumentList.Add(file);
        foreach (var p in prefix) psi.ArgumentList.Add(p);
        psi.ArgumentList.Add("daemon");
        psi.Environment["LOG"] = paths.LogFile;
        using var p2 = Process.Start(psi)!;
        p2.WaitForExit();
    }

    /// <summary>How to run this xl again: the apphost, or `dotnet xl.dll`.</summary>
    private static (string File, string[] Prefix) SelfCommand()
    {
        string process = Environment.ProcessPath ?? "xl";
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return (process, [Path.Combine(AppContext.BaseDirectory, "xl.dll")]);
        return (process, []);
    }
}
