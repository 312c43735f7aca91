using Iced.Intel;
using XenSharp.Hypervisor.Cpu;
using XenSharp.X86Emulation.Interpreter;

namespace XenSharp.X86Emulation.Tests.Interpreter;

/// <summary>
/// <see cref="TestMachine"/> (4 MiB of RAM at 0, GDT/IDT/TSS, mode helpers) plus an
/// <see cref="X86Interpreter"/> and helpers to assemble code at <see cref="TestMachine.CodeBase"/>.
/// Guest-physical 0xFEE00000 and everything above 4 MiB are not RAM (MMIO).
/// </summary>
internal sealed class InterpreterMachine : IDisposable
{
    public const ulong Code = TestMachine.CodeBase, Data = 0x30000, Handlers = 0x40000, Scratch = 0x50000;

    public TestMachine M { get; } = new();
    public X86EmulationState State => M.State;
    public ref X86Registers Regs => ref M.State.Registers;
    public X86Interpreter Cpu { get; private set; } = null!;

    public InterpreterMachine(CpuidEntry[]? cpuid = null) => Cpuid = cpuid ?? [];

    public CpuidEntry[] Cpuid { get; }

    public static byte[] Assemble(int bitness, ulong rip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), rip);
        return stream.ToArray();
    }

    /// <summary>Puts the vCPU in 32-bit flat protected mode (paging off) and loads the program at <see cref="Code"/>.</summary>
    public InterpreterMachine Protected32(Action<Assembler> program, int cpl = 0)
    {
        M.Protected32(cpl);
        Load(32, Code, program);
        Cpu = new X86Interpreter(State, Cpuid);
        return this;
    }

    public InterpreterMachine Long64(Action<Assembler> program, int cpl = 0)
    {
        M.Long64(cpl);
        Load(64, Code, program);
        Cpu = new X86Interpreter(State, Cpuid);
        return this;
    }

    public void Load(int bitness, ulong address, Action<Assembler> program) =>
        M.Memory.Write(address, Assemble(bitness, address, program));

    /// <summary>32-bit interrupt gate for <paramref name="vector"/> to code assembled at <paramref name="address"/>.</summary>
    public void Handler32(byte vector, ulong address, Action<Assembler> code)
    {
        Load(32, address, code);
        M.SetIdt32(vector, (uint)address, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 3);
    }

    public void Handler64(byte vector, ulong address, Action<Assembler> code)
    {
        Load(64, address, code);
        M.SetIdt64(vector, address, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 3);
    }

    public InterpreterStop Run(int budget = 1_000_000) => Cpu.Run(budget);

    public uint Read32(ulong a) => M.Read32(a);
    public ulong Read64(ulong a) => M.Read64(a);

    public void Dispose() => M.Dispose();
}
