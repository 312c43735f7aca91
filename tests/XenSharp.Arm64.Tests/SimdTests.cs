namespace XenSharp.Arm64.Tests;

public class SimdTests
{
    [Fact]
    public void PopcountThroughCntAddv()
    {
        using var m = new Machine();
        m[1] = 0xFF00_0F0F_0000_0103;
        m.RunToEnd(0x9E670020, 0x0E205800, 0x0E31B800, 0x9E660000); // fmov d0, x1 ; cnt ; addv b0 ; fmov x0, d0
        Assert.Equal(8UL + 8 + 1 + 2, m[0]);
    }

    [Fact]
    public void MoviDupUmovAndVectorOps()
    {
        using var m = new Machine();
        m[3] = 0xDEAD_BEEF;
        m.RunToEnd(
            0x4F01E541,  // movi v1.16b, #0x2a
            0x0E1F3C22,  // umov w2, v1.b[15]
            0x4E040C62,  // dup v2.4s, w3
            0x4E183C44,  // mov x4, v2.d[1]
            0x6E218C24,  // cmeq v4.16b, v1.16b, v1.16b
            0x6E211C84,  // eor v4.16b, v4.16b, v1.16b
            0x9E660087); // fmov x7, d4
        Assert.Equal(0x2AUL, m[2]);
        Assert.Equal(0xDEAD_BEEF_DEAD_BEEFUL, m[4]);
        Assert.Equal(0xD5D5_D5D5_D5D5_D5D5UL, m[7]);
    }

    [Fact]
    public void ScalarDoubleArithmeticAndConversions()
    {
        using var m = new Machine();
        m[5] = unchecked((ulong)-21L);
        m.RunToEnd(0x9E6200A3, 0x1E632863, 0x9E780066); // scvtf d3, x5 ; fadd d3, d3, d3 ; fcvtzs x6, d3
        Assert.Equal(unchecked((ulong)-42L), m[6]);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(-42.0), m.Cpu.GetV(3).Lo);
    }

    [Fact]
    public void FpTrapsWhenCpacrDisablesIt()
    {
        using var m = new Machine();
        ExceptionTests.InstallVectors(m);
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.CPACR_EL1, 0));
        Assert.Equal(Arm64Stop.Hvc, m.Run(0x9E670020)); // fmov d0, x1
        Assert.True(m.Cpu.TryGetSystemRegister(SysReg.ESR_EL1, out ulong esr));
        Assert.Equal(0x07UL, esr >> 26);
    }
}
