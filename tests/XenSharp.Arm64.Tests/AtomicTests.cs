namespace XenSharp.Arm64.Tests;

public class AtomicTests
{
    private const ulong D = Machine.Data;

    [Fact]
    public void ExclusivePairSucceedsThenFails()
    {
        using var m = new Machine();
        m[0] = D; m[1] = 0xBEEF;
        m.Write64(D, 7);
        m.RunToEnd(0xC85F7C02, 0xC8037C01); // ldxr x2, [x0] ; stxr w3, x1, [x0]
        Assert.Equal(7UL, m[2]);
        Assert.Equal(0UL, m[3]);
        Assert.Equal(0xBEEFUL, m.Read64(D));
        m.RunToEnd(0xC8037C01); // stxr without a reservation
        Assert.Equal(1UL, m[3]);
        Assert.Equal(0xBEEFUL, m.Read64(D));
        m.RunToEnd(0xC85F7C02, 0xD5033F5F, 0xC8037C01); // ldxr ; clrex ; stxr → fails
        Assert.Equal(1UL, m[3]);
    }

    [Fact]
    public void ExclusiveFailsWhenMemoryChangedUnderneath()
    {
        using var m = new Machine();
        m[0] = D; m[1] = 0x99;
        m.Write64(D, 1);
        m.Load(Machine.Code, 0xC85F7C02, Machine.Hvc0, 0xC8037C01, Machine.Hvc0); // ldxr; hvc; stxr; hvc
        m.Cpu.Pc = Machine.Code;
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        m.Write64(D, 2); // another agent writes
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal(1UL, m[3]);
        Assert.Equal(2UL, m.Read64(D));
    }

    [Fact]
    public void AcquireReleaseExclusivesAndPairs()
    {
        using var m = new Machine();
        m[0] = D; m[1] = 0x1234_5678_9ABC; m[5] = 0x55;
        m.Write64(D, 0xFFFF_FFFF_0000_0011); m.Write64(D + 8, 0x22);
        m.RunToEnd(0x885FFC02, 0x8803FC01); // ldaxr w2 ; stlxr w3, w1
        Assert.Equal(0x11UL, m[2]);
        Assert.Equal(0UL, m[3]);
        Assert.Equal(0xFFFF_FFFF_5678_9ABCUL, m.Read64(D));
        m.RunToEnd(0xC87F1002, 0xC8231401); // ldxp x2, x4 ; stxp w3, x1, x5
        Assert.Equal((0xFFFF_FFFF_5678_9ABCUL, 0x22UL, 0UL), (m[2], m[4], m[3]));
        Assert.Equal((0x1234_5678_9ABCUL, 0x55UL), (m.Read64(D), m.Read64(D + 8)));
        m.RunToEnd(0xC89FFC01, 0xC8DFFC02, 0x08DFFC06); // stlr x1 ; ldar x2 ; ldarb w6
        Assert.Equal(m[1], m[2]);
        Assert.Equal(0xBCUL, m[6]);
    }

    /// <summary>(word, memory before, x1 operand, memory after, x2 = old value).</summary>
    [Theory]
    [InlineData(0xF8210002u, 10UL, 5UL, 15UL, 10UL)]                                    // ldadd
    [InlineData(0xF8E11002u, 0xFFUL, 0x0FUL, 0xF0UL, 0xFFUL)]                            // ldclral
    [InlineData(0xB8A12002u, 0xFFFF_FFFF_0000_00FFUL, 0x0FUL, 0xFFFF_FFFF_0000_00F0UL, 0xFFUL)] // ldeora w (upper word untouched)
    [InlineData(0xF8613002u, 0x100UL, 0x1UL, 0x101UL, 0x100UL)]                          // ldsetl
    [InlineData(0xF8218002u, 0x1UL, 0x2UL, 0x2UL, 0x1UL)]                                // swp
    [InlineData(0xF8214002u, 0xFFFF_FFFF_FFFF_FFFFUL, 3UL, 3UL, 0xFFFF_FFFF_FFFF_FFFFUL)] // ldsmax: -1 vs 3
    [InlineData(0xF8217002u, 0xFFFF_FFFF_FFFF_FFFFUL, 3UL, 3UL, 0xFFFF_FFFF_FFFF_FFFFUL)] // ldumin
    [InlineData(0x38210002u, 0x12FFUL, 0x01UL, 0x1200UL, 0xFFUL)]                        // ldaddb wraps in the byte
    [InlineData(0x78210002u, 0x1_FFFFUL, 0x02UL, 0x1_0001UL, 0xFFFFUL)]                  // ldaddh
    [InlineData(0x78215002u, 0x0005UL, 0x8000UL, 0x8000UL, 0x0005UL)]                    // ldsminh: -32768 < 5
    public void LseAtomics(uint word, ulong before, ulong operand, ulong after, ulong old)
    {
        using var m = new Machine();
        m[0] = Machine.Data; m[1] = operand;
        m.Write64(Machine.Data, before);
        m.RunToEnd(word);
        Assert.Equal(after, m.Read64(Machine.Data));
        Assert.Equal(old, m[2]);
    }

    [Fact]
    public void StaddDiscardsResult()
    {
        using var m = new Machine();
        m[0] = D; m[1] = 3; m.Write64(D, 4);
        m.RunToEnd(0xF821001F); // stadd x1, [x0]
        Assert.Equal(7UL, m.Read64(D));
    }

    [Fact]
    public void CompareAndSwap()
    {
        using var m = new Machine();
        m[0] = D; m.Write64(D, 5);
        m[1] = 5; m[2] = 9;
        m.RunToEnd(0xC8A17C02); // cas x1, x2, [x0] : match → store
        Assert.Equal((9UL, 5UL), (m.Read64(D), m[1]));
        m[1] = 5; m[2] = 11;
        m.RunToEnd(0xC8A17C02); // no match → x1 = current value
        Assert.Equal((9UL, 9UL), (m.Read64(D), m[1]));
        m.Write64(D, 0xAAAA_AAAA_0000_0042); m[1] = 0x42; m[2] = 0x43;
        m.RunToEnd(0x88E1FC02); // casal w1, w2, [x0]
        Assert.Equal(0xAAAA_AAAA_0000_0043UL, m.Read64(D));
        m[1] = 0x43; m[2] = 0x1FF;
        m.RunToEnd(0x08A17C02); // casb w1, w2, [x0]
        Assert.Equal(0xAAAA_AAAA_0000_00FFUL, m.Read64(D));
        // casp x2, x3, x4, x5, [x0]
        m.Write64(D, 1); m.Write64(D + 8, 2);
        m[2] = 1; m[3] = 2; m[4] = 10; m[5] = 20;
        m.RunToEnd(0x48227C04);
        Assert.Equal((10UL, 20UL), (m.Read64(D), m.Read64(D + 8)));
        Assert.Equal((1UL, 2UL), (m[2], m[3]));
    }
}
