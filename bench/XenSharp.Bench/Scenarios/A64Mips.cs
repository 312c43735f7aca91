using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using XenSharp.Arm64;
using XenSharp.Boot.Arm64;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// a64_mips: millions of guest instructions per second XenSharp's software AArch64 CPU
/// (<see cref="Arm64Cpu"/>) retires on a compute-bound loop of ordinary -O2 C, beside
/// qemu-system-aarch64 (TCG) running the same bare-metal ELF in the same run.
///
/// The guest is bench/arm64 (built with make and Debian's aarch64-linux-gnu-gcc): linked at
/// 0x40080000, entered at EL1 with the MMU off, it repeats an integer workload (xorshift fill,
/// branchy checksum, insertion sort, byte histogram, sieve; a few KiB of data) N times — N is a
/// 64-bit count after the "A64MIPS\0" magic in its header, patched here — prints a checksum on
/// the PL011 data register of QEMU's virt board and powers off with PSCI SYSTEM_OFF over HVC.
///
/// XenSharp: the ELF loaded with <see cref="Arm64ImageLoader"/> into 128 MiB of RAM at
/// 0x40000000, one <see cref="Arm64Cpu"/> with its defaults (hot code translated on the thread
/// pool) run directly — no hypervisor around it — in slices of <see cref="Slice"/> instructions
/// until the HVC; UART writes are collected, any other stop is a failure. One sample is InstructionsRetired / wall time of a whole run (N, then 2N repetitions,
/// <see cref="Rounds"/> times, after a warm-up run).
///
/// QEMU: <c>qemu-system-aarch64 -M virt -cpu cortex-a57 -nographic -display none -kernel ELF</c>
/// with N and with 2N repetitions, <see cref="QemuRounds"/> times each, interleaved; its MIPS is
/// (instructions of the 2N run − instructions of the N run, as XenSharp's CPU counted them) /
/// (fastest 2N run − fastest N run), which cancels QEMU's start-up. The fastest runs are the ones
/// least disturbed by whatever else the machine does, so QEMU's figure is its best case while
/// XenSharp's is a median: <c>ratio</c> (XenSharp / QEMU) leans towards QEMU. The figure from
/// the medians is reported beside it (<c>qemu_tcg_mips_median</c>).
/// N is chosen so that the N run computes for about <see cref="QemuTargetSeconds"/> s on QEMU.
/// Both CPUs must print the same checksum (a mismatch fails the benchmark).
/// </summary>
public static class A64Mips
{
    private const ulong RamBase = 0x4000_0000, RamSize = 128UL << 20;
    private const ulong Uart = 0x0900_0000;
    private const uint PsciSystemOff = 0x8400_0008;
    private const int Slice = 1 << 24;
    private const int Rounds = 2;
    private const int QemuRounds = 7;
    private const double QemuTargetSeconds = 1.0;
    private static readonly byte[] Magic = "A64MIPS\0"u8.ToArray();

    public static BenchResult Run()
    {
        string elf = Build();
        byte[] image = File.ReadAllBytes(elf);
        int countAt = image.AsSpan().IndexOf(Magic);
        if (countAt < 0) throw new InvalidOperationException($"{elf}: no A64MIPS header");
        countAt += Magic.Length;
        string? qemu = FindOnPath("qemu-system-aarch64")
            ?? throw new BenchSkippedException("qemu-system-aarch64 is not installed (Debian's qemu-system-arm)");

        string dir = Directory.CreateTempSubdirectory("xensharp-a64mips-").FullName;
        try
        {
            string Patched(ulong repetitions)
            {
                var copy = (byte[])image.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(countAt), repetitions);
                string path = Path.Combine(dir, $"a64mips-{repetitions}.elf");
                File.WriteAllBytes(path, copy);
                return path;
            }

            // Warm-up (JIT, and the cost of a repetition), then N from QEMU's speed: the difference
            // between a short and a long probe (fastest of two each), long enough to stand out of
            // QEMU's start-up time and its noise.
            const ulong shortProbe = 200, longProbe = 5000;
            var warm = RunXenSharp(Patched(shortProbe));
            double perRep = (double)warm.Instructions / shortProbe;
            string shortElf = Patched(shortProbe), longElf = Patched(longProbe);
            double tShort = Math.Min(TimeQemu(qemu, shortElf).Seconds, TimeQemu(qemu, shortElf).Seconds);
            double tLong = Math.Min(TimeQemu(qemu, longElf).Seconds, TimeQemu(qemu, longElf).Seconds);
            double qemuIps = (longProbe - shortProbe) * perRep / Math.Max(0.05, tLong - tShort);
            ulong n = (ulong)Math.Clamp(QemuTargetSeconds * qemuIps / perRep, 1000, 50_000);
            string elfN = Patched(n), elf2N = Patched(2 * n);

            var samples = new List<double>();
            XenRun runN = default, run2N = default;
            for (int r = 0; r < Rounds; r++)
            {
                var a = RunXenSharp(elfN);
                var b = RunXenSharp(elf2N);
                if (r > 0 && (a.Instructions != runN.Instructions || b.Instructions != run2N.Instructions))
                    throw new InvalidOperationException("the guest retired a different number of instructions on a second run");
                (runN, run2N) = (a, b);
                samples.Add(a.Instructions / a.Seconds / 1e6);
                samples.Add(b.Instructions / b.Seconds / 1e6);
            }

            var qN = new List<double>();
            var q2N = new List<double>();
            for (int r = 0; r < QemuRounds; r++)
            {
                var (tN, outN) = TimeQemu(qemu, elfN);
                var (t2N, out2N) = TimeQemu(qemu, elf2N);
                if (outN != runN.Output || out2N != run2N.Output)
                    throw new InvalidOperationException($"QEMU and XenSharp disagree:\nQEMU:\n{outN}{out2N}\nXenSharp:\n{runN.Output}{run2N.Output}");
                qN.Add(tN);
                q2N.Add(t2N);
            }
            double dt = q2N.Min() - qN.Min();
            long dInstructions = run2N.Instructions - runN.Instructions;
            if (dt <= 0) throw new InvalidOperationException($"QEMU's 2N run was not slower than its N run ({dt * 1e3:F1} ms)");
            double qemuMips = dInstructions / dt / 1e6;
            double dtMedian = BenchResult.Median(q2N) - BenchResult.Median(qN);

            double xenMips = BenchResult.Median(samples);
            var result = new BenchResult("a64_mips", "MIPS", samples);
            result.Extra["workload"] = "bench/arm64: -O2 C integer loop (fill, checksum, insertion sort, histogram, sieve)";
            result.Extra["xensharp_mips"] = xenMips;
            result.Extra["qemu_tcg_mips"] = qemuMips;
            result.Extra["ratio"] = xenMips / qemuMips;
            result.Extra["xensharp_mips_max"] = samples.Max();
            if (dtMedian > 0) result.Extra["qemu_tcg_mips_median"] = dInstructions / dtMedian / 1e6;
            result.Extra["repetitions_n"] = (long)n;
            result.Extra["instructions_n"] = runN.Instructions;
            result.Extra["instructions_2n"] = run2N.Instructions;
            result.Extra["xensharp_s_2n"] = run2N.Seconds;
            result.Extra["qemu_s_n"] = qN.Min();
            result.Extra["qemu_s_2n"] = q2N.Min();
            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private readonly record struct XenRun(long Instructions, double Seconds, string Output);

    private static string Build()
    {
        if (FindOnPath("aarch64-linux-gnu-gcc") is null)
            throw new BenchSkippedException("aarch64-linux-gnu-gcc is not installed (Debian's gcc-aarch64-linux-gnu)");
        string dir = Path.Combine(Repo.Root, "bench", "arm64");
        Repo.Run("make", ["-s", "-C", dir]);
        return Path.Combine(dir, "build", "a64mips.elf");
    }

    /// <summary>Runs the ELF on a fresh <see cref="Arm64Cpu"/> to its PSCI SYSTEM_OFF.</summary>
    private static XenRun RunXenSharp(string elf)
    {
        using var memory = GuestMemory.Allocate([(RamBase, RamSize)], "bench-a64mips");
        var kernel = Arm64ImageLoader.Parse(File.ReadAllBytes(elf), elf, Arm64Layout.Create(RamSize, 1));
        Arm64ImageLoader.Load(memory, kernel);
        var cpu = new Arm64Cpu(memory);
        cpu.Pc = kernel.Entry;
        cpu.Pstate = 0x3C5; // EL1h, DAIF masked
        cpu.SetX(0, RamBase); // where a DTB would be; the guest ignores it
        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        long start = cpu.InstructionsRetired;
        while (true)
        {
            var stop = cpu.Run(Slice);
            if (stop == Arm64Stop.Budget) continue;
            if (stop == Arm64Stop.Mmio && cpu.Exit.IsWrite && cpu.Exit.Address == Uart)
            {
                output.Append((char)(byte)cpu.Exit.Data);
                continue;
            }
            if (stop == Arm64Stop.Hvc && cpu.Exit.Immediate == 0 && (uint)cpu.GetX(0) == PsciSystemOff) break;
            throw new InvalidOperationException(
                $"the guest stopped with {stop} at pc 0x{cpu.Pc:x} (x0 0x{cpu.GetX(0):x}, {cpu.Exit.Reason}); expected HVC PSCI SYSTEM_OFF");
        }
        sw.Stop();
        return new XenRun(cpu.InstructionsRetired - start, sw.Elapsed.TotalSeconds, output.ToString());
    }

    /// <summary>Wall time of one QEMU run of the ELF to its exit, and what it printed.</summary>
    private static (double Seconds, string Output) TimeQemu(string qemu, string elf)
    {
        var sw = Stopwatch.StartNew();
        var (code, output, err) = Repo.Run(qemu,
            ["-M", "virt", "-cpu", "cortex-a57", "-nographic", "-display", "none", "-kernel", elf], allowFailure: true);
        sw.Stop();
        if (code != 0) throw new InvalidOperationException($"qemu-system-aarch64 failed ({code}): {err}");
        return (sw.Elapsed.TotalSeconds, output.Replace("\r", ""));
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
