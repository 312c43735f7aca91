namespace XenSharp.Arm64.Tests;

/// <summary>Builds 4 KiB-granule stage-1 tables in guest RAM.</summary>
internal sealed class PageTables(Machine m, int inputBits)
{
    public const ulong Af = 1UL << 10, ApEl0 = 1UL << 6, ApRo = 1UL << 7, Pxn = 1UL << 53, Uxn = 1UL << 54, Inner = 3UL << 8;
    private ulong _next = Machine.RamBase + 0x40_0000;
    private int StartLevel => 4 - (inputBits - 12 + 8) / 9;

    public ulong NewTable()
    {
        ulong t = _next; _next += 0x1000;
        for (ulong i = 0; i < 0x1000; i += 8) m.Write64(t + i, 0);
        return t;
    }

    /// <summary>Maps a 4 KiB page (level 3) or, with <paramref name="level"/> 2, a 2 MiB block.</summary>
    public ulong Map(ulong root, ulong va, ulong pa, ulong attrs, int level = 3)
    {
        ulong table = root;
        for (int lvl = StartLevel; ; lvl++)
        {
            int shift = 12 + 9 * (3 - lvl);
            ulong index = (va >> shift) & (lvl == StartLevel ? (1UL << (inputBits - shift)) - 1 : 511);
            ulong slot = table + index * 8;
            if (lvl == level)
            {
                m.Write64(slot, pa | attrs | (level == 3 ? 3UL : 1UL));
                return slot;
            }
            ulong desc = m.Read64(slot);
            if ((desc & 3) != 3) { desc = NewTable() | 3; m.Write64(slot, desc); }
            table = desc & 0x0000_FFFF_FFFF_F000;
        }
    }

    public ulong Tcr => (ulong)(uint)(64 - inputBits) | (ulong)(uint)(64 - inputBits) << 16 | 2UL << 30;
}

public class MmuTests
{
    private const ulong Upper = 0xFFFF_FF80_0000_2000;

    private static (Machine M, PageTables T, ulong Root0, ulong Root1) Setup(int inputBits = 39)
    {
        var m = new Machine();
        ExceptionTests.InstallVectors(m);
        var t = new PageTables(m, inputBits);
        ulong r0 = t.NewTable(), r1 = t.NewTable();
        // Code, vectors and stack: identity 2 MiB blocks, EL1 only.
        for (ulong a = Machine.RamBase; a < Machine.RamBase + Machine.RamSize; a += 0x20_0000)
            t.Map(r0, a, a, PageTables.Af | PageTables.Inner, level: 2);
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.MAIR_EL1, 0xFF));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TCR_EL1, t.Tcr));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TTBR0_EL1, r0));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TTBR1_EL1, r1));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.SCTLR_EL1, 0x30D0_0801));
        return (m, t, r0, r1);
    }

    private static ulong Sys(Machine m, uint reg) { Assert.True(m.Cpu.TryGetSystemRegister(reg, out ulong v)); return v; }

    [Theory]
    [InlineData(39)]
    [InlineData(48)]
    public void TranslatesThroughBothHalvesAndFaultsOnWriteToReadOnly(int inputBits)
    {
        var (m, t, r0, r1) = Setup(inputBits);
        using var _ = m;
        ulong upper = inputBits == 48 ? 0xFFFF_8000_0000_2000 : Upper;
        t.Map(r0, 0x1000, Machine.Data, PageTables.Af);
        t.Map(r1, upper, Machine.Data + 0x1000, PageTables.Af | PageTables.ApRo);
        m.Write64(Machine.Data, 0x1111);
        m.Write64(Machine.Data + 0x1008, 0x2222);
        m[0] = 0x1000; m[1] = upper + 8;
        var stop = m.Run(
            0xF9400002,  // ldr x2, [x0]
            0xF9400023,  // ldr x3, [x1]
            0xF9000023); // str x3, [x1]  → permission fault
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal((0x1111UL, 0x2222UL), (m[2], m[3]));
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate);
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 1UL << 6 | 0x0F, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(upper + 8, Sys(m, SysReg.FAR_EL1));
        Assert.Equal(Machine.Code + 8, Sys(m, SysReg.ELR_EL1));
    }

    [Fact]
    public void TranslationAndAccessFlagFaults()
    {
        var (m, t, r0, _) = Setup();
        using var _m = m;
        t.Map(r0, 0x1000, Machine.Data, 0); // AF clear
        t.Map(r0, 0x3000, Machine.Data, PageTables.Af);
        m[0] = 0x1000;
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xF9400002)); // ldr x2, [x0]
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 0x0B, Sys(m, SysReg.ESR_EL1)); // access flag, level 3
        m[0] = 0x2000; // same level-3 table, invalid entry
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xF9400002));
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 0x07, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(0x2000UL, Sys(m, SysReg.FAR_EL1));
        m[0] = 1UL << 40; // beyond the 39-bit input range
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xF9400002));
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 0x04, Sys(m, SysReg.ESR_EL1));
        m[0] = 0x20_0000; // level-2 entry missing
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xF9400002));
        Assert.Equal(0x25UL << 26 | 1UL << 25 | 0x06, Sys(m, SysReg.ESR_EL1));
    }

    [Fact]
    public void TlbiMakesAChangedPteVisible()
    {
        var (m, t, r0, _) = Setup();
        using var _m = m;
        ulong pte = t.Map(r0, 0x1000, Machine.Data, PageTables.Af);
        m.Write64(Machine.Data, 0xAAAA);
        m.Write64(Machine.Data + 0x1000, 0xBBBB);
        m[0] = 0x1000;
        m.RunToEnd(0xF9400002); // ldr x2, [x0]
        Assert.Equal(0xAAAAUL, m[2]);
        m.Write64(pte, (Machine.Data + 0x1000) | PageTables.Af | 3);
        m.RunToEnd(0xF9400002);
        Assert.Equal(0xAAAAUL, m[2]); // the TLB still holds the old translation (architecturally permitted)
        m.RunToEnd(0xD508871F, 0xD5033F9F, 0xF9400002); // tlbi vmalle1 ; dsb sy ; ldr x2, [x0]
        Assert.Equal(0xBBBBUL, m[2]);
    }

    [Fact]
    public void El0PermissionsAndExecuteNever()
    {
        var (m, t, r0, _) = Setup(48);
        using var _m = m;
        const ulong userCode = 0x40_0000, userData = 0x50_0000, kernelData = 0x60_0000;
        t.Map(r0, userCode, Machine.Data + 0x4000, PageTables.Af | PageTables.ApEl0 | PageTables.ApRo);
        t.Map(r0, userData, Machine.Data + 0x5000, PageTables.Af | PageTables.ApEl0 | PageTables.Uxn | PageTables.Pxn);
        t.Map(r0, kernelData, Machine.Data + 0x6000, PageTables.Af | PageTables.Uxn);
        m.Load(Machine.Data + 0x4000,
            0xF9000001,  // str x1, [x0]     (user data: allowed)
            0xF9400062,  // ldr x2, [x3]     (kernel data: permission fault from EL0)
            0xD61F0000); // br x0            (execute user data: UXN → instruction abort)
        m[0] = userData; m[1] = 0x77; m[3] = kernelData;
        m.Cpu.Pc = userCode;
        m.Cpu.Pstate = 0; // EL0
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(1000));
        Assert.Equal((ushort)0x400, m.Cpu.Exit.Immediate);
        Assert.Equal(0x77UL, m.Read64(Machine.Data + 0x5000));
        Assert.Equal(0x24UL << 26 | 1UL << 25 | 0x0F, Sys(m, SysReg.ESR_EL1)); // lower-EL data abort, permission L3
        Assert.Equal(kernelData, Sys(m, SysReg.FAR_EL1));
        // Skip the faulting load and return to EL0.
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.ELR_EL1, userCode + 8));
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(1000)); // eret → br x0 → instruction abort
        Assert.Equal(0x20UL << 26 | 1UL << 25 | 0x0F, Sys(m, SysReg.ESR_EL1));
        Assert.Equal(userData, Sys(m, SysReg.FAR_EL1));
    }

    [Fact]
    public void EnablingTheMmuFromGuestCode()
    {
        using var m = new Machine();
        var t = new PageTables(m, 39);
        ulong r0 = t.NewTable();
        t.Map(r0, Machine.RamBase, Machine.RamBase, PageTables.Af, level: 2);
        t.Map(r0, 0x7000, Machine.Data, PageTables.Af);
        m.Write64(Machine.Data, 0xD00D);
        m[1] = t.Tcr; m[2] = r0; m[3] = 0x30D0_0801; m[4] = 0x7000;
        m.RunToEnd(
            0xD5182041,  // msr tcr_el1, x1
            0xD5182002,  // msr ttbr0_el1, x2
            0xD5181003,  // msr sctlr_el1, x3
            0xD5033FDF,  // isb
            0xF9400085); // ldr x5, [x4]
        Assert.Equal(0xD00DUL, m[5]);
        Assert.True(m.Cpu.MmuEnabled);
    }
}
