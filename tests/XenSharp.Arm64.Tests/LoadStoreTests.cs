namespace XenSharp.Arm64.Tests;

public class LoadStoreTests
{
    private const ulong D = Machine.Data;

    [Fact]
    public void ImmediateOffsetsAndWriteback()
    {
        using var m = new Machine();
        m[0] = D + 0x100; m[1] = 0x1122_3344_5566_7788;
        m.RunToEnd(0xF9000401); // str x1, [x0, #8]
        Assert.Equal(0x1122_3344_5566_7788UL, m.Read64(D + 0x108));
        m.RunToEnd(0xF9400402); // ldr x2, [x0, #8]
        Assert.Equal(0x1122_3344_5566_7788UL, m[2]);
        m.Write64(D + 0xF8, 0xAABB);
        m.RunToEnd(0xF85F8002); // ldur x2, [x0, #-8]
        Assert.Equal(0xAABBUL, m[2]);
        m.RunToEnd(0xB81FC001); // stur w1, [x0, #-4]
        Assert.Equal(0x5566_7788UL, m.Read64(D + 0xFC) & 0xFFFF_FFFF);
        m.RunToEnd(0xF8010C01); // str x1, [x0, #16]!  (pre-index)
        Assert.Equal(D + 0x110, m[0]);
        Assert.Equal(0x1122_3344_5566_7788UL, m.Read64(D + 0x110));
        m.RunToEnd(0xF85F0402); // ldr x2, [x0], #-16  (post-index)
        Assert.Equal(D + 0x100, m[0]);
        Assert.Equal(0x1122_3344_5566_7788UL, m[2]);
    }

    [Fact]
    public void RegisterOffsets()
    {
        using var m = new Machine();
        m[0] = D + 0x200; m[3] = 2;
        m.Write64(D + 0x210, 0xCAFE);
        m.RunToEnd(0xF8637802); // ldr x2, [x0, x3, lsl #3]
        Assert.Equal(0xCAFEUL, m[2]);
        m[3] = 0xFFFF_FFFF_FFFF_FFFF & 0xFFFF_FFFE; // w3 = -2
        m.Write64(D + 0x1F8, 0x1234_5678);
        m.RunToEnd(0xB863D802); // ldr w2, [x0, w3, sxtw #2]
        Assert.Equal(0x1234_5678UL, m[2]);
        m[3] = 5; m[1] = 0x1AB;
        m.RunToEnd(0x38236801); // strb w1, [x0, x3]
        Assert.Equal(0xABUL, m.Read64(D + 0x205) & 0xFF);
    }

    [Fact]
    public void SignAndZeroExtendingLoads()
    {
        using var m = new Machine();
        m[0] = D;
        m.Write64(D, 0x8899_AABB_CCDD_EEFF);
        m[2] = ulong.MaxValue;
        m.RunToEnd(0x39400402); Assert.Equal(0xEEUL, m[2]);                       // ldrb w2, [x0, #1]
        m.RunToEnd(0x79400402); Assert.Equal(0xCCDDUL, m[2]);                     // ldrh w2, [x0, #2]
        m.RunToEnd(0x39800002); Assert.Equal(0xFFFF_FFFF_FFFF_FFFFUL, m[2]);      // ldrsb x2
        m.RunToEnd(0x39C00002); Assert.Equal(0xFFFF_FFFFUL, m[2]);                // ldrsb w2
        m.RunToEnd(0x79800002); Assert.Equal(0xFFFF_FFFF_FFFF_EEFFUL, m[2]);      // ldrsh x2
        m.RunToEnd(0xB9800002); Assert.Equal(0xFFFF_FFFF_CCDD_EEFFUL, m[2]);      // ldrsw x2
    }

    [Fact]
    public void Literals()
    {
        using var m = new Machine();
        // ldr x2, .+16 ; ldrsw x3 (encoded below), data words after the HVC
        m.Load(Machine.Code + 16, 0x8000_0001, 0x7777_7777);
        var stop = m.Run(
            0x58000082,  // ldr x2, .+16        → Code+16
            0x98000063,  // ldrsw x3, .+12      → Code+16
            0x18FFFFC4); // ldr w4, .-8         → Code+0 (the first instruction)
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal(0x7777_7777_8000_0001UL, m[2]);
        Assert.Equal(0xFFFF_FFFF_8000_0001UL, m[3]);
        Assert.Equal(0x58000082UL, m[4]);
    }

    [Fact]
    public void Pairs()
    {
        using var m = new Machine();
        m[0] = D + 0x40; m[1] = 0x1111; m[2] = 0x2222;
        m.RunToEnd(0xA9BF0801); // stp x1, x2, [x0, #-16]!
        Assert.Equal(D + 0x30, m[0]);
        Assert.Equal(0x1111UL, m.Read64(D + 0x30));
        Assert.Equal(0x2222UL, m.Read64(D + 0x38));
        m.RunToEnd(0xA8C11003); // ldp x3, x4, [x0], #16
        Assert.Equal((0x1111UL, 0x2222UL, D + 0x40), (m[3], m[4], m[0]));
        m[0] = D; m.Write64(D, 0x8000_0000_7FFF_FFFF);
        m.RunToEnd(0x69401003); // ldpsw x3, x4, [x0]
        Assert.Equal(0x7FFF_FFFFUL, m[3]);
        Assert.Equal(0xFFFF_FFFF_8000_0000UL, m[4]);
        m[1] = 0xAAAA_BBBB_0000_0001; m[2] = 2;
        m.RunToEnd(0x29000801); // stp w1, w2, [x0]
        Assert.Equal(0x0000_0002_0000_0001UL, m.Read64(D));
        m.Write64(D + 8, 0x0000_0004_0000_0003);
        m.RunToEnd(0x29411003); // ldp w3, w4, [x0, #8]
        Assert.Equal((3UL, 4UL), (m[3], m[4]));
    }

    [Fact]
    public void StackPushPop()
    {
        using var m = new Machine();
        ulong sp = m.Cpu.SpEl1;
        m[1] = 0xFEED;
        m.RunToEnd(0xF81F0FE1, 0xF84107E2); // str x1, [sp, #-16]! ; ldr x2, [sp], #16
        Assert.Equal(0xFEEDUL, m[2]);
        Assert.Equal(sp, m.Cpu.SpEl1);
        Assert.Equal(0xFEEDUL, m.Read64(sp - 16));
    }

    [Fact]
    public void UnalignedAndPageCrossingAccesses()
    {
        using var m = new Machine();
        m[0] = D + 0xFFC; m[1] = 0x0102_0304_0506_0708;
        m.RunToEnd(0xF9000001, 0xF9400002); // str x1, [x0] ; ldr x2, [x0]  (crosses a page)
        Assert.Equal(m[1], m[2]);
        Assert.Equal(0x0506_0708UL, m.Read64(D + 0xFF8) >> 32);
    }

    [Fact]
    public void FpRegisterLoadsAndStores()
    {
        using var m = new Machine();
        m[0] = D;
        m.Cpu.SetV(0, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888);
        m.RunToEnd(0x3D800000, 0x3DC00001); // str q0, [x0] ; ldr q1, [x0]
        Assert.Equal((0x1111_2222_3333_4444UL, 0x5555_6666_7777_8888UL), m.Cpu.GetV(1));
        m.RunToEnd(0xFD400401); // ldr d1, [x0, #8]  (clears the upper half)
        Assert.Equal((0x5555_6666_7777_8888UL, 0UL), m.Cpu.GetV(1));
        m.RunToEnd(0xAD010400); // stp q0, q1, [x0, #32]
        Assert.Equal(0x5555_6666_7777_8888UL, m.Read64(D + 0x28));
        Assert.Equal(0x5555_6666_7777_8888UL, m.Read64(D + 0x30));
        m.RunToEnd(0xBC404402); // ldr s2, [x0], #4
        Assert.Equal((0x3333_4444UL, 0UL), m.Cpu.GetV(2));
        Assert.Equal(D + 4, m[0]);
    }
}
