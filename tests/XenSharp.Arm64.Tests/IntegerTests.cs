namespace XenSharp.Arm64.Tests;

public class IntegerTests
{
    private const uint N = 8, Z = 4, C = 2, V = 1;

    /// <summary>x2 = x0 op x1 with flags: (instruction, x0, x1, carry in, result, NZCV).</summary>
    [Theory]
    [InlineData(0xAB010002u, 0x7FFF_FFFF_FFFF_FFFFUL, 1UL, false, 0x8000_0000_0000_0000UL, N | V)]   // adds overflow
    [InlineData(0xAB010002u, 0xFFFF_FFFF_FFFF_FFFFUL, 1UL, false, 0UL, Z | C)]                       // adds carry to zero
    [InlineData(0xAB010002u, 0x8000_0000_0000_0000UL, 0x8000_0000_0000_0000UL, false, 0UL, Z | C | V)]
    [InlineData(0xAB010002u, 1UL, 2UL, false, 3UL, 0u)]
    [InlineData(0xEB010002u, 0UL, 1UL, false, 0xFFFF_FFFF_FFFF_FFFFUL, N)]                           // subs borrow: C clear
    [InlineData(0xEB010002u, 5UL, 5UL, false, 0UL, Z | C)]
    [InlineData(0xEB010002u, 0x8000_0000_0000_0000UL, 1UL, false, 0x7FFF_FFFF_FFFF_FFFFUL, C | V)]
    [InlineData(0xEB010002u, 7UL, 3UL, false, 4UL, C)]
    [InlineData(0x2B010002u, 0x7FFF_FFFFUL, 1UL, false, 0x8000_0000UL, N | V)]                       // adds w
    [InlineData(0x2B010002u, 0xFFFF_FFFF_FFFF_FFFFUL, 1UL, false, 0UL, Z | C)]                       // adds w ignores upper bits
    [InlineData(0x6B010002u, 0UL, 1UL, false, 0xFFFF_FFFFUL, N)]                                     // subs w
    [InlineData(0x6B010002u, 0x8000_0000UL, 1UL, false, 0x7FFF_FFFFUL, C | V)]
    [InlineData(0xBA010002u, 1UL, 2UL, true, 4UL, 0u)]                                               // adcs with carry
    [InlineData(0xBA010002u, 0xFFFF_FFFF_FFFF_FFFFUL, 0UL, true, 0UL, Z | C)]
    [InlineData(0xFA010002u, 5UL, 3UL, false, 1UL, C)]                                               // sbcs without carry: 5-3-1
    [InlineData(0xFA010002u, 5UL, 5UL, true, 0UL, Z | C)]
    public void AddSubFlags(uint word, ulong a, ulong b, bool carryIn, ulong result, uint nzcv)
    {
        using var m = new Machine();
        m[0] = a; m[1] = b;
        m.Cpu.Nzcv = carryIn ? 1u << 29 : 0;
        m.RunToEnd(word);
        Assert.Equal(result, m[2]);
        Assert.Equal(nzcv << 28, m.Cpu.Nzcv);
    }

    /// <summary>x0 = op(x1, x2, x3) for one instruction: (word, x1, x2, x3, expected x0).</summary>
    [Theory]
    // shifted/extended/immediate add-sub
    [InlineData(0x8B010C02u, 0UL, 0UL, 0UL, 0UL)]
    [InlineData(0x92401C20u, 0x1234UL, 0UL, 0UL, 0x34UL)]                                  // and #0xff
    [InlineData(0x3200F3E0u, 0UL, 0UL, 0UL, 0x55555555UL)]                                 // orr w0, wzr, #0x55555555
    [InlineData(0xD201F020u, 0xFFFF_0000_FFFF_0000UL, 0UL, 0UL, 0x5555_AAAA_5555_AAAAUL)]  // eor imm
    [InlineData(0xAA022020u, 0x1UL, 0xABUL, 0UL, 0xAB01UL)]                                // orr lsl #8
    [InlineData(0x8A220020u, 0xFFUL, 0x0FUL, 0UL, 0xF0UL)]                                 // bic
    [InlineData(0x2A220020u, 0UL, 0xFFFF_0000UL, 0UL, 0x0000_FFFFUL)]                      // orn w
    [InlineData(0xCAE21020u, 0UL, 0x10UL, 0UL, 0xFFFF_FFFF_FFFF_FFFEUL)]                   // eon ror #4
    // bitfield aliases
    [InlineData(0xD37CEC20u, 0x8000_0000_0000_0001UL, 0UL, 0UL, 0x10UL)]                   // lsl #4
    [InlineData(0xD344FC20u, 0x8000_0000_0000_0010UL, 0UL, 0UL, 0x0800_0000_0000_0001UL)]  // lsr #4
    [InlineData(0x9344FC20u, 0x8000_0000_0000_0010UL, 0UL, 0UL, 0xF800_0000_0000_0001UL)]  // asr #4
    [InlineData(0xD3483C20u, 0x1234_5678UL, 0UL, 0UL, 0x56UL)]                             // ubfx #8,#8
    [InlineData(0x93483C20u, 0x0000_F000UL, 0UL, 0UL, 0xFFFF_FFFF_FFFF_FFF0UL)]            // sbfx #8,#8
    [InlineData(0x93407C20u, 0x8000_0000UL, 0UL, 0UL, 0xFFFF_FFFF_8000_0000UL)]            // sxtw
    [InlineData(0x53001C20u, 0x1FFUL, 0UL, 0UL, 0xFFUL)]                                   // uxtb
    [InlineData(0x13001C20u, 0x80UL, 0UL, 0UL, 0xFFFF_FF80UL)]                             // sxtb w
    [InlineData(0x93403C20u, 0x8001UL, 0UL, 0UL, 0xFFFF_FFFF_FFFF_8001UL)]                 // sxth x
    [InlineData(0x131F7C20u, 0x8000_0000UL, 0UL, 0UL, 0xFFFF_FFFFUL)]                      // asr w #31
    [InlineData(0x53010020u, 0x3UL, 0UL, 0UL, 0x8000_0000UL)]                              // lsl w #31
    [InlineData(0x93C23020u, 0xABCUL, 0x1234_5678_9ABC_DEF0UL, 0UL, 0xABC1_2345_6789_ABCDUL)] // extr #12
    [InlineData(0x13812020u, 0x1234_5678UL, 0UL, 0UL, 0x7812_3456UL)]                      // ror w #8
    // shifts by register (amount taken modulo the width)
    [InlineData(0x9AC22020u, 1UL, 65UL, 0UL, 2UL)]                                         // lslv
    [InlineData(0x1AC22420u, 0x8000_0000UL, 33UL, 0UL, 0x4000_0000UL)]                     // lsrv w
    [InlineData(0x9AC22820u, 0x8000_0000_0000_0000UL, 63UL, 0UL, ulong.MaxValue)]          // asrv
    [InlineData(0x9AC22C20u, 1UL, 1UL, 0UL, 0x8000_0000_0000_0000UL)]                      // rorv
    // multiply
    [InlineData(0x9B020C20u, 3UL, 4UL, 5UL, 17UL)]                                         // madd
    [InlineData(0x9B028C20u, 3UL, 4UL, 5UL, 0xFFFF_FFFF_FFFF_FFF9UL)]                      // msub 5-12
    [InlineData(0x9B220C20u, 0xFFFF_FFFFUL, 2UL, 10UL, 8UL)]                               // smaddl -1*2+10
    [InlineData(0x9BA20C20u, 0xFFFF_FFFFUL, 2UL, 0UL, 0x1_FFFF_FFFEUL)]                    // umaddl
    [InlineData(0x9B427C20u, 0xFFFF_FFFF_FFFF_FFFFUL, 5UL, 0UL, 0xFFFF_FFFF_FFFF_FFFFUL)]  // smulh -1*5
    [InlineData(0x9B427C20u, 0x4000_0000_0000_0000UL, 4UL, 0UL, 1UL)]
    [InlineData(0x9BC27C20u, 0xFFFF_FFFF_FFFF_FFFFUL, 0xFFFF_FFFF_FFFF_FFFFUL, 0UL, 0xFFFF_FFFF_FFFF_FFFEUL)] // umulh
    [InlineData(0x1B027C20u, 0x1_0000_0003UL, 0x10UL, 0UL, 0x30UL)]                        // mul w
    // divide
    [InlineData(0x9AC20820u, 100UL, 7UL, 0UL, 14UL)]                                       // udiv
    [InlineData(0x9AC20820u, 100UL, 0UL, 0UL, 0UL)]                                        // udiv by 0
    [InlineData(0x9AC20C20u, 0xFFFF_FFFF_FFFF_FF9CUL, 7UL, 0UL, 0xFFFF_FFFF_FFFF_FFF2UL)]  // sdiv -100/7 = -14
    [InlineData(0x9AC20C20u, 5UL, 0UL, 0UL, 0UL)]                                          // sdiv by 0
    [InlineData(0x9AC20C20u, 0x8000_0000_0000_0000UL, ulong.MaxValue, 0UL, 0x8000_0000_0000_0000UL)] // INT64_MIN / -1
    [InlineData(0x1AC20C20u, 0x8000_0000UL, 0xFFFF_FFFFUL, 0UL, 0x8000_0000UL)]            // INT32_MIN / -1
    [InlineData(0x1AC20820u, 0xFFFF_FFFF_0000_0010UL, 4UL, 0UL, 4UL)]                      // udiv w ignores upper
    // bit operations
    [InlineData(0xDAC01020u, 1UL, 0UL, 0UL, 63UL)]                                         // clz
    [InlineData(0xDAC01020u, 0UL, 0UL, 0UL, 64UL)]
    [InlineData(0x5AC01020u, 0x1_0000_0000UL, 0UL, 0UL, 32UL)]                             // clz w
    [InlineData(0xDAC01420u, 0UL, 0UL, 0UL, 63UL)]                                         // cls
    [InlineData(0xDAC01420u, 0xFFFF_FFFF_FFFF_FFFFUL, 0UL, 0UL, 63UL)]
    [InlineData(0xDAC01420u, 0xF000_0000_0000_0000UL, 0UL, 0UL, 3UL)]
    [InlineData(0x5AC01420u, 0x0000_0001UL, 0UL, 0UL, 30UL)]                               // cls w
    [InlineData(0xDAC00020u, 1UL, 0UL, 0UL, 0x8000_0000_0000_0000UL)]                      // rbit
    [InlineData(0x5AC00020u, 0x3UL, 0UL, 0UL, 0xC000_0000UL)]                              // rbit w
    [InlineData(0xDAC00C20u, 0x0102_0304_0506_0708UL, 0UL, 0UL, 0x0807_0605_0403_0201UL)]  // rev
    [InlineData(0x5AC00820u, 0xAAAA_AAAA_0102_0304UL, 0UL, 0UL, 0x0403_0201UL)]            // rev w
    [InlineData(0xDAC00420u, 0x0102_0304_0506_0708UL, 0UL, 0UL, 0x0201_0403_0605_0807UL)]  // rev16
    [InlineData(0xDAC00820u, 0x0102_0304_0506_0708UL, 0UL, 0UL, 0x0403_0201_0807_0605UL)]  // rev32
    public void DataProcessing(uint word, ulong x1, ulong x2, ulong x3, ulong expected)
    {
        using var m = new Machine();
        m[1] = x1; m[2] = x2; m[3] = x3;
        m.RunToEnd(word);
        Assert.Equal(expected, m[0]);
    }

    [Fact]
    public void BitfieldInsertKeepsOtherBits()
    {
        using var m = new Machine();
        m[0] = 0xFFFF_FFFF_FFFF_FFFF; m[1] = 0x12;
        m.RunToEnd(0xB3701C20); // bfi x0, x1, #16, #8
        Assert.Equal(0xFFFF_FFFF_FF12_FFFFUL, m[0]);
        m[0] = 0xFFFF_FFFF_FFFF_FF00; m[1] = 0xABC0;
        m.RunToEnd(0xB3442C20); // bfxil x0, x1, #4, #8
        Assert.Equal(0xFFFF_FFFF_FFFF_FFBCUL, m[0]);
    }

    [Fact]
    public void MoveWide()
    {
        using var m = new Machine();
        m.RunToEnd(
            0xD29BDE00, // movz x0, #0xdef0
            0xF2B35780, // movk x0, #0x9abc, lsl #16
            0xF2CACF00, // movk x0, #0x5678, lsl #32
            0xF2E24680, // movk x0, #0x1234, lsl #48
            0x12800001, // movn w1, #0
            0x92A24682); // movn x2, #0x1234, lsl #16
        Assert.Equal(0x1234_5678_9ABC_DEF0UL, m[0]);
        Assert.Equal(0xFFFF_FFFFUL, m[1]);
        Assert.Equal(0xFFFF_FFFF_EDCB_FFFFUL, m[2]);
    }

    [Fact]
    public void StackPointerForms()
    {
        using var m = new Machine();
        m.Cpu.SpEl1 = 0x4100_0000;
        m[1] = 0xFFFF_FFFF; // w1 = -1
        m.RunToEnd(
            0x910043FF,  // add sp, sp, #0x10
            0x8B21CBE2); // add x2, sp, w1, sxtw #2
        Assert.Equal(0x4100_0010UL, m.Cpu.SpEl1);
        Assert.Equal(0x4100_000CUL, m[2]);
    }

    /// <summary>(word, NZCV in, x1, x2, expected x0).</summary>
    [Theory]
    [InlineData(0x9A820020u, Z, 1UL, 2UL, 1UL)]                      // csel eq, taken
    [InlineData(0x9A820020u, 0u, 1UL, 2UL, 2UL)]
    [InlineData(0x9A821420u, Z, 1UL, 2UL, 3UL)]                      // csinc ne, not taken → x2+1
    [InlineData(0x9A821420u, 0u, 1UL, 2UL, 1UL)]
    [InlineData(0xDA82B020u, 0u, 1UL, 2UL, 0xFFFF_FFFF_FFFF_FFFDUL)] // csinv lt, N==V → ~x2
    [InlineData(0xDA82B020u, N, 1UL, 2UL, 1UL)]
    [InlineData(0xDA82A420u, N, 1UL, 2UL, 0xFFFF_FFFF_FFFF_FFFEUL)]  // csneg ge, N!=V → -x2
    [InlineData(0xDA82A420u, N | V, 1UL, 2UL, 1UL)]
    [InlineData(0x1A9F97E0u, C, 0UL, 0UL, 1UL)]                      // cset hi
    [InlineData(0x1A9F97E0u, C | Z, 0UL, 0UL, 0UL)]
    public void ConditionalSelect(uint word, uint nzcv, ulong x1, ulong x2, ulong expected)
    {
        using var m = new Machine();
        m[1] = x1; m[2] = x2;
        m.Cpu.Nzcv = nzcv << 28;
        m.RunToEnd(word);
        Assert.Equal(expected, m[0]);
    }

    [Theory]
    [InlineData(0xFA420024u, Z, 5UL, 5UL, Z | C)]    // ccmp x1, x2, #4, eq: eq holds → compare 5-5
    [InlineData(0xFA420024u, 0u, 5UL, 5UL, Z)]       // eq fails → nzcv = #4
    [InlineData(0xFA420024u, Z, 3UL, 5UL, N)]
    [InlineData(0xBA431822u, 0u, ulong.MaxValue - 2, 0UL, Z | C)] // ccmn x1, #3, #2, ne: -3 + 3
    [InlineData(0xBA431822u, Z, 1UL, 0UL, C)]        // ne fails → #2
    public void ConditionalCompare(uint word, uint nzcvIn, ulong x1, ulong x2, uint nzcvOut)
    {
        using var m = new Machine();
        m[1] = x1; m[2] = x2;
        m.Cpu.Nzcv = nzcvIn << 28;
        m.RunToEnd(word);
        Assert.Equal(nzcvOut << 28, m.Cpu.Nzcv);
    }

    [Fact]
    public void LogicalFlags()
    {
        using var m = new Machine();
        m[1] = 0x8000_0000_0000_0000;
        m.RunToEnd(0xF2410020); // ands x0, x1, #0x8000000000000000
        Assert.Equal(N << 28, m.Cpu.Nzcv);
        m[1] = 0xF0; m[2] = 0x0F; m.Cpu.Nzcv = 0xF000_0000;
        m.RunToEnd(0x6A020020); // ands w0, w1, w2
        Assert.Equal(Z << 28, m.Cpu.Nzcv);
    }

    [Fact]
    public void AddSubImmediateShifted()
    {
        using var m = new Machine();
        m[0] = 0x5000;
        m.RunToEnd(0xD1400402); // sub x2, x0, #1, lsl #12
        Assert.Equal(0x4000UL, m[2]);
        m[1] = 0x10; m[0] = 0x100;
        m.RunToEnd(0x8B010C02, 0xCB810802); // add x2, x0, x1, lsl #3 ; sub x2, x0, x1, asr #2
        Assert.Equal(0x100UL - 4, m[2]);
    }
}
