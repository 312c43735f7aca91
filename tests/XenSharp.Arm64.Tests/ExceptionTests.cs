namespace XenSharp.Arm64.Tests;

public class ExceptionTests
{
    internal const ulong Vbar = Machine.RamBase + 0x8000;

    /// <summary>Every vector entry holds "hvc #offset; eret" so a test sees which one was taken and can return.</summary>
    internal static void InstallVectors(Machine m)
    {
        for (uint off = 0; off < 0x800; off += 0x80)
            m.Load(Vbar + off, 0xD4000002u | (off << 5), 0xD69F03E0 /* eret */);
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.VBAR_EL1, Vbar));
    }

    private static ulong Sys(Machine m, uint reg) { Assert.True(m.Cpu.TryGetSystemRegister(reg, out ulong v)); return v; }

    [Fact]
    public void SvcFromEl1TakesVectorAndEretReturns()
    {
        using var m = new Machine();
        InstallVectors(m);
        uint pstateBefore = m.Cpu.Pstate;
        var stop = m.Run(0xD4000841); // svc #0x42 ; hvc #0
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate); // current EL with SP_ELx, synchronous
        Assert.Equal(0x15UL << 26 | 1UL << 25 | 0x42, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(Machine.Code + 4, Sys(m, SysReg.ELR_EL1));
        Assert.Equal(pstateBefore, (uint)Sys(m, SysReg.SPSR_EL1));
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100)); // eret → back to the final hvc #0
        Assert.Equal((ushort)0, m.Cpu.Exit.Immediate);
        Assert.Equal(Machine.Code + 8, m.Cpu.Pc);
    }

    [Fact]
    public void SvcFromEl0UsesLowerElVectorAndEretDropsBack()
    {
        using var m = new Machine();
        InstallVectors(m);
        m.Cpu.SpEl0 = Machine.Stack - 0x1000;
        m.Cpu.Pstate = 0; // EL0t, interrupts unmasked
        m.Load(Machine.Code, 0xD4000841, 0xD4000841); // svc #0x42 twice
        m.Cpu.Pc = Machine.Code;
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal((ushort)0x400, m.Cpu.Exit.Immediate);
        Assert.Equal(1, m.Cpu.CurrentEl);
        Assert.Equal(0u, (uint)Sys(m, SysReg.SPSR_EL1));
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100)); // eret to EL0, second svc
        Assert.Equal((ushort)0x400, m.Cpu.Exit.Immediate);
        Assert.Equal(Machine.Code + 8, Sys(m, SysReg.ELR_EL1));
    }

    [Fact]
    public void UndefinedInstruction()
    {
        using var m = new Machine();
        InstallVectors(m);
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD503201F, 0x00000000)); // nop ; udf #0
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate);
        Assert.Equal(1UL << 25, Sys(m, SysReg.ESR_EL1)); // EC 0, IL
        Assert.Equal(Machine.Code + 4, Sys(m, SysReg.ELR_EL1));
    }

    [Fact]
    public void BreakpointAndSpSel0Vector()
    {
        using var m = new Machine();
        InstallVectors(m);
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD50040BF, 0xD42000E0)); // msr spsel, #0 ; brk #7
        Assert.Equal((ushort)0x000, m.Cpu.Exit.Immediate); // current EL with SP_EL0
        Assert.Equal(0x3CUL << 26 | 1UL << 25 | 7, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(Machine.Code + 4, Sys(m, SysReg.ELR_EL1));
    }

    [Fact]
    public void AlignmentFaultOnUnalignedExclusive()
    {
        using var m = new Machine();
        InstallVectors(m);
        m[0] = Machine.Data + 4; m[2] = 0x5A5A;
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xC85F7C02)); // ldxr x2, [x0]
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate);
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 0x21, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(Machine.Data + 4, Sys(m, SysReg.FAR_EL1));
        Assert.Equal(Machine.Code, Sys(m, SysReg.ELR_EL1));
        Assert.Equal(0x5A5AUL, m[2]); // destination untouched
    }

    [Fact]
    public void El0CannotTouchEl1Registers()
    {
        using var m = new Machine();
        InstallVectors(m);
        m.Cpu.Pstate = 0;
        m.Load(Machine.Code, 0xD518C001); // msr vbar_el1, x1
        m.Cpu.Pc = Machine.Code;
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal((ushort)0x400, m.Cpu.Exit.Immediate);
        Assert.Equal(1UL << 25, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(Vbar, Sys(m, SysReg.VBAR_EL1));
    }

    [Fact]
    public void IrqTakenWhenUnmasked()
    {
        using var m = new Machine();
        InstallVectors(m);
        m.Cpu.SetIrqLine(true);
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD503201F, 0xD50342FF, 0xD503201F)); // nop ; msr daifclr, #2 ; nop
        Assert.Equal((ushort)0x280, m.Cpu.Exit.Immediate);
        Assert.Equal(Machine.Code + 8, Sys(m, SysReg.ELR_EL1)); // after the msr
        Assert.Equal(0x3C0u, m.Cpu.Pstate & 0x3C0); // masked on entry
        Assert.Equal(0x345u, (uint)Sys(m, SysReg.SPSR_EL1)); // SPSR: EL1h with D, A, F set, I clear
        m.Cpu.SetIrqLine(false);
    }

    [Fact]
    public void FiqAndSErrorVectors()
    {
        using var m = new Machine();
        InstallVectors(m);
        m.Cpu.Pstate = 0x5; // EL1h, all unmasked
        m.Cpu.SetFiqLine(true);
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD503201F));
        Assert.Equal((ushort)0x300, m.Cpu.Exit.Immediate);
        m.Cpu.SetFiqLine(false);
        m.Cpu.Pstate = 0x5;
        m.Cpu.RaiseSError();
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD503201F));
        Assert.Equal((ushort)0x380, m.Cpu.Exit.Immediate);
    }

    [Fact]
    public void WfiStopsUnlessALineIsUp()
    {
        using var m = new Machine();
        Assert.Equal(Arm64Stop.Wfi, m.Run(0xD503207F)); // wfi
        Assert.Equal(Machine.Code + 4, m.Cpu.Pc);
        m.Cpu.SetIrqLine(true); // masked, but WFI still completes
        m.RunToEnd(0xD503207F);
    }

    [Fact]
    public void PcAlignmentFault()
    {
        using var m = new Machine();
        InstallVectors(m);
        m[1] = Machine.Code + 2;
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD61F0020)); // br x1
        Assert.Equal(0x22UL << 26 | 1UL << 25, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(Machine.Code + 2, Sys(m, SysReg.FAR_EL1));
        Assert.Equal(Machine.Code + 2, Sys(m, SysReg.ELR_EL1));
    }

    [Fact]
    public void PcAlignmentFaultAfterTranslatedCodeAndInterpreterAgree()
    {
        foreach (int threshold in new[] { -1, 0 })
        {
            using var m = new Machine(jitThreshold: threshold);
            InstallVectors(m);
            m[1] = Machine.Code + 2;
            Assert.Equal(Arm64Stop.Hvc, m.Run(0x91000400, 0xD61F0020)); // add x0, x0, #1 ; br x1
            Assert.Equal(0x22UL << 26 | 1UL << 25, Sys(m, SysReg.ESR_EL1));
            Assert.Equal(Machine.Code + 2, Sys(m, SysReg.ELR_EL1));
            Assert.Equal(1UL, m[0]);
        }
    }
}
