using System.Diagnostics;
using XenSharp.Hypervisor;
using XenSharp.Kvm;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// iret_fallback: µs per event-channel upcall taken and returned from at CPL0 (send → callback
/// vector injected → handler → IRET, which this host's KVM refuses and XenSharp completes),
/// beside hypercall_roundtrip measured in the same run.
/// </summary>
public static class IretFallback
{
    private const int Iterations = 1000;
    private const int Rounds = 6;

    public static BenchResult Run()
    {
        using var kvm = KvmAccelerator.Open();
        using var hv = new XenHypervisor(kvm);
        using var manager = new DomainManager(hv);
        var samples = Measure(manager, BenchGuests.UpcallLoop(Iterations), "upcall");
        var hypercall = Measure(manager, BenchGuests.HypercallLoop(Iterations), "hcall");
        var result = new BenchResult("iret_fallback", "us", samples);
        result.Extra["iterations"] = Iterations;
        result.Extra["hypercall_roundtrip_median"] = BenchResult.Median(hypercall);
        result.Extra["emulated"] = string.Join(" ", hv.InstructionEmulator!.Counters.Select(c => $"{c.Key}={c.Value}"));
        return result;
    }

    private static List<double> Measure(DomainManager manager, byte[] elfBytes, string name)
    {
        string elf = Path.Combine(Path.GetTempPath(), $"xensharp-bench-{name}-{Environment.ProcessId}.elf");
        File.WriteAllBytes(elf, elfBytes);
        var samples = new List<double>();
        try
        {
            for (int r = 0; r < Rounds; r++)
            {
                long start = 0, end = 0;
                using var done = new ManualResetEventSlim();
                var config = DomainConfig.FromFile(XlConfigParser.Parse(
                    $"name = \"{name}{r}\"\ntype = \"pvh\"\nkernel = \"{elf}\"\nmemory = 16\n", "bench.cfg"));
                var d = manager.Create(config, "/", beforeStart: m => m.Domain.DebugPortObserver = b =>
                {
                    if (b == 'S') start = Stopwatch.GetTimestamp();
                    if (b == 'E') { end = Stopwatch.GetTimestamp(); done.Set(); }
                });
                bool finished = done.Wait(TimeSpan.FromSeconds(60));
                string state = (d.Domain.CrashDetail ?? "") + $" rip=0x{d.Domain.Vcpus[0].Cpu.Registers.Rip:x} vcpu={d.Domain.Vcpus[0].State} log:\n" +
                               string.Join("\n", manager.Hypervisor.Log.Read().Split('\n').TakeLast(6));
                manager.Destroy(d);
                if (!finished) throw new TimeoutException($"{name} loop did not finish {state}");
                if (r > 0) samples.Add(Stopwatch.GetElapsedTime(start, end).TotalMicroseconds / Iterations);
            }
        }
        finally
        {
            File.Delete(elf);
        }
        return samples;
    }
}
