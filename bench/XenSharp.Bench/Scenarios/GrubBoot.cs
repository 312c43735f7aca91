using System.Diagnostics;
using System.Text;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// grub_boot: seconds from `xl create -c` to GRUB's menu on the console. Debian's GRUB2 for
/// Xen PVH (.cache/grub-xen/grub-i386-xen_pvh.bin, fetched by ./run-tests) is the kernel of a
/// 64 MiB PVH domain whose disk is an 8 MiB ext2 image (mkfs.ext2 -d) holding
/// /boot/grub/grub.cfg with `set timeout=5` and one menuentry; GRUB's built-in configuration
/// finds it (`search -s -f /boot/grub/grub.cfg; configfile`) and draws the menu. The clock
/// starts just before the `xl create -c` process is started (on a daemon that is already
/// running) and stops when its console output contains "The highlighted entry will be executed
/// automatically"; then the domain is destroyed. <see cref="Runs"/> runs, all counted (the first
/// is the daemon's first domain). Extra: guest instructions the software CPU retired from
/// create to the menu (the daemon's `xl info` guest_insns, one domain at a time).
/// </summary>
public static class GrubBoot
{
    private const int Runs = 3;
    private const string Marker = "The highlighted entry will be executed automatically";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static string GrubImage => Path.Combine(Repo.Root, ".cache", "grub-xen", "grub-i386-xen_pvh.bin");

    public static BenchResult Run()
    {
        if (!File.Exists(GrubImage))
            throw new BenchSkippedException($"{GrubImage} is missing (./run-tests downloads Debian's grub-xen-host)");
        if (FindOnPath("mkfs.ext2") is null)
            throw new BenchSkippedException("mkfs.ext2 is not installed (e2fsprogs)");

        using var d = new BenchDaemon();
        string dir = d.Env["XENSHARP_STATE_DIR"];
        string root = Path.Combine(dir, "grub-root");
        Directory.CreateDirectory(Path.Combine(root, "boot", "grub"));
        File.WriteAllText(Path.Combine(root, "boot", "grub", "grub.cfg"), """
            set timeout=5
            menuentry 'XenSharp bench entry' {
                echo 'XenSharp bench: nothing to boot'
            }

            """);
        string image = Path.Combine(dir, "grub-disk.img");
        Repo.Run("mkfs.ext2", ["-q", "-d", root, image, "8M"]);

        var samples = new List<double>();
        var insns = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            string name = $"grub{i}";
            string cfg = Path.Combine(dir, name + ".cfg");
            File.WriteAllText(cfg, $"""
                name = "{name}"
                type = "pvh"
                kernel = "{GrubImage}"
                memory = 64
                vcpus = 1
                disk = [ 'format=raw, vdev=xvda, access=rw, target={image}' ]
                """);
            long before = GuestInstructions(d);
            var (seconds, after) = TimeToMenu(d, cfg, name);
            samples.Add(seconds);
            if (before >= 0 && after >= 0) insns.Add(after - before);
        }

        var result = new BenchResult("grub_boot", "s", samples);
        result.Extra["runs"] = Runs;
        result.Extra["grub"] = "Debian grub-xen-host grub-i386-xen_pvh.bin";
        if (insns.Count > 0) result.Extra["guest_insns_to_menu_median"] = (long)BenchResult.Median(insns);
        return result;
    }

    /// <summary>Seconds until the menu text, and the daemon's guest_insns then; destroys the domain.</summary>
    private static (double Seconds, long Insns) TimeToMenu(BenchDaemon d, string cfg, string name)
    {
        var psi = new ProcessStartInfo(d.Xl) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("create");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(cfg);
        foreach (var (k, v) in d.Env) psi.Environment[k] = v;
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var seen = new StringBuilder();
        using var found = new ManualResetEventSlim();
        double seconds = double.NaN;
        var reader = Task.Run(() =>
        {
            var stream = p.StandardOutput.BaseStream;
            var buffer = new byte[4096];
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                // Latin-1: one char per byte, so the marker matches whatever escape sequences surround it.
                seen.Append(Encoding.Latin1.GetString(buffer, 0, n));
                if (!found.IsSet && seen.ToString().Contains(Marker, StringComparison.Ordinal))
                {
                    seconds = sw.Elapsed.TotalSeconds;
                    found.Set();
                }
            }
        });
        try
        {
            if (!found.Wait(Timeout))
                throw new TimeoutException($"{name}: no GRUB menu within {Timeout.TotalSeconds:0} s:\n{Tail(seen)}\n{(p.HasExited ? stderr.Result : "")}");
            return (seconds, GuestInstructions(d));
        }
        finally
        {
            Repo.Run(d.Xl, ["destroy", name], d.Env, allowFailure: true);
            if (!p.WaitForExit(TimeSpan.FromSeconds(10))) p.Kill();
            p.WaitForExit();
            reader.Wait(TimeSpan.FromSeconds(5));
        }
    }

    private static string Tail(StringBuilder sb) => sb.Length <= 2000 ? sb.ToString() : sb.ToString(sb.Length - 2000, 2000);

    /// <summary>The daemon's guest_insns (instructions its software CPUs retired), or -1 when it reports none.</summary>
    private static long GuestInstructions(BenchDaemon d)
    {
        try
        {
            return long.TryParse(d.Info("guest_insns"), out long v) ? v : -1;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    private static string? FindOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
}
