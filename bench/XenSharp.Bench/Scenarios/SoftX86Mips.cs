using System.Diagnostics;
using Iced.Intel;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;
using XenSharp.X86Emulation;
using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// softx86_mips: millions of guest instructions per second XenSharp's software x86 CPU
/// (<see cref="X86Interpreter"/>, what soft-x86 runs guests on) retires on compute-bound code,
/// in this process: 4 MiB of guest RAM, one vCPU in flat 32-bit protected mode (paging off),
/// no devices, no hypercalls. The ALU loop (assembled with Iced) is 10 instructions per
/// iteration — load, add, xor, rol, store, add, inc, and, dec, jnz — over a 4 KiB array, run
/// with <c>Run(budget)</c> in slices of <see cref="Slice"/> instructions; one sample is
/// InstructionsRetired / wall time over <see cref="SampleSeconds"/> s, after a 0.5 s warm-up
/// (JIT, decode cache). The figure is the median of <see cref="Samples"/> samples.
///
/// Extra: the same for branchy compiled C (c_branchy_*): an LCG fill, insertion sort and
/// Collatz step counts over 512 words, built at run time with gcc -m32 -O2 -march=i686
/// -mgeneral-regs-only into flat code at 0x10000 and called again and again by a stub that
/// checks every result against the same algorithm computed in C# (a wrong one halts: failure). Not measured (said
/// so) when gcc cannot build 32-bit code.
/// </summary>
public static class SoftX86Mips
{
    private const ulong Code = 0x10000, Stub = 0x8000, Data = 0x30000, Counter = 0x2F000, StackTop = 0x9000;
    private const int Slice = 1_000_000;
    private const int Samples = 5;
    private const double SampleSeconds = 0.4;
    private const int CWords = 512;

    public static BenchResult Run()
    {
        var alu = MeasureAluLoop();
        var result = new BenchResult("softx86_mips", "MIPS", alu);
        result.Extra["workload"] = "10-instruction ALU/load/store/branch loop";
        try
        {
            var c = MeasureCBranchy();
            if (c is null) result.Extra["c_branchy"] = "gcc -m32 not available: not measured";
            else
            {
                result.Extra["c_branchy_median"] = BenchResult.Median(c);
                result.Extra["c_branchy_min"] = c.Min();
                result.Extra["c_branchy_max"] = c.Max();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            result.Extra["c_branchy"] = "failed: " + e.Message;
        }
        return result;
    }

    private static List<double> MeasureAluLoop()
    {
        using var memory = GuestMemory.Allocate([(0UL, 4UL << 20)], "bench-softx86");
        var state = FlatProtected32(memory, Code);
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        a.mov(esi, (uint)Data);
        a.xor(ecx, ecx);
        a.mov(ebx, 0x12345678u);
        a.mov(edi, 0xFFFFFFFFu);
        a.Label(ref loop);
        a.mov(eax, __dword_ptr[esi + ecx * 4]);
        a.add(eax, ebx);
        a.xor(eax, 0x5A5A5A5A);
        a.rol(eax, 3);
        a.mov(__dword_ptr[esi + ecx * 4], eax);
        a.add(ebx, eax);
        a.inc(ecx);
        a.and(ecx, 1023);
        a.dec(edi);
        a.jnz(loop);
        a.hlt();
        memory.Write(Code, Assemble(a, Code));
        var cpu = new X86Interpreter(state, []);

        // Runs until seconds have passed; MIPS. The loop runs 2^32 iterations: it never ends here.
        double Measure(double seconds)
        {
            long start = cpu.InstructionsRetired;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                var stop = cpu.Run(Slice);
                if (stop != InterpreterStop.Budget) throw new InvalidOperationException($"the ALU loop stopped: {stop} at 0x{state.Registers.Rip:x}");
            }
            return (cpu.InstructionsRetired - start) / sw.Elapsed.TotalSeconds / 1e6;
        }

        Measure(0.5);
        var samples = new List<double>();
        for (int i = 0; i < Samples; i++) samples.Add(Measure(SampleSeconds));
        return samples;
    }

    private const string BranchyC = """
        unsigned bench(unsigned *a, unsigned n)
        {
            unsigned x = 12345, sum = 0;
            for (unsigned i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                a[i] = x >> 8;
            }
            for (unsigned i = 1; i < n; i++) {
                unsigned v = a[i], j = i;
                while (j > 0 && a[j - 1] > v) {
                    a[j] = a[j - 1];
                    j--;
                }
                a[j] = v;
            }
            for (unsigned i = 0; i < n; i++) {
                unsigned c = (a[i] & 0xFFFF) | 1, steps = 0;
                while (c != 1 && steps < 1000) {
                    c = (c & 1) ? 3 * c + 1 : c >> 1;
                    steps++;
                }
                sum += steps;
            }
            return sum + a[n / 2];
        }
        """;

    /// <summary>What <see cref="BranchyC"/>'s bench() returns.</summary>
    private static uint BranchyExpected(int n)
    {
        var a = new uint[n];
        uint x = 12345, sum = 0;
        for (int i = 0; i < n; i++)
        {
            x = unchecked(x * 1103515245u + 12345u);
            a[i] = x >> 8;
        }
        Array.Sort(a);
        for (int i = 0; i < n; i++)
        {
            uint c = (a[i] & 0xFFFF) | 1, steps = 0;
            while (c != 1 && steps < 1000)
            {
                c = (c & 1) != 0 ? unchecked(3 * c + 1) : c >> 1;
                steps++;
            }
            sum += steps;
        }
        return unchecked(sum + a[n / 2]);
    }

    private static List<double>? MeasureCBranchy()
    {
        byte[]? code = CompileFlat(BranchyC, Code);
        if (code is null) return null;
        using var memory = GuestMemory.Allocate([(0UL, 4UL << 20)], "bench-softx86-c");
        memory.Write(Code, code);
        // The stub calls bench() forever, counting calls at Counter; a wrong result halts.
        uint expected = BranchyExpected(CWords);
        var a = new Assembler(32);
        var again = a.CreateLabel();
        a.Label(ref again);
        a.mov(esp, (uint)StackTop);
        a.push((uint)CWords);
        a.push((uint)Data);
        a.call(Code);
        a.cmp(eax, expected);
        a.jne(a.@F);
        a.inc(__dword_ptr[Counter]);
        a.jmp(again);
        a.AnonymousLabel();
        a.hlt();
        memory.Write(Stub, Assemble(a, Stub));
        var state = FlatProtected32(memory, Stub);
        var cpu = new X86Interpreter(state, []);

        double Measure(double seconds)
        {
            long start = cpu.InstructionsRetired;
            memory.TryRead(Counter, out uint calls0);
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                var stop = cpu.Run(Slice);
                if (stop == InterpreterStop.Halt)
                    throw new InvalidOperationException($"the C workload returned 0x{(uint)state.Registers.Rax:x}, expected 0x{expected:x}");
                if (stop != InterpreterStop.Budget) throw new InvalidOperationException($"the C workload stopped: {stop} at 0x{state.Registers.Rip:x}");
            }
            double mips = (cpu.InstructionsRetired - start) / sw.Elapsed.TotalSeconds / 1e6;
            memory.TryRead(Counter, out uint calls1);
            if (calls1 == calls0) throw new InvalidOperationException("bench() did not complete once in a sample");
            return mips;
        }

        Measure(0.5);
        var samples = new List<double>();
        for (int i = 0; i < Samples; i++) samples.Add(Measure(SampleSeconds));
        return samples;
    }

    /// <summary>gcc -m32 code of <paramref name="source"/> (its .text only, entry first) linked at <paramref name="at"/>; null without gcc.</summary>
    private static byte[]? CompileFlat(string source, ulong at)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xensharp-bench-c-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string c = Path.Combine(dir, "bench.c"), elf = Path.Combine(dir, "bench.elf"), bin = Path.Combine(dir, "bench.bin");
            File.WriteAllText(c, source);
            try
            {
                var (code, _, _) = Repo.Run("gcc", ["-m32", "-march=i686", "-O2", "-ffreestanding", "-fno-pic", "-fno-pie",
                    "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fcf-protection=none", "-mgeneral-regs-only",
                    "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none", "-Wl,-e,bench", $"-Wl,-Ttext=0x{at:x}",
                    "-o", elf, c], allowFailure: true);
                if (code != 0) return null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null; // no gcc
            }
            Repo.Run("objcopy", ["-O", "binary", "-j", ".text", elf, bin]);
            string symbols = Repo.Run("nm", [elf]).Out;
            if (!symbols.Split('\n').Any(l => l.StartsWith($"{at:x8} T bench", StringComparison.Ordinal)))
                throw new InvalidOperationException($"bench() is not at 0x{at:x}:\n{symbols}");
            return File.ReadAllBytes(bin);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static byte[] Assemble(Assembler a, ulong rip)
    {
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), rip);
        return s.ToArray();
    }

    /// <summary>A vCPU in 32-bit flat protected mode, paging off, CPL 0, at <paramref name="rip"/>.</summary>
    private static X86EmulationState FlatProtected32(GuestMemory memory, ulong rip)
    {
        var state = new X86EmulationState(memory);
        ref var sr = ref state.Special;
        sr.Cr0 = X86SpecialRegisters.Cr0Pe | X86SpecialRegisters.Cr0Et;
        sr.Cs = X86Segment.Flat(0x08, 0xB);
        var data = X86Segment.Flat(0x10, 0x3);
        sr.Ds = data; sr.Es = data; sr.Fs = data; sr.Gs = data; sr.Ss = data;
        sr.Tr = new X86Segment { Base = 0, Limit = 0x67, Selector = 0x18, Type = 0xB, Present = 1 };
        sr.Gdt = new X86DescriptorTable { Base = 0x1000, Limit = 0x1F };
        sr.Idt = new X86DescriptorTable { Base = 0x2000, Limit = 0x7FF };
        state.Registers = default;
        state.Registers.Rflags = 0x2;
        state.Registers.Rip = rip;
        state.Registers.Rsp = StackTop;
        return state;
    }
}
