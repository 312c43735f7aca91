using System.Diagnostics;

namespace XenSharp.Bench;

/// <summary>Paths in the repository and helpers to run its programs.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "XenSharp.slnx"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (XenSharp.slnx)");
    }

    /// <summary>A test guest from guests/build, built with make when missing.</summary>
    public static string Guest(string name)
    {
        string path = Path.Combine(Root, "guests", "build", name + ".elf");
        if (!File.Exists(path)) Run("make", ["-s", "-C", Path.Combine(Root, "guests")]);
        return path;
    }

    /// <summary>The built xl binary (built through ./xl when needed).</summary>
    public static string Xl()
    {
        Run(Path.Combine(Root, "xl"), ["help"], allowFailure: true);
        return Path.Combine(Root, "artifacts", "xl", "xl");
    }

    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, bool allowFailure = false)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0 && !allowFailure)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
