using System.Diagnostics;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench;

/// <summary>
/// Times a benchmark guest's loop in the guest's own terms: the guest writes 'S' to port 0xE9
/// before its loop and 'E' after it; the time between the two, divided by the iterations, is
/// one sample per round. Round 0 warms up and is not counted. A guest that writes 'F' instead
/// of 'E' reports a failure of its own checks.
/// </summary>
public static class GuestLoopTimer
{
    public static List<double> MicrosecondsPerIteration(DomainManager manager, byte[] elfBytes, string name, int iterations, int rounds)
    {
        string elf = Path.Combine(Path.GetTempPath(), $"xensharp-bench-{name}-{Environment.ProcessId}.elf");
        File.WriteAllBytes(elf, elfBytes);
        var samples = new List<double>();
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                long start = 0, end = 0;
                bool failed = false;
                using var done = new ManualResetEventSlim();
                var config = DomainConfig.FromFile(XlConfigParser.Parse(
                    $"name = \"{name}{r}\"\ntype = \"pvh\"\nkernel = \"{elf}\"\nmemory = 16\n", "bench.cfg"));
                var d = manager.Create(config, "/", beforeStart: m => m.Domain.DebugPortObserver = b =>
                {
                    if (b == 'S') start = Stopwatch.GetTimestamp();
                    if (b == 'E') { end = Stopwatch.GetTimestamp(); done.Set(); }
                    if (b == 'F') { failed = true; done.Set(); }
                });
                bool finished = done.Wait(TimeSpan.FromSeconds(60));
                string why = d.Domain.CrashDetail ?? $"rip 0x{d.Domain.Vcpus[0].Cpu.Registers.Rip:x}";
                manager.Destroy(d);
                if (!finished) throw new TimeoutException($"the {name} guest loop did not finish ({why})");
                if (failed) throw new InvalidOperationException($"the {name} guest reported a failure ('F' on port 0xE9)");
                if (r > 0) samples.Add(Stopwatch.GetElapsedTime(start, end).TotalMicroseconds / iterations);
            }
        }
        finally
        {
            File.Delete(elf);
        }
        return samples;
    }
}
