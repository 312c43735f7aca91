using System.Diagnostics;
using System.Runtime.InteropServices;
using XenSharp.Hypervisor;
using XenSharp.Kvm;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// grant_copy: MB/s (10^6 bytes) moved by GNTTABOP_copy in whole 4 KiB pages. The guest
/// (BenchGuests.GrantCopyLoop) grants 16 of its pages to itself and makes
/// <see cref="Iterations"/> grant_table_op calls of 16 copies each (grant ref → own gmfn, 64 KiB
/// per call), timed in the guest's own terms between the port-0xE9 markers; so each sample
/// includes the guest exit, the hypercall dispatch, reading the ops, the grant checks and
/// pins, the copies and the status writes. Baseline, measured in the same run: memcpy on the
/// host (Buffer.MemoryCopy) of the same bytes in the same pattern, 16 × 4 KiB from 16
/// page-aligned source pages to 16 page-aligned destination pages, per iteration.
/// </summary>
public static class GrantCopyThroughput
{
    private const int Iterations = 2000;
    private const int Rounds = 7;
    private const int PageSize = 4096;
    private const double BytesPerIteration = BenchGuests.GrantCopyBatch * PageSize;

    public static BenchResult Run()
    {
        List<double> usPerCall;
        using (var kvm = KvmAccelerator.Open())
        using (var hv = new XenHypervisor(kvm))
        using (var manager = new DomainManager(hv))
        {
            var guest = BenchGuests.GrantCopyLoop(Iterations);
            // Warm-up: two more guest runs, uncounted, so the copy path is fully JIT-compiled.
            GuestLoopTimer.MicrosecondsPerIteration(manager, guest, "gntcopy-warm", Iterations, 2);
            usPerCall = GuestLoopTimer.MicrosecondsPerIteration(manager, guest, "gntcopy", Iterations, Rounds);
        }
        var mbPerS = usPerCall.Select(us => BytesPerIteration / us).ToList(); // bytes per µs = MB/s

        var memcpy = MemcpyMBPerSecond();
        var result = new BenchResult("grant_copy", "MB/s", mbPerS);
        result.Extra["us_per_call_16x4k"] = BenchResult.Median(usPerCall);
        result.Extra["bytes_per_round"] = (long)(BytesPerIteration * Iterations);
        result.Extra["memcpy_mb_per_s"] = BenchResult.Median(memcpy);
        result.Extra["ratio_to_memcpy"] = BenchResult.Median(mbPerS) / BenchResult.Median(memcpy);
        return result;
    }

    /// <summary>Host memcpy of the guest loop's bytes in its pattern; MB/s per round, round 0 warms up.</summary>
    private static unsafe List<double> MemcpyMBPerSecond()
    {
        int span = BenchGuests.GrantCopyBatch * PageSize;
        byte* src = (byte*)NativeMemory.AlignedAlloc((nuint)span, PageSize);
        byte* dst = (byte*)NativeMemory.AlignedAlloc((nuint)span, PageSize);
        try
        {
            new Span<byte>(src, span).Fill(0x5A);
            new Span<byte>(dst, span).Clear();
            var samples = new List<double>();
            for (int r = 0; r < Rounds; r++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < Iterations; i++)
                    for (int p = 0; p < BenchGuests.GrantCopyBatch; p++)
                        Buffer.MemoryCopy(src + p * PageSize, dst + p * PageSize, PageSize, PageSize);
                double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (r > 0) samples.Add(BytesPerIteration * Iterations / us);
            }
            if (dst[span - 1] != 0x5A) throw new InvalidOperationException("memcpy baseline did not copy");
            return samples;
        }
        finally
        {
            NativeMemory.AlignedFree(src);
            NativeMemory.AlignedFree(dst);
        }
    }
}
