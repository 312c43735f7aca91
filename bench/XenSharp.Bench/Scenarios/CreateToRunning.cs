using System.Diagnostics;
using XenSharp.Hypervisor;
using XenSharp.Kvm;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// create_to_running: ms inside the daemon's toolstack from a create request (a parsed
/// config handed to DomainManager.Create) to the guest's first instruction, observed as the
/// first byte the debugcon guest writes to port 0xE9 (its first instructions do that).
/// </summary>
public static class CreateToRunning
{
    private const int Rounds = 11;

    public static BenchResult Run()
    {
        string elf = Repo.Guest("debugcon");
        using var kvm = KvmAccelerator.Open();
        using var hv = new XenHypervisor(kvm);
        using var manager = new DomainManager(hv);
        var samples = new List<double>();
        for (int r = 0; r < Rounds; r++)
        {
            var config = DomainConfig.FromFile(XlConfigParser.Parse(
                $"name = \"run{r}\"\ntype = \"pvh\"\nkernel = \"{elf}\"\nmemory = 16\n", "bench.cfg"));
            using var first = new ManualResetEventSlim();
            long start = Stopwatch.GetTimestamp(), at = 0;
            var d = manager.Create(config, "/", beforeStart: m => m.Domain.DebugPortObserver = _ =>
            {
                if (at == 0) { at = Stopwatch.GetTimestamp(); first.Set(); }
            });
            if (!first.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("guest never ran");
            manager.Destroy(d);
            if (r > 0) samples.Add(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds);
        }
        var result = new BenchResult("create_to_running", "ms", samples);
        result.Extra["reference"] = "LightVM 2.3 ms on Xen; Firecracker API ready ~12 ms";
        return result;
    }
}
