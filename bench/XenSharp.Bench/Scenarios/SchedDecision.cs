using System.Diagnostics;
using XenSharp.Scheduling;
using XenSharp.Scheduling.Pools;
using XenSharp.Scheduling.Simulation;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// sched_decision: ns of wall time per scheduling decision in the deterministic simulator, with
/// 1,000 vCPUs on 64 pCPUs: half CPU-bound, half I/O-like (runs 50–500 µs of CPU, then blocks
/// 0.5–5 ms), weights 128..1024. The figure covers everything a decision costs in the
/// simulator — the policy's Schedule plus the Wake/Sleep/tickle/timer calls around it and the
/// simulator's own event queue — divided by the number of Schedule calls. Each policy runs
/// 200 ms of virtual time to warm up (which also gives its decision rate), then
/// <see cref="Samples"/> samples of one Run call each, long enough for about
/// <see cref="MinDecisionsPerSample"/> decisions; the report the simulator builds at the end of
/// each Run (O(domains × vCPUs)) is timed separately and subtracted. The main figure is credit2 (when the build
/// has it), with credit and null as extras; without credit2 the main figure is credit's.
/// null keeps 64 vCPUs on their pCPUs and leaves the rest waiting, so it decides far less often
/// (only its I/O-like vCPUs block and wake).
/// </summary>
public static class SchedDecision
{
    private const int Pcpus = 64;
    private const int Vcpus = 1000;
    private const int Samples = 7;
    private const long MinDecisionsPerSample = 200_000;
    private const long WarmupNs = 200_000_000;
    private const long MaxVirtualPerSampleNs = 30_000_000_000;

    public static BenchResult Run()
    {
        bool haveCredit2 = SchedulerFactory.IsAvailable("credit2");
        var policies = haveCredit2 ? new[] { "credit2", "credit", "null" } : new[] { "credit", "null" };
        var results = new Dictionary<string, (List<double> Ns, long Decisions, double VirtualS)>();
        foreach (var name in policies) results[name] = Measure(name);

        string main = haveCredit2 ? "credit2" : "credit";
        var result = new BenchResult("sched_decision", "ns", results[main].Ns);
        result.Extra["policy"] = main;
        result.Extra["vcpus"] = Vcpus;
        result.Extra["pcpus"] = Pcpus;
        if (!haveCredit2) result.Extra["credit2"] = "not in this build: main figure is credit";
        foreach (var (name, r) in results)
        {
            result.Extra[$"{name}_median_ns"] = BenchResult.Median(r.Ns);
            result.Extra[$"{name}_min_ns"] = r.Ns.Min();
            result.Extra[$"{name}_max_ns"] = r.Ns.Max();
            result.Extra[$"{name}_decisions"] = r.Decisions;
            result.Extra[$"{name}_virtual_s"] = r.VirtualS;
        }
        return result;
    }

    private static (List<double>, long, double) Measure(string policyName)
    {
        var sim = new Simulator(SchedulerFactory.Create(policyName), Pcpus, seed: 42);
        var rnd = new Random(7);
        for (int i = 0; i < Vcpus; i++)
        {
            var d = sim.AddDomain($"d{i}", weight: 128 << rnd.Next(4));
            var w = i % 2 == 0
                ? Workload.CpuBound
                : Workload.IoLike(50_000 + rnd.Next(450_000), 500_000 + rnd.Next(4_500_000));
            sim.AddVcpu(d, w);
        }
        sim.RunNs(WarmupNs); // warm-up: JIT, steady state; gives the decision rate
        double perNs = Math.Max(1, sim.Decisions) / (double)sim.Now;
        long span = Math.Clamp((long)(MinDecisionsPerSample / perNs), 10_000_000L, MaxVirtualPerSampleNs);
        var samples = new List<double>();
        long totalDecisions = 0;
        long virtualStart = sim.Now;
        for (int s = 0; s < Samples; s++)
        {
            long d0 = sim.Decisions;
            var sw = Stopwatch.StartNew();
            sim.RunNs(span); // one call: RunNs ends with a full report, timed apart below
            sw.Stop();
            long n = sim.Decisions - d0;
            if (n == 0) throw new InvalidOperationException($"{policyName}: no scheduling decision in {span / 1e9} s of virtual time");
            var report = Stopwatch.StartNew();
            sim.Report();
            report.Stop();
            samples.Add(Math.Max(0, sw.Elapsed.TotalNanoseconds - report.Elapsed.TotalNanoseconds) / n);
            totalDecisions += n;
        }
        return (samples, totalDecisions, (sim.Now - virtualStart) / 1e9);
    }
}
