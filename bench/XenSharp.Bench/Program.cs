using XenSharp.Bench;
using XenSharp.Bench.Scenarios;

// Benchmarks: `dotnet run -c Release --project bench/XenSharp.Bench -- [NAME...]` runs the named
// scenarios (none: all) and prints one JSON line each, with any baseline measured in the same run.
if (args is ["--boot-once", var elf]) return BootToFirstByte.BootOnce(elf);

var all = new Dictionary<string, Func<BenchResult>>
{
    ["hypercall_roundtrip"] = HypercallRoundtrip.Run,
    ["iret_fallback"] = IretFallback.Run,
    ["boot_to_first_byte"] = BootToFirstByte.Run,
    ["create_to_running"] = CreateToRunning.Run,
    ["create_to_poweroff"] = XlCommands.CreateToPoweroff,
    ["xl_list_latency"] = XlCommands.ListLatency,
    ["daemon_rss"] = XlCommands.DaemonRss,
    ["xenstore_ops"] = XenStoreOps.Run,
    ["evtchn_pingpong"] = EvtchnPingpong.Run,
    ["grant_copy"] = GrantCopyThroughput.Run,
    ["sched_decision"] = SchedDecision.Run,
    ["wake_latency"] = WakeLatency.Run,
    ["sched_fairness"] = SchedFairness.Run,
    ["blk_seq_read"] = BlockSequential.Read,
    ["blk_seq_write"] = BlockSequential.Write,
    ["grub_boot"] = GrubBoot.Run,
    ["softx86_mips"] = SoftX86Mips.Run,
    ["a64_mips"] = A64Mips.Run,
};
var names = args.Length > 0 ? args : all.Keys.ToArray();
int rc = 0;
foreach (var name in names)
{
    if (!all.TryGetValue(name, out var run))
    {
        Console.Error.WriteLine($"unknown benchmark '{name}' (known: {string.Join(", ", all.Keys)})");
        rc = 1;
        continue;
    }
    try
    {
        Console.WriteLine(run().ToJson());
    }
    catch (BenchSkippedException e)
    {
        Console.WriteLine(BenchResult.SkippedJson(name, e.Message));
        Console.Error.WriteLine($"{name}: skipped: {e.Message}");
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"{name}: failed: {e.Message}");
        rc = 1;
    }
}
return rc;
