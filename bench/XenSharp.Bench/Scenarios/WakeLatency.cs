using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// wake_latency: µs from an event sent to a blocked vCPU until that vCPU runs, measured as half
/// the round trip of guests/build/evtchn-pingpong.elf (ping sends, blocks in SCHEDOP_poll; pong
/// wakes, sends back, blocks; ping wakes — each half is one send plus one wake-to-run, see
/// <see cref="EvtchnPingpong"/>). Main figure: <c>sched=credit2 maxcpus=1</c> with a
/// guests/build/cpuhog.elf domain spinning on the same pCPU, so every wake has to preempt it.
/// Extras: the same daemon without the hog, and <c>sched=null maxcpus=2</c> (null gives each
/// vCPU a pCPU of its own, so it has no competitor by design). Daemons pinned with taskset to
/// the pCPUs they use. One sample per ping/pong pair; the first pair of each daemon warms up.
/// </summary>
public static class WakeLatency
{
    private const int Rounds = 1000;
    private const int Samples = 3;

    public static BenchResult Run()
    {
        string pingpong = Repo.Guest("evtchn-pingpong");
        string hog = Repo.Guest("cpuhog");
        if (FindOnPath("xenstore-write") is null || FindOnPath("xenstore-chmod") is null)
            throw new BenchSkippedException("xenstore-write / xenstore-chmod are not installed (Debian's xenstore-utils)");

        List<double> credit2Idle, credit2Hog, nul;
        using (var d = new SchedBenchDaemon("sched = \"credit2\"\nmaxcpus = 1\n", "0"))
        {
            credit2Idle = Measure(d, pingpong, "idle");
            d.Run("create", d.WriteConfig("hog", hog, "seconds=3600", ""));
            try { credit2Hog = Measure(d, pingpong, "hog"); }
            finally { Repo.Run(d.Xl, ["destroy", "hog"], d.Env, allowFailure: true); }
        }
        using (var d = new SchedBenchDaemon("sched = \"null\"\nmaxcpus = 2\n", "0,1"))
            nul = Measure(d, pingpong, "null");

        var result = new BenchResult("wake_latency", "us", credit2Hog);
        result.Extra["scheduler"] = "credit2, 1 pCPU, cpuhog competitor";
        result.Extra["rounds_per_sample"] = Rounds;
        result.Extra["median_credit2_no_competitor_us"] = BenchResult.Median(credit2Idle);
        result.Extra["median_null_2pcpu_us"] = BenchResult.Median(nul);
        result.Extra["min_null_2pcpu_us"] = nul.Min();
        result.Extra["max_null_2pcpu_us"] = nul.Max();
        return result;
    }

    /// <summary>µs per half round trip, one sample per ping/pong pair after a warm-up pair.</summary>
    private static List<double> Measure(SchedBenchDaemon d, string elf, string tag)
    {
        string socket = XenStoreSocket(d);
        var samples = new List<double>();
        for (int i = 0; i <= Samples; i++)
        {
            double us = OnePair(d, socket, elf, $"{tag}{i}") / 2;
            if (i > 0) samples.Add(us);
        }
        return samples;
    }

    private static double OnePair(SchedBenchDaemon d, string socket, string elf, string n)
    {
        string pong = $"pong-{n}", ping = $"ping-{n}";
        d.Run("create", "-p", d.WriteConfig(pong, elf, $"role=pong rounds={Rounds}", ""));
        d.Run("create", "-p", d.WriteConfig(ping, elf, $"role=ping rounds={Rounds}", ""));
        int pongId = DomId(d, pong), pingId = DomId(d, ping);
        try
        {
            LinkPeer(socket, pongId, pingId);
            LinkPeer(socket, pingId, pongId);
            using var console = d.StartXl("console", ping);
            var output = console.StandardOutput.ReadToEndAsync();
            d.Run("unpause", pong);
            d.Run("unpause", ping);
            if (!console.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                console.Kill();
                throw new TimeoutException($"{ping} did not finish");
            }
            console.WaitForExit();
            var m = Regex.Match(output.Result, @"^INFO pingpong rounds=(\d+) ns=(\d+)\r?$", RegexOptions.Multiline);
            if (!m.Success) throw new InvalidOperationException($"{ping} printed no `INFO pingpong` line:\n{output.Result}");
            long rounds = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            long ns = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            return ns / (double)rounds / 1000;
        }
        finally
        {
            Repo.Run(d.Xl, ["destroy", ping], d.Env, allowFailure: true);
            Repo.Run(d.Xl, ["destroy", pong], d.Env, allowFailure: true);
        }
    }

    private static int DomId(SchedBenchDaemon d, string name) =>
        int.Parse(d.Run("domid", name).Out.Trim(), CultureInfo.InvariantCulture);

    private static string XenStoreSocket(SchedBenchDaemon d)
    {
        var line = d.Run("info").Out.Split('\n').First(l => l.Split(':')[0].Trim() == "xenstore_socket");
        return line[(line.IndexOf(':') + 1)..].Trim();
    }

    /// <summary>/local/domain/DOMID/data/peer = PEER, owned by dom0 and readable by the domain (as libxl writes).</summary>
    private static void LinkPeer(string socket, int domid, int peer)
    {
        var env = new Dictionary<string, string> { ["XENSTORED_PATH"] = socket };
        string node = $"/local/domain/{domid}/data/peer";
        Repo.Run("xenstore-write", [node, peer.ToString(CultureInfo.InvariantCulture)], env);
        Repo.Run("xenstore-chmod", [node, "n0", $"r{domid}"], env);
    }

    private static string? FindOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
}
