using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl top` (xentop): one row per domain — NAME STATE CPU(sec) CPU(%) MEM(k) MEM(%) MAXMEM(k)
/// VCPUS — every DELAY seconds. STATE is xentop's six flags d s b c p r; CPU(%) is the CPU time
/// gained since the previous iteration over the wall time passed (0.0 in the first; above 100
/// with several vCPUs busy); MEM(%) is of the host's memory. -b prints plain iterations (batch),
/// else the screen is redrawn until q or Ctrl-C.
/// </summary>
public static class TopCommand
{
    public const string Usage = "xl top [-b] [-i ITERATIONS] [-d DELAY]";

    public static int Run(string[] args)
    {
        bool batch = false;
        int? iterations = null;
        double delay = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new XlUsageException($"xl top: option {a} needs a value (usage: {Usage})");
            switch (a)
            {
                case "-b" or "--batch": batch = true; break;
                case "-i" or "--iterations":
                {
                    string v = Value();
                    iterations = int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
                        : throw new XlUsageException($"xl top: iterations \"{v}\" is not a positive whole number");
                    break;
                }
                case "-d" or "--delay":
                {
                    string v = Value();
                    delay = double.TryParse(v, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double d) && d > 0 && d <= 86400 ? d
                        : throw new XlUsageException($"xl top: delay \"{v}\" is not a number of seconds (0 < DELAY <= 86400)");
                    break;
                }
                default: throw new XlUsageException($"xl top: unknown argument '{a}' (usage: {Usage})");
            }
        }

        long hostKiB = HostMemoryKiB();
        var previous = new Dictionary<int, long>();
        long previousAt = 0;
        bool interactive = !batch && !Console.IsInputRedirected && !Console.IsOutputRedirected;
        if (interactive) Console.CancelKeyPress += (_, e) => { e.Cancel = false; Console.Out.Write("\x1b[?25h\n"); };
        for (int iteration = 0; iterations is not { } max || iteration < max; iteration++)
        {
            if (iteration > 0 && Wait(delay, interactive)) break;
            var reply = Request.Call("list");
            long now = Stopwatch.GetTimestamp();
            double wallNs = previousAt == 0 ? 0 : Stopwatch.GetElapsedTime(previousAt, now).TotalNanoseconds;
            var text = new StringBuilder();
            if (interactive) text.Append("\x1b[H\x1b[2J").Append(CultureInfo.InvariantCulture, $"xl top - {DateTime.Now:HH:mm:ss}   (q to quit)\n");
            text.Append("      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) VCPUS\n");
            var seen = new Dictionary<int, long>();
            foreach (var d in reply.GetProperty("domains").EnumerateArray())
            {
                int id = d.GetProperty("domid").GetInt32();
                long cpuNs = d.TryGetProperty("cpu_time_ns", out var c) ? c.GetInt64() : (long)(d.GetProperty("cpu_time").GetDouble() * 1e9);
                seen[id] = cpuNs;
                double pct = wallNs > 0 && previous.TryGetValue(id, out long before) ? Math.Max(0, cpuNs - before) * 100.0 / wallNs : 0;
                long mem = Kib(d, "memory_kib");
                long maxMem = Math.Max(mem, Kib(d, "max_memory_kib"));
                text.Append(string.Format(CultureInfo.InvariantCulture, "{0,10} {1,6} {2,10} {3,6:F1} {4,10} {5,6:F1} {6,10} {7,5}\n",
                    d.GetProperty("name").GetString(), XentopState(d.GetProperty("state").GetString() ?? ""), cpuNs / 1_000_000_000,
                    pct, mem, hostKiB > 0 ? mem * 100.0 / hostKiB : 0, maxMem, d.GetProperty("vcpus").GetInt32()));
            }
            Console.Out.Write(text.ToString());
            Console.Out.Flush();
            previous = seen;
            previousAt = now;
        }
        return ExitCodes.Success;
    }

    private static long Kib(JsonElement d, string name) =>
        d.TryGetProperty(name, out var v) ? v.GetInt64() : d.GetProperty("memory_mib").GetInt64() * 1024;

    /// <summary>xl's r b p s c d columns as xentop's d s b c p r.</summary>
    public static string XentopState(string xl)
    {
        if (xl.Length != 6) return "------";
        return new string([xl[5], xl[3], xl[1], xl[4], xl[2], xl[0]]);
    }

    private static long HostMemoryKiB()
    {
        var info = Request.Call("info");
        foreach (var pair in info.GetProperty("info").EnumerateArray())
            if (pair[0].GetString() == "total_memory" && long.TryParse(pair[1].GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long mib))
                return mib * 1024;
        return 0;
    }

    /// <summary>Sleeps DELAY seconds; interactively, returns true early when q is pressed.</summary>
    private static bool Wait(double seconds, bool interactive)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        if (!interactive)
        {
            Thread.Sleep(until - DateTime.UtcNow);
            return false;
        }
        while (DateTime.UtcNow < until)
        {
            while (Console.KeyAvailable)
                if (Console.ReadKey(intercept: true).KeyChar is 'q' or 'Q') return true;
            Thread.Sleep(50);
        }
        return false;
    }
}
