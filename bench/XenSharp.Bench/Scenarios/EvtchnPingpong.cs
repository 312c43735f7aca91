using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// evtchn_pingpong: µs per round trip of an event between two domains over an interdomain
/// event channel. guests/build/evtchn-pingpong.elf runs as a "pong" and a "ping" domain of a
/// daemon of the benchmark's own; they meet through XenStore (dom0 writes each one's peer id
/// into /local/domain/ID/data/peer), ping binds pong's port and then, <see cref="Rounds"/>
/// times, sends an event and waits for the reply (EVTCHNOP_send + SCHEDOP_poll on each side),
/// timing the loop with its pvclock and printing `INFO pingpong rounds=N ns=T`. One sample is
/// T/N of one pair of domains; the first pair of each daemon warms up and is not counted.
/// Measured with the daemon (and so both vCPU threads) pinned to one host CPU and to two; the
/// main figure is two CPUs. Beside it, the plain KVM exit cost of this machine measured in the
/// same run (HypercallRoundtrip's C VMM): one round trip costs at least four guest exits (two
/// sends, two polls) plus the wake-ups of the blocked vCPU threads.
/// </summary>
public static class EvtchnPingpong
{
    private const int Rounds = 2000;
    private const int Samples = 5;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    public static BenchResult Run()
    {
        string elf = Path.Combine(Repo.Root, "guests", "build", "evtchn-pingpong.elf");
        if (!File.Exists(elf))
            throw new BenchSkippedException($"{elf} is missing (build it with `make -C guests`)");
        if (FindOnPath("xenstore-write") is null || FindOnPath("xenstore-chmod") is null)
            throw new BenchSkippedException("xenstore-write / xenstore-chmod are not installed (Debian's xenstore-utils)");

        var (two, twoCpus) = Measure(elf, "0,1");
        var (one, oneCpu) = Measure(elf, "0");

        var result = new BenchResult("evtchn_pingpong", "us", two);
        result.Extra["rounds_per_sample"] = Rounds;
        result.Extra["daemon_cpus_2pcpu"] = twoCpus;
        result.Extra["median_1pcpu_us"] = BenchResult.Median(one);
        result.Extra["min_1pcpu_us"] = one.Min();
        result.Extra["max_1pcpu_us"] = one.Max();
        result.Extra["daemon_cpus_1pcpu"] = oneCpu;
        if (HypercallRoundtrip.NativeExitCost(2000, 5) is { } exit)
        {
            result.Extra["exit_cost_us"] = exit.Median;
            result.Extra["ratio_2pcpu_to_exit_cost"] = BenchResult.Median(two) / exit.Median;
        }
        else result.Extra["exit_cost_us"] = "gcc not found: not measured";
        return result;
    }

    /// <summary>Samples (µs per round trip) from a daemon pinned to <paramref name="cpus"/>, and its Cpus_allowed_list.</summary>
    private static (List<double> Samples, string Cpus) Measure(string elf, string cpus)
    {
        using var d = new BenchDaemon(cpus);
        string allowed = d.CpusAllowed;
        string socket = d.XenStoreSocket;
        var samples = new List<double>();
        for (int i = 0; i <= Samples; i++)
        {
            double us = OnePair(d, socket, elf, i);
            if (i > 0) samples.Add(us);
        }
        return (samples, allowed);
    }

    /// <summary>Runs one ping/pong pair to the end; µs per round trip as ping measured it.</summary>
    private static double OnePair(BenchDaemon d, string socket, string elf, int n)
    {
        string dir = d.Env["XENSHARP_STATE_DIR"];
        string pong = $"pong{n}", ping = $"ping{n}";
        int pongId = CreatePaused(d, dir, pong, elf, "pong");
        int pingId = CreatePaused(d, dir, ping, elf, "ping");
        try
        {
            LinkPeer(socket, pongId, pingId);
            LinkPeer(socket, pingId, pongId);
            // Attach to ping's console before it runs (the console also keeps earlier output);
            // `xl console` exits when the domain is gone, with everything ping printed.
            using var console = Start(d, "console", ping);
            var output = console.StandardOutput.ReadToEndAsync();
            var errors = console.StandardError.ReadToEndAsync();
            d.Run("unpause", pong);
            d.Run("unpause", ping);
            if (!console.WaitForExit(RunTimeout))
            {
                console.Kill();
                throw new TimeoutException($"{ping} did not finish within {RunTimeout.TotalSeconds:0} s");
            }
            console.WaitForExit();
            var m = Regex.Match(output.Result, @"^INFO pingpong rounds=(\d+) ns=(\d+)\r?$", RegexOptions.Multiline);
            if (!m.Success) throw new InvalidOperationException($"{ping} printed no `INFO pingpong` line:\n{output.Result}\n{errors.Result}");
            long rounds = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            long ns = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            if (rounds != Rounds) throw new InvalidOperationException($"{ping} completed {rounds} of {Rounds} rounds:\n{output.Result}");
            return ns / (double)rounds / 1000;
        }
        finally
        {
            // Both power off by themselves when done; make sure neither outlives its sample.
            Repo.Run(d.Xl, ["destroy", ping], d.Env, allowFailure: true);
            Repo.Run(d.Xl, ["destroy", pong], d.Env, allowFailure: true);
        }
    }

    private static int CreatePaused(BenchDaemon d, string dir, string name, string elf, string role)
    {
        string cfg = Path.Combine(dir, name + ".cfg");
        File.WriteAllText(cfg, $"""
            name = "{name}"
            type = "pvh"
            kernel = "{elf}"
            memory = 32
            vcpus = 1
            on_poweroff = "destroy"
            on_crash = "destroy"
            cmdline = "role={role} rounds={Rounds}"
            """);
        d.Run("create", "-p", cfg);
        return int.Parse(d.Run("domid", name).Out.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>/local/domain/DOMID/data/peer = PEER, owned by dom0 and readable by the domain (as libxl writes).</summary>
    private static void LinkPeer(string socket, int domid, int peer)
    {
        var env = new Dictionary<string, string> { ["XENSTORED_PATH"] = socket };
        string node = $"/local/domain/{domid}/data/peer";
        Repo.Run("xenstore-write", [node, peer.ToString(CultureInfo.InvariantCulture)], env);
        Repo.Run("xenstore-chmod", [node, "n0", $"r{domid}"], env);
    }

    private static Process Start(BenchDaemon d, params string[] args)
    {
        var psi = new ProcessStartInfo(d.Xl) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in d.Env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    private static string? FindOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
}
