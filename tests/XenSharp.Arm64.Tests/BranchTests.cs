namespace XenSharp.Arm64.Tests;

public class BranchTests
{
    [Fact]
    public void CountedLoop()
    {
        using var m = new Machine();
        m.RunToEnd(
            0xD2800000,  // movz x0, #0
            0xD2800C81,  // movz x1, #100
            0x8B010000,  // loop: add x0, x0, x1
            0xF1000421,  // subs x1, x1, #1
            0x54FFFFC1); // b.ne loop
        Assert.Equal(5050UL, m[0]);
    }

    [Fact]
    public void CompareAndTestBranchesCallsAndReturns()
    {
        using var m = new Machine();
        m[5] = 0;
        m[8] = 1UL << 40 | 8;
        var stop = m.Run(
            0x9400000C, // bl f
            0xB4000045, // cbz x5, z1        (taken)
            0xD2800026, // movz x6, #1
            0xB5000045, // z1: cbnz x5, z2   (not taken)
            0xD2800027, // movz x7, #1
            0xB6400048, // z2: tbz x8, #40, t1 (not taken)
            0xD2800029, // movz x9, #1
            0x37180048, // t1: tbnz w8, #3, t2 (taken)
            0xD280002A, // movz x10, #1
            0x100000AB, // t2: adr x11, tgt
            0xD63F0160, // blr x11
            0xD4000002, // hvc #0
            0xD2800AA4, // f: movz x4, #0x55
            0xD65F03C0, // ret
            0xD2800EEC, // tgt: movz x12, #0x77
            0xD61F03C0); // br x30
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal(Machine.Code + 12 * 4, m.Cpu.Pc);
        Assert.Equal(0x55UL, m[4]);
        Assert.Equal(0UL, m[6]);
        Assert.Equal(1UL, m[7]);
        Assert.Equal(1UL, m[9]);
        Assert.Equal(0UL, m[10]);
        Assert.Equal(0x77UL, m[12]);
        Assert.Equal(Machine.Code + 11 * 4, m[30]);
    }

    [Fact]
    public void AdrAndAdrp()
    {
        using var m = new Machine();
        m.RunToEnd(
            0xF0000000,  // adrp x0, .+0x3000 (page-relative)
            0x10FFFFE1); // adr x1, .-4
        Assert.Equal(Machine.Code + 0x3000, m[0]);
        Assert.Equal(Machine.Code, m[1]);
    }

    [Fact]
    public void SelfModifyingCodeIsSeen()
    {
        using var m = new Machine();
        m.RunToEnd(0xD2800AA4); // movz x4, #0x55
        Assert.Equal(0x55UL, m[4]);
        m.RunToEnd(0xD2800EE4); // movz x4, #0x77 at the same address: the cached decode is revalidated
        Assert.Equal(0x77UL, m[4]);
    }
}
