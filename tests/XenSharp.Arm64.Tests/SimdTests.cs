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

    // ---- Structure loads and stores (LD1/ST1 multiple and single, LD1R)

    private static byte Pattern(int i) => (byte)(i * 7 + 3);

    /// <summary>A machine with Pattern bytes at Data and x0 = Data, x1 = Data + 0x1000 (a zeroed buffer).</summary>
    private static Machine WithPattern()
    {
        var m = new Machine();
        var bytes = new byte[256];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = Pattern(i);
        Assert.True(m.Memory.TryWriteBytes(Machine.Data, bytes));
        m[0] = Machine.Data;
        m[1] = Machine.Data + 0x1000;
        return m;
    }

    private static ulong Le(int first, int count = 8)
    {
        ulong v = 0;
        for (int i = count - 1; i >= 0; i--) v = v << 8 | Pattern(first + i);
        return v;
    }

    [Fact]
    public void Ld1MultipleRegisters()
    {
        using var m = WithPattern();
        m.Cpu.SetV(6, ~0UL, ~0UL);
        m.RunToEnd(
            0x4C407000,  // ld1 {v0.16b}, [x0]
            0x4CDFAC01,  // ld1 {v1.2d, v2.2d}, [x0], #32
            0x0C402006); // ld1 {v6.8b-v9.8b}, [x0]   (after the post-index: Data + 32)
        Assert.Equal((Le(0), Le(8)), m.Cpu.GetV(0));
        Assert.Equal((Le(0), Le(8)), m.Cpu.GetV(1));
        Assert.Equal((Le(16), Le(24)), m.Cpu.GetV(2));
        Assert.Equal(Machine.Data + 32, m[0]);
        for (int r = 0; r < 4; r++) Assert.Equal((Le(32 + 8 * r), 0UL), m.Cpu.GetV(6 + r)); // Q = 0 clears the upper half
    }

    [Fact]
    public void Ld1ThreeRegistersPostIndexByRegisterAndOneD()
    {
        using var m = WithPattern();
        m[2] = 100;
        m.RunToEnd(
            0x4CC26803,  // ld1 {v3.4s-v5.4s}, [x0], x2
            0x0CDF7C0A); // ld1 {v10.1d}, [x0], #8   (from Data + 100)
        Assert.Equal((Le(0), Le(8)), m.Cpu.GetV(3));
        Assert.Equal((Le(16), Le(24)), m.Cpu.GetV(4));
        Assert.Equal((Le(32), Le(40)), m.Cpu.GetV(5));
        Assert.Equal((Le(100), 0UL), m.Cpu.GetV(10));
        Assert.Equal(Machine.Data + 108, m[0]);
    }

    [Fact]
    public void St1MultipleRegistersWrapAroundV31()
    {
        using var m = WithPattern();
        m.Cpu.SetV(30, 0x3030_3030_3030_3030, 0x3131_3131_3131_3131);
        m.Cpu.SetV(31, 0x4040_4040_4040_4040, 0x4141_4141_4141_4141);
        m.Cpu.SetV(0, 0x5050_5050_5050_5050, 0x5151_5151_5151_5151);
        m.Cpu.SetV(1, 0x6060_6060_6060_6060, 0x6161_6161_6161_6161);
        m.RunToEnd(0x4C00203E); // st1 {v30.16b, v31.16b, v0.16b, v1.16b}, [x1]
        ulong b = Machine.Data + 0x1000;
        ulong[] expected = [0x3030_3030_3030_3030, 0x3131_3131_3131_3131, 0x4040_4040_4040_4040, 0x4141_4141_4141_4141,
                            0x5050_5050_5050_5050, 0x5151_5151_5151_5151, 0x6060_6060_6060_6060, 0x6161_6161_6161_6161];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], m.Read64(b + 8 * (ulong)i));
        Assert.Equal(b, m[1]);
    }

    [Fact]
    public void St1PostIndexAndHalfRegisters()
    {
        using var m = WithPattern();
        m.Cpu.SetV(3, 0x1111_1111_1111_1111, 0xFFFF_FFFF_FFFF_FFFF);
        m.Cpu.SetV(4, 0x2222_2222_2222_2222, 0xFFFF_FFFF_FFFF_FFFF);
        m.Cpu.SetV(5, 0x3333_3333_3333_3333, 0xFFFF_FFFF_FFFF_FFFF);
        m.Cpu.SetV(1, 0x6060_6060_6060_6060, 0x6161_6161_6161_6161);
        m.Cpu.SetV(2, 0x7070_7070_7070_7070, 0x7171_7171_7171_7171);
        m.RunToEnd(
            0x0C9F6823,  // st1 {v3.2s-v5.2s}, [x1], #24   (Q = 0: 8 bytes each)
            0x4C9FAC21); // st1 {v1.2d, v2.2d}, [x1], #32
        ulong b = Machine.Data + 0x1000;
        ulong[] expected = [0x1111_1111_1111_1111, 0x2222_2222_2222_2222, 0x3333_3333_3333_3333,
                            0x6060_6060_6060_6060, 0x6161_6161_6161_6161, 0x7070_7070_7070_7070, 0x7171_7171_7171_7171, 0];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], m.Read64(b + 8 * (ulong)i));
        Assert.Equal(b + 24 + 32, m[1]);
    }

    [Fact]
    public void Ld1rReplicates()
    {
        using var m = WithPattern();
        m[3] = 8;
        m.Cpu.SetV(1, ~0UL, ~0UL);
        m.Cpu.SpEl1 = Machine.Data + 6;
        m.RunToEnd(
            0x4D40C800,  // ld1r {v0.4s}, [x0]
            0x0DDFC001,  // ld1r {v1.8b}, [x0], #1
            0x4DC3CC02,  // ld1r {v2.2d}, [x0], x3    (at Data + 1)
            0x0D40C7E3); // ld1r {v3.4h}, [sp]
        ulong s = Le(0, 4);
        Assert.Equal((s | s << 32, s | s << 32), m.Cpu.GetV(0));
        Assert.Equal((0x0101_0101_0101_0101UL * Pattern(0), 0UL), m.Cpu.GetV(1));
        Assert.Equal((Le(1), Le(1)), m.Cpu.GetV(2));
        ulong h = Le(6, 2);
        Assert.Equal((h | h << 16 | h << 32 | h << 48, 0UL), m.Cpu.GetV(3));
        Assert.Equal(Machine.Data + 9, m[0]);
    }

    [Fact]
    public void Ld1St1SingleLane()
    {
        using var m = WithPattern();
        m[3] = 16;
        m.Cpu.SetV(0, 0x1111_1111_1111_1111, 0x2222_2222_2222_2222);
        m.Cpu.SetV(1, 0x3333_3333_3333_3333, 0x4444_4444_4444_4444);
        m.Cpu.SetV(2, 0x5555_5555_5555_5555, 0x6666_6666_6666_6666);
        m.Cpu.SetV(4, 0xAAAA_BBBB_CCCC_DDDD, 0x7777_7777_7777_7777);
        m.Cpu.SetV(5, 0x0000_0000_0000_0000, 0x0000_0000_0000_5A00);
        m.RunToEnd(
            0x4D409000,  // ld1 {v0.s}[3], [x0]
            0x4DDF1C01,  // ld1 {v1.b}[15], [x0], #1
            0x4DC38402,  // ld1 {v2.d}[1], [x0], x3     (at Data + 1)
            0x4D9F4820,  // st1 {v0.h}[5], [x1], #2
            0x0D008424,  // st1 {v4.d}[0], [x1]         (at Data + 0x1002)
            0x4D000425); // st1 {v5.b}[9], [x1]
        Assert.Equal((0x1111_1111_1111_1111UL, 0x2222_2222UL | Le(0, 4) << 32), m.Cpu.GetV(0));
        Assert.Equal((0x3333_3333_3333_3333UL, 0x0044_4444_4444_4444UL | (ulong)Pattern(0) << 56), m.Cpu.GetV(1));
        Assert.Equal((0x5555_5555_5555_5555UL, Le(1)), m.Cpu.GetV(2));
        Assert.Equal(Machine.Data + 17, m[0]);
        ulong b = Machine.Data + 0x1000;
        Assert.Equal(0x2222UL, m.Read64(b) & 0xFFFF); // h[5] = bits 95:80
        Assert.Equal(0xAAAA_BBBB_CCCC_DD5AUL, m.Read64(b + 2));  // the d store, then b[9] = 0x5A over its first byte
        Assert.Equal(b + 2, m[1]);
    }

    [Fact]
    public void Ld1ReachingMmioStopsBeforeWritingAnyRegister()
    {
        using var m = new Machine();
        m[0] = Machine.RamBase + Machine.RamSize - 16; // the second register's bytes are past RAM
        m.Cpu.SetV(1, 1, 2);
        m.Cpu.SetV(2, 3, 4);
        Assert.Equal(Arm64Stop.Mmio, m.Run(0x4CDFAC01)); // ld1 {v1.2d, v2.2d}, [x0], #32
        Assert.Equal(Machine.Code, m.Cpu.Pc);
        Assert.Equal(((ulong)1, (ulong)2), m.Cpu.GetV(1));
        Assert.Equal(((ulong)3, (ulong)4), m.Cpu.GetV(2));
        Assert.Equal(Machine.RamBase + Machine.RamSize - 16, m[0]);
    }

    [Fact]
    public void InterleavingStructureFormsAreReportedNotMisexecuted()
    {
        using var m = WithPattern();
        Assert.Equal(Arm64Stop.Unsupported, m.Run(0x4C408800)); // ld2 {v0.4s, v1.4s}, [x0]
        Assert.Equal(Arm64Stop.Unsupported, m.Run(0x4D60C800)); // ld2r {v0.4s, v1.4s}, [x0]
        Assert.Equal(Machine.Code, m.Cpu.Pc);
    }
}
