using System.Diagnostics;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// Benchmarks of the `xl` command against a daemon of its own (a temporary state directory):
/// create_to_poweroff (ms from `xl create -c demo.cfg` to its exit once the domain is gone),
/// xl_list_latency (ms for `xl list` against a running daemon) and daemon_rss (the daemon's
/// resident memory with no domains and with ten idle 16 MiB domains).
/// </summary>
public static class XlCommands
{
    public static BenchResult CreateToPoweroff()
    {
        using var d = new BenchDaemon();
        string cfg = Path.Combine(Repo.Root, "examples", "demo.cfg");
        d.Run("create", "-c", cfg); // warm-up
        var samples = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            var sw = Stopwatch.StartNew();
            var (_, output, _) = d.Run("create", "-c", cfg);
            samples.Add(sw.Elapsed.TotalMilliseconds);
            if (!output.Contains("XenSharp demo:")) throw new InvalidOperationException("the demo printed nothing: " + output);
        }
        return new BenchResult("create_to_poweroff", "ms", samples);
    }

    public static BenchResult ListLatency()
    {
        using var d = new BenchDaemon();
        d.Run("list");
        var samples = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var sw = Stopwatch.StartNew();
            d.Run("list");
            samples.Add(sw.Elapsed.TotalMilliseconds);
        }
        var result = new BenchResult("xl_list_latency", "ms", samples);
        result.Extra["target"] = "< 100 ms";
        return result;
    }

    public static BenchResult DaemonRss()
    {
        using var d = new BenchDaemon();
        int pid = d.Pid;
        Thread.Sleep(500);
        double idle = RssMiB(pid);
        string elf = Repo.Guest("debugcon");
        string dir = d.Env["XENSHARP_STATE_DIR"];
        for (int i = 0; i < 10; i++)
        {
            string cfg = Path.Combine(dir, $"idle{i}.cfg");
            File.WriteAllText(cfg, $"name = \"idle{i}\"\ntype = \"pvh\"\nkernel = \"{elf}\"\nmemory = 16\n");
            d.Run("create", cfg);
        }
        Thread.Sleep(1000);
        double ten = RssMiB(pid);
        var result = new BenchResult("daemon_rss", "MiB", [ten]);
        result.Extra["rss_zero_domains_mib"] = idle;
        result.Extra["rss_ten_idle_domains_mib"] = ten;
        result.Extra["per_domain_mib"] = (ten - idle) / 10;
        result.Extra["reference"] = "Firecracker: < 5 MiB VMM overhead per microVM";
        return result;
    }

    private static double RssMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:"))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        return double.NaN;
    }
}
