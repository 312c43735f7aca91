using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64.Tests;

public class DecoderTests
{
    /// <summary>
    /// Every valid logical immediate, generated independently (element size, run of ones, rotation)
    /// and encoded as the architecture defines (N:imms = element size marker and run length - 1,
    /// immr = rotation), must decode to the same mask; everything else must be rejected.
    /// </summary>
    [Fact]
    public void LogicalImmediate_AllEncodings()
    {
        var valid = new Dictionary<uint, ulong>();
        foreach (int esize in new[] { 2, 4, 8, 16, 32, 64 })
        {
            for (int ones = 1; ones < esize; ones++)
            {
                for (int rot = 0; rot < esize; rot++)
                {
                    ulong elem = ones == 64 ? ulong.MaxValue : (1UL << ones) - 1;
                    ulong emask = esize == 64 ? ulong.MaxValue : (1UL << esize) - 1;
                    ulong r = rot == 0 ? elem : ((elem >> rot) | (elem << (esize - rot))) & emask;
                    ulong full = 0;
                    for (int i = 0; i < 64; i += esize) full |= r << i;
                    uint n = esize == 64 ? 1u : 0u;
                    uint imms = (uint)((~(esize * 2 - 1) & 0x3F) | (ones - 1)) & 0x3F;
                    valid[(n << 12) | ((uint)rot << 6) | imms] = full;
                }
            }
        }
        Assert.Equal(5334, valid.Count);
        int checkedCount = 0;
        var seen = new HashSet<uint>();
        for (uint enc = 0; enc < (1 << 13); enc++)
        {
            uint n = enc >> 12, immr = (enc >> 6) & 63, imms = enc & 63;
            bool ok = A64Decoder.DecodeBitMasks(n, imms, immr, true, 64, out ulong mask, out _);
            // The element size comes from N:NOT(imms); only immr's low log2(esize) bits count.
            uint combined = (n << 6) | (~imms & 63);
            int esize = combined == 0 ? 1 : 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount(combined));
            uint key = (n << 12) | ((immr & (uint)(esize - 1)) << 6) | imms;
            Assert.Equal(valid.ContainsKey(key), ok);
            if (ok) { Assert.Equal(valid[key], mask); checkedCount++; seen.Add(key); }
        }
        Assert.Equal(5334, seen.Count);
        Assert.True(checkedCount > 5334);
    }

    [Theory]
    [InlineData(0x92401C20u, 0xFFUL)]                   // and x0, x1, #0xff
    [InlineData(0x3200F3E0u, 0x55555555UL)]             // orr w0, wzr, #0x55555555
    [InlineData(0xD201F020u, 0xAAAAAAAAAAAAAAAAUL)]     // eor x0, x1, #0xaaaaaaaaaaaaaaaa
    [InlineData(0xF2410020u, 0x8000000000000000UL)]     // ands x0, x1, #0x8000000000000000
    public void LogicalImmediate_AssemblerEncodings(uint word, ulong mask)
    {
        A64Decoder.Decode(word, out var d);
        Assert.Equal(A64Kind.LogicalImm, d.Kind);
        Assert.Equal(mask, (ulong)d.Imm);
    }

    [Theory]
    [InlineData(0xAB010002u, A64Kind.AddSubShifted)]
    [InlineData(0x8B21CBE2u, A64Kind.AddSubExtended)]
    [InlineData(0x910043FFu, A64Kind.AddSubImm)]
    [InlineData(0xD3483C20u, A64Kind.Bitfield)]
    [InlineData(0x93C23020u, A64Kind.Extr)]
    [InlineData(0x9B427C20u, A64Kind.DataProc3)]
    [InlineData(0xDAC01020u, A64Kind.DataProc1)]
    [InlineData(0x9AC20C20u, A64Kind.DataProc2)]
    [InlineData(0xFA420024u, A64Kind.CondCompare)]
    [InlineData(0x9A820020u, A64Kind.CondSelect)]
    [InlineData(0x54FFFFC1u, A64Kind.BCond)]
    [InlineData(0x9400000Cu, A64Kind.Bl)]
    [InlineData(0xB6400048u, A64Kind.Tbz)]
    [InlineData(0xD65F03C0u, A64Kind.Ret)]
    [InlineData(0xD69F03E0u, A64Kind.Eret)]
    [InlineData(0xD4000841u, A64Kind.Svc)]
    [InlineData(0xD401D422u, A64Kind.Hvc)]
    [InlineData(0xD503207Fu, A64Kind.Hint)]
    [InlineData(0xD503233Fu, A64Kind.Hint)]  // paciasp executes as a hint
    [InlineData(0xD5033BBFu, A64Kind.Barrier)]
    [InlineData(0xD50342FFu, A64Kind.MsrImm)]
    [InlineData(0xD508871Fu, A64Kind.Sys)]
    [InlineData(0xD518C001u, A64Kind.Msr)]
    [InlineData(0xD5384240u, A64Kind.Mrs)]
    [InlineData(0xF9000401u, A64Kind.LdStUnsignedImm)]
    [InlineData(0xF8010C01u, A64Kind.LdStImm9)]
    [InlineData(0xF8637802u, A64Kind.LdStRegOffset)]
    [InlineData(0x58000082u, A64Kind.LdrLiteral)]
    [InlineData(0xA9BF0801u, A64Kind.LdStPair)]
    [InlineData(0xC85F7C02u, A64Kind.LdStExclusive)]
    [InlineData(0x48227C04u, A64Kind.LdStExclusive)] // casp
    [InlineData(0xF8210002u, A64Kind.AtomicMemOp)]
    [InlineData(0x3DC00001u, A64Kind.LdStUnsignedImm)] // ldr q1
    [InlineData(0x4C407000u, A64Kind.SimdLdStMulti)]  // ld1 {v0.16b}, [x0]
    [InlineData(0x4C9FAC21u, A64Kind.SimdLdStMulti)]  // st1 {v1.2d, v2.2d}, [x1], #32
    [InlineData(0x4C408800u, A64Kind.SimdLdStMulti)]  // ld2 (decoded; executing it stops Run as unsupported)
    [InlineData(0x4D40C800u, A64Kind.SimdLdStSingle)] // ld1r {v0.4s}, [x0]
    [InlineData(0x4DC38402u, A64Kind.SimdLdStSingle)] // ld1 {v2.d}[1], [x0], x3
    [InlineData(0x4C417000u, A64Kind.Undefined)]      // ld1 with Rm set but no post-index: unallocated
    [InlineData(0x0D408800u, A64Kind.Undefined)]      // ld1 single structure, S-sized opcode with size 2: unallocated
    [InlineData(0x00000000u, A64Kind.Undefined)]     // udf #0
    public void Classify(uint word, A64Kind kind)
    {
        A64Decoder.Decode(word, out var d);
        Assert.Equal(kind, d.Kind);
    }
}
