using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace XenSharp.Arm64.Tests.Differential;

/// <summary>
/// Compiles Differential/program.c with aarch64-linux-gnu-gcc -O2 (freestanding, integer only),
/// runs it under qemu-aarch64 and on <see cref="Arm64Cpu"/> at EL0 (MMU off) with a tiny
/// Linux-syscall shim for write/exit served from the lower-EL synchronous vector, and compares
/// the outputs. ./run-tests installs the cross tools; without them the test fails saying so.
/// </summary>
public class QemuDifferentialTests(ITestOutputHelper output)
{
    private const ulong Vbar = Machine.RamBase + 0x180_0000;

    private static string? Which(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, tool))) return Path.Combine(dir, tool);
        return null;
    }

    private static (int Code, string Out) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd();
        string e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o + e);
    }

    /// <summary>Interpreted only, translated from the first block, and with the default threshold.</summary>
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(50)]
    public void FreestandingProgramMatchesQemu(int jitThreshold)
    {
        string? gcc = Which("aarch64-linux-gnu-gcc"), qemu = Which("qemu-aarch64");
        // ./run-tests installs both (gcc-aarch64-linux-gnu, qemu-user); a run without them is not a pass.
        Assert.True(gcc != null && qemu != null,
            "aarch64-linux-gnu-gcc or qemu-aarch64 is missing: apt-get install gcc-aarch64-linux-gnu qemu-user (./run-tests does)");
        string dir = Directory.CreateTempSubdirectory("xensharp-a64-").FullName;
        try
        {
            string src = Path.Combine(AppContext.BaseDirectory, "Differential", "program.c");
            string elf = Path.Combine(dir, "prog");
            var (cc, ccOut) = Exec(gcc, "-O2", "-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-mgeneral-regs-only",
                "-fno-stack-protector", "-Wl,-Ttext=0x40010000", "-Wl,--build-id=none", "-o", elf, src, "-lgcc");
            Assert.True(cc == 0, ccOut);
            var (qc, expected) = Exec(qemu, elf);
            Assert.Equal(0, qc);

            using var m = new Machine(jitThreshold: jitThreshold);
            ulong entry = LoadElf(m, File.ReadAllBytes(elf));
            for (uint off = 0; off < 0x800; off += 0x80)
                m.Load(Vbar + off, 0xD4000002u | (off << 5), 0xD69F03E0); // hvc #off ; eret
            Assert.True(m.Cpu.TrySetSystemRegister(SysReg.VBAR_EL1, Vbar));
            m.Cpu.SpEl0 = Machine.Stack;
            m.Cpu.Pc = entry;
            m.Cpu.Pstate = 0; // EL0t
            var text = new StringBuilder();
            var sw = Stopwatch.StartNew();
            long start = m.Cpu.InstructionsRetired;
            bool exited = false;
            while (!exited)
            {
                var stop = m.Cpu.Run(1 << 20);
                if (stop == Arm64Stop.Budget) continue;
                Assert.True(stop == Arm64Stop.Hvc, $"{stop}: {m.Cpu.Exit.Reason} at 0x{m.Cpu.Pc:x}");
                Assert.True(m.Cpu.TryGetSystemRegister(SysReg.ESR_EL1, out ulong esr));
                Assert.True(m.Cpu.Exit.Immediate == 0x400 && esr >> 26 == 0x15,
                    $"vector 0x{m.Cpu.Exit.Immediate:x} ESR 0x{esr:x}; ELR {(m.Cpu.TryGetSystemRegister(SysReg.ELR_EL1, out ulong elr) ? elr : 0):x}");
                switch (m[8])
                {
                    case 64: // write(fd, buf, len)
                    {
                        var bytes = new byte[(int)m[2]];
                        Assert.True(m.Memory.TryReadBytes(m[1], bytes));
                        text.Append(Encoding.ASCII.GetString(bytes));
                        m[0] = m[2];
                        break;
                    }
                    case 93: exited = true; break;
                    default: Assert.Fail($"syscall {m[8]}"); break;
                }
            }
            sw.Stop();
            long n = m.Cpu.InstructionsRetired - start;
            output.WriteLine(text.ToString());
            output.WriteLine($"{n} instructions ({m.Cpu.InstructionsTranslated} translated) in {sw.ElapsedMilliseconds} ms");
            Assert.Equal(expected, text.ToString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Copies the PT_LOAD segments of a little-endian ELF64 into RAM; returns the entry point.</summary>
    private static ulong LoadElf(Machine m, byte[] elf)
    {
        ulong entry = BitConverter.ToUInt64(elf, 24);
        ulong phoff = BitConverter.ToUInt64(elf, 32);
        int phentsize = BitConverter.ToUInt16(elf, 54), phnum = BitConverter.ToUInt16(elf, 56);
        for (int i = 0; i < phnum; i++)
        {
            int ph = (int)phoff + i * phentsize;
            if (BitConverter.ToUInt32(elf, ph) != 1) continue;
            ulong offset = BitConverter.ToUInt64(elf, ph + 8), vaddr = BitConverter.ToUInt64(elf, ph + 16);
            ulong filesz = BitConverter.ToUInt64(elf, ph + 32), memsz = BitConverter.ToUInt64(elf, ph + 40);
            var seg = new byte[memsz];
            Array.Copy(elf, (long)offset, seg, 0, (long)filesz);
            Assert.True(m.Memory.TryWriteBytes(vaddr, seg));
        }
        return entry;
    }
}
