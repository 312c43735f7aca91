using XenSharp.Hypervisor.Memory;

namespace XenSharp.Arm64.Tests;

/// <summary>
/// A CPU over 32 MiB of RAM at 0x4000_0000 (as on the Arm "virt" board). Test programs are
/// instruction words (encodings produced by GNU as, the source line kept beside each word)
/// loaded at <see cref="Code"/>; they end with HVC #0, which stops Run. By default the CPU
/// translates every block the first time it reaches it (JitThreshold 0, compiled on the spot), so
/// the tests exercise translated code; -1 runs the interpreter only.
/// </summary>
internal sealed class Machine : IDisposable
{
    public const ulong RamBase = 0x4000_0000, RamSize = 32 << 20;
    public const ulong Code = RamBase, Data = RamBase + 0x10_0000, Stack = RamBase + 0x1F0_0000;
    public const uint Hvc0 = 0xD4000002;

    public GuestMemory Memory { get; }
    public Arm64Cpu Cpu { get; }

    public Machine(IArm64SystemRegisterHost? host = null, int jitThreshold = 0)
    {
        Memory = GuestMemory.Allocate([(RamBase, RamSize)], "arm64-test");
        Cpu = new Arm64Cpu(Memory, host) { JitThreshold = jitThreshold, TranslateInBackground = false };
        Cpu.Pc = Code;
        Cpu.SpEl1 = Stack;
        Cpu.TrySetSystemRegister(SysReg.CPACR_EL1, 3UL << 20);
    }

    public void Load(ulong address, params uint[] words)
    {
        for (int i = 0; i < words.Length; i++) Memory.TryWrite(address + (ulong)(4 * i), words[i]);
    }

    /// <summary>Loads <paramref name="words"/> at <see cref="Code"/> followed by HVC #0 and runs to a stop.</summary>
    public Arm64Stop Run(params uint[] words)
    {
        Load(Code, [.. words, Hvc0]);
        Cpu.Pc = Code;
        return Cpu.Run(1_000_000);
    }

    /// <summary>As <see cref="Run"/>, asserting the program reached its final HVC.</summary>
    public void RunToEnd(params uint[] words)
    {
        var stop = Run(words);
        Assert.True(stop == Arm64Stop.Hvc, $"stopped with {stop} ({Cpu.Exit.Reason}) at pc 0x{Cpu.Pc:x}");
        Assert.Equal(Code + 4UL * (ulong)(words.Length + 1), Cpu.Pc);
    }

    public ulong this[int reg] { get => Cpu.GetX(reg); set => Cpu.SetX(reg, value); }

    public ulong Read64(ulong a) { Assert.True(Memory.TryRead(a, out ulong v)); return v; }
    public void Write64(ulong a, ulong v) => Assert.True(Memory.TryWrite(a, v));

    public void Dispose() => Memory.Dispose();
}
