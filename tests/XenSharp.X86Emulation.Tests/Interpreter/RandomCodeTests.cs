using XenSharp.X86Emulation.Interpreter;

namespace XenSharp.X86Emulation.Tests.Interpreter;

/// <summary>
/// A hostile guest on the software CPU: random bytes executed as code, at CPL 0 and CPL 3, in
/// 32-bit and 64-bit mode. Whatever they decode to, Run returns one of its stops (faults go to
/// the guest's IDT, whose handlers here just halt) — never a host exception — and nothing
/// outside guest memory is touched (GuestMemory is the only way out, and it bounds-checks).
/// </summary>
public sealed class RandomCodeTests
{
    private const int Rounds = 600;

    private static void HaltForever(Iced.Intel.Assembler a)
    {
        var top = a.CreateLabel();
        a.Label(ref top);
        a.hlt();
        a.jmp(top);
    }

    [Theory]
    [InlineData(32, 0, 1)]
    [InlineData(32, 3, 2)]
    [InlineData(64, 0, 3)]
    [InlineData(64, 3, 4)]
    public void Random_bytes_as_code_always_end_in_a_defined_stop(int bitness, int cpl, int seed)
    {
        var random = new Random(seed);
        var stops = new Dictionary<InterpreterStop, int>();
        var code = new byte[64];
        for (int round = 0; round < Rounds; round++)
        {
            using var m = new InterpreterMachine();
            if (bitness == 32) m.Protected32(a => a.hlt(), cpl); else m.Long64(a => a.hlt(), cpl);
            for (int v = 0; v < 32; v++)
            {
                ulong handler = InterpreterMachine.Handlers + (ulong)v * 16;
                if (bitness == 32) m.Handler32((byte)v, handler, HaltForever);
                else m.Handler64((byte)v, handler, HaltForever);
            }
            random.NextBytes(code);
            m.M.Memory.Write(InterpreterMachine.Code, code);
            // Registers point here and there, some into guest memory, some far outside it.
            m.Regs.Rax = (ulong)random.NextInt64(); m.Regs.Rbx = InterpreterMachine.Data;
            m.Regs.Rcx = (ulong)random.Next(0, 64); m.Regs.Rdx = (ulong)random.NextInt64();
            m.Regs.Rsi = InterpreterMachine.Scratch; m.Regs.Rdi = (ulong)random.NextInt64() & 0xFFFF_FFFF;

            InterpreterStop stop = InterpreterStop.Budget;
            for (int i = 0; i < 8 && stop is not (InterpreterStop.Shutdown or InterpreterStop.Unsupported); i++)
            {
                stop = m.Run(200);
                switch (stop)
                {
                    case InterpreterStop.Io when !m.Cpu.Exit.IsWrite: m.Cpu.CompleteIoRead(0xFFFF_FFFF); break;
                    case InterpreterStop.Mmio when !m.Cpu.Exit.IsWrite: m.Cpu.CompleteMmioRead(ulong.MaxValue); break;
                    case InterpreterStop.MsrRead: m.Cpu.CompleteMsrRead(0, fault: true); break;
                    case InterpreterStop.MsrWrite: m.Cpu.CompleteMsrWrite(fault: true); break;
                    case InterpreterStop.Halt: m.Cpu.ResumeAfterHalt(); break;
                }
            }
            stops[stop] = stops.GetValueOrDefault(stop) + 1;
        }
        // Faults were raised and delivered to the guest's handlers (which halt), not only budgets run out.
        Assert.True(stops.GetValueOrDefault(InterpreterStop.Halt) > Rounds / 4, string.Join(", ", stops.Select(kv => $"{kv.Key}={kv.Value}")));
    }
}
