using XenSharp.Hypervisor;
using XenSharp.Kvm;
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
        var samples = GuestLoopTimer.MicrosecondsPerIteration(manager, BenchGuests.UpcallLoop(Iterations), "upcall", Iterations, Rounds);
        var hypercall = GuestLoopTimer.MicrosecondsPerIteration(manager, BenchGuests.HypercallLoop(Iterations), "hcall", Iterations, Rounds);
        var result = new BenchResult("iret_fallback", "us", samples);
        result.Extra["iterations"] = Iterations;
        result.Extra["hypercall_roundtrip_median"] = BenchResult.Median(hypercall);
        result.Extra["emulated"] = string.Join(" ", hv.InstructionEmulator!.Counters.Select(c => $"{c.Key}={c.Value}"));
        return result;
    }
}
