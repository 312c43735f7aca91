using XenSharp.Hypervisor;
using XenSharp.Kvm;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// hypercall_roundtrip: µs per xen_version hypercall made in a guest loop at CPL0, timed in
/// the guest's own terms (between two port-0xE9 markers around the loop). Baseline: the same
/// guest loop under a minimal C VMM (native/kvm_out_loop.c) that only re-enters on each exit.
/// </summary>
public static class HypercallRoundtrip
{
    private const int Iterations = 2000;
    private const int Rounds = 7;

    public static BenchResult Run()
    {
        using var kvm = KvmAccelerator.Open();
        using var hv = new XenHypervisor(kvm);
        using var manager = new DomainManager(hv);
        var samples = GuestLoopTimer.MicrosecondsPerIteration(manager, BenchGuests.HypercallLoop(Iterations), "hcall", Iterations, Rounds);

        var result = new BenchResult("hypercall_roundtrip", "us", samples);
        result.Extra["iterations"] = Iterations;
        var baseline = NativeExitCost(Iterations, Rounds - 1);
        if (baseline is { } b)
        {
            result.Extra["baseline_c_kvm_median"] = b.Median;
            result.Extra["baseline_c_kvm_min"] = b.Min;
            result.Extra["ratio_to_baseline"] = BenchResult.Median(samples) / b.Median;
        }
        else result.Extra["baseline"] = "gcc not found: C baseline not measured";
        result.Extra["target"] = "within 1.3x of the C KVM loop";
        return result;
    }

    /// <summary>
    /// The plain KVM exit cost of this machine: µs per I/O exit of native/kvm_out_loop.c (the
    /// hypercall loop under a C VMM that only re-enters), median and min over
    /// <paramref name="rounds"/> rounds of <paramref name="iterations"/> exits; null without gcc.
    /// </summary>
    public static (double Median, double Min)? NativeExitCost(int iterations, int rounds)
    {
        string source = Path.Combine(Repo.Root, "bench", "XenSharp.Bench", "native", "kvm_out_loop.c");
        string binary = Path.Combine(Path.GetTempPath(), $"xensharp-kvm-out-loop-{Environment.ProcessId}");
        try
        {
            if (Repo.Run("gcc", ["-O2", "-o", binary, source], allowFailure: true).Code != 0) return null;
            var (_, output, _) = Repo.Run(binary, [iterations.ToString(), rounds.ToString()]);
            var parts = output.Trim().Split(' ');
            return (double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture),
                    double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
        finally
        {
            File.Delete(binary);
        }
    }
}
