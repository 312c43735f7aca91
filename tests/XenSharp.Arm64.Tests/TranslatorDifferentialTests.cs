using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64.Tests;

/// <summary>
/// The translator against the interpreter: random programs of the instruction classes the
/// translator handles (integer data processing with every flag consumer, loads and stores of every
/// size, extension and addressing mode, pairs, forward conditional branches, calls of a function
/// in the same page, a loop around it all),
/// run once interpreted and once translated from the first block; registers, flags, data memory,
/// PC and the instruction count must agree.
/// </summary>
public class TranslatorDifferentialTests
{
    private const ulong DataBase = Machine.Data, DataSize = 0x20000;
    /// <summary>x24 loop counter, x25 scratch for nobody, x26 index, x27 writeback base, x28 fixed base.</summary>
    private const int Dests = 24;

    private sealed class Gen(int seed)
    {
        private readonly Random _r = new(seed);
        public int Next(int n) => _r.Next(n);
        public bool Coin() => _r.Next(2) == 0;
        public int Dest() => Next(8) == 0 ? 31 : Next(Dests);
        public int Src() => Next(10) == 0 ? 31 : Next(Dests);
    }

    private static bool Valid(uint w)
    {
        A64Decoder.Decode(w, out var d);
        return d.Kind != A64Kind.Undefined;
    }

    /// <summary>One random non-branch instruction.</summary>
    private static uint RandomInstruction(Gen g)
    {
        while (true)
        {
            uint sf = (uint)g.Next(2);
            uint w;
            int rd = g.Dest(), rn = g.Src(), rm = g.Src(), ra = g.Src();
            switch (g.Next(20))
            {
                case 0: // ADD/SUB immediate (no SP destination unless S)
                {
                    uint s = (uint)g.Next(2);
                    if (s == 0 && rd == 31) rd = 0;
                    w = sf << 31 | (uint)g.Next(2) << 30 | s << 29 | 0b100010u << 23 | (uint)g.Next(2) << 22 | (uint)g.Next(4096) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                }
                case 1: // ADD/SUB shifted register
                    w = sf << 31 | (uint)g.Next(2) << 30 | (uint)g.Next(2) << 29 | 0b01011u << 24 | (uint)g.Next(3) << 22 | (uint)rm << 16
                        | (uint)g.Next(sf == 1 ? 64 : 32) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 2: // ADD/SUB extended register
                {
                    uint s = (uint)g.Next(2);
                    if (s == 0 && rd == 31) rd = 1;
                    w = sf << 31 | (uint)g.Next(2) << 30 | s << 29 | 0b01011001u << 21 | (uint)rm << 16 | (uint)g.Next(8) << 13
                        | (uint)g.Next(5) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                }
                case 3: // ADC/SBC(S)
                    w = sf << 31 | (uint)g.Next(2) << 30 | (uint)g.Next(2) << 29 | 0b11010000u << 21 | (uint)rm << 16 | (uint)rn << 5 | (uint)rd;
                    break;
                case 4: // logical immediate
                {
                    uint opc = (uint)g.Next(4);
                    if (opc != 3 && rd == 31) rd = 2;
                    uint n = sf == 1 ? (uint)g.Next(2) : 0;
                    w = sf << 31 | opc << 29 | 0b100100u << 23 | n << 22 | (uint)g.Next(64) << 16 | (uint)g.Next(64) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                }
                case 5: // logical shifted register (AND, BIC, ORR, ORN, EOR, EON, ANDS, BICS)
                    w = sf << 31 | (uint)g.Next(4) << 29 | 0b01010u << 24 | (uint)g.Next(4) << 22 | (uint)g.Next(2) << 21 | (uint)rm << 16
                        | (uint)g.Next(sf == 1 ? 64 : 32) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 6: // MOVN/MOVZ/MOVK
                {
                    uint opc = new uint[] { 0, 2, 3 }[g.Next(3)];
                    w = sf << 31 | opc << 29 | 0b100101u << 23 | (uint)g.Next(sf == 1 ? 4 : 2) << 21 | (uint)g.Next(65536) << 5 | (uint)rd;
                    break;
                }
                case 7: // bitfield
                {
                    int width = sf == 1 ? 64 : 32;
                    w = sf << 31 | (uint)g.Next(3) << 29 | 0b100110u << 23 | sf << 22 | (uint)g.Next(width) << 16 | (uint)g.Next(width) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                }
                case 8: // EXTR
                    w = sf << 31 | 0b00100111u << 23 | sf << 22 | (uint)rm << 16 | (uint)g.Next(sf == 1 ? 64 : 32) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 9: // CSEL/CSINC/CSINV/CSNEG
                    w = sf << 31 | (uint)g.Next(2) << 30 | 0b11010100u << 21 | (uint)rm << 16 | (uint)g.Next(16) << 12 | (uint)g.Next(2) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 10: // CCMP/CCMN register or immediate
                    w = sf << 31 | (uint)g.Next(2) << 30 | 1u << 29 | 0b11010010u << 21 | (uint)g.Next(32) << 16 | (uint)g.Next(16) << 12
                        | (uint)g.Next(2) << 11 | (uint)rn << 5 | (uint)g.Next(16);
                    break;
                case 11: // RBIT, REV16, REV32/REV, REV, CLZ, CLS
                    w = sf << 31 | 0b1011010110u << 21 | (uint)g.Next(6) << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 12: // UDIV, SDIV, LSLV, LSRV, ASRV, RORV
                    w = sf << 31 | 0b0011010110u << 21 | (uint)rm << 16 | new uint[] { 2, 3, 8, 9, 10, 11 }[g.Next(6)] << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                case 13: // MADD, MSUB, SMADDL, SMSUBL, UMADDL, UMSUBL, SMULH, UMULH
                {
                    var (op31, o0) = new (uint, uint)[] { (0, 0), (0, 1), (1, 0), (1, 1), (5, 0), (5, 1), (2, 0), (6, 0) }[g.Next(8)];
                    if (op31 != 0) sf = 1;
                    w = sf << 31 | 0b11011u << 24 | op31 << 21 | (uint)rm << 16 | o0 << 15 | (uint)ra << 10 | (uint)rn << 5 | (uint)rd;
                    break;
                }
                case 14: case 15: // load/store, unsigned offset from x28 or SP
                {
                    uint size = (uint)g.Next(4), opc = (uint)g.Next(4);
                    if (size == 3 && opc >= 2) opc = 1;
                    if (size == 2 && opc == 3) opc = 2;
                    uint imm = (uint)g.Next(4096);
                    w = size << 30 | 0b111001u << 24 | opc << 22 | imm << 10 | 28u << 5 | (uint)g.Src();
                    if (opc != 0) w = (w & ~31u) | (uint)rd;
                    break;
                }
                case 16: // load/store, 9-bit immediate: unscaled (x28), post/pre-index (x27), unprivileged (x28)
                {
                    uint size = (uint)g.Next(4), opc = (uint)g.Next(4);
                    if (size == 3 && opc >= 2) opc = 1;
                    if (size == 2 && opc == 3) opc = 2;
                    uint mode = (uint)g.Next(4);
                    uint rbase = mode is 1 or 3 ? 27u : 28u;
                    uint imm9 = (uint)(rbase == 28 ? g.Next(256) : g.Next(512));
                    w = size << 30 | 0b111000u << 24 | opc << 22 | imm9 << 12 | mode << 10 | rbase << 5 | (uint)(opc == 0 ? g.Src() : rd);
                    break;
                }
                case 17: // load/store, register offset x28 + x26 (UXTW, LSL, SXTW, SXTX)
                {
                    uint size = (uint)g.Next(4), opc = (uint)g.Next(4);
                    if (size == 3 && opc >= 2) opc = 1;
                    if (size == 2 && opc == 3) opc = 2;
                    uint option = new uint[] { 2, 3, 6, 7 }[g.Next(4)];
                    w = size << 30 | 0b111000u << 24 | opc << 22 | 1u << 21 | 26u << 16 | option << 13 | (uint)g.Next(2) << 12 | 0b10u << 10
                        | 28u << 5 | (uint)(opc == 0 ? g.Src() : rd);
                    break;
                }
                case 18: // LDP/STP/LDPSW: offset from x28, post/pre-index on x27
                {
                    uint opc = (uint)g.Next(3), l = (uint)g.Next(2);
                    if (opc == 1) l = 1;
                    uint mode = new uint[] { 1, 2, 3 }[g.Next(3)];
                    uint rbase = mode == 2 ? 28u : 27u;
                    int rt = g.Next(Dests), rt2 = g.Next(Dests);
                    if (l == 1 && rt == rt2) rt2 = (rt + 1) % Dests;
                    w = opc << 30 | 0b101u << 27 | mode << 23 | l << 22 | (uint)g.Next(rbase == 28 ? 64 : 128) << 15 | (uint)rt2 << 10 | rbase << 5 | (uint)rt;
                    break;
                }
                default: // LDR literal (a word of this program's code, or just past it)
                {
                    uint opc = (uint)g.Next(3);
                    w = opc << 30 | 0b011000u << 24 | (uint)(1 + g.Next(8)) << 5 | (uint)rd;
                    break;
                }
            }
            if (Valid(w)) return w;
        }
    }

    /// <summary>
    /// body (random instructions, forward branches, calls of f) ; subs x24, x24, #1 ; b.ne body ;
    /// hvc #0 ; f: a few random instructions ; ret.
    /// </summary>
    private static List<uint> RandomProgram(Gen g, int length)
    {
        var body = new List<uint>();
        var branches = new List<(int At, int Target, uint Word)>();
        var calls = new List<int>();
        for (int i = 0; i < length; i++)
        {
            if (g.Next(7) == 0 && i + 2 < length)
            {
                branches.Add((body.Count, body.Count + 1 + g.Next(Math.Min(5, length - i - 1)), (uint)g.Next(3)));
                body.Add(0); // patched below
                continue;
            }
            if (g.Next(12) == 0)
            {
                calls.Add(body.Count);
                body.Add(0); // bl f, patched below
                continue;
            }
            body.Add(RandomInstruction(g));
        }
        foreach (var (at, target, kind) in branches)
        {
            uint offset = (uint)(target - at) & 0x7FFFF;
            body[at] = kind switch
            {
                0 => 0x54000000u | offset << 5 | (uint)g.Next(16),                                            // b.cond
                1 => (uint)g.Next(2) << 31 | 0x34000000u | (uint)g.Next(2) << 24 | offset << 5 | (uint)g.Next(Dests), // cbz/cbnz
                _ => 0x36000000u | (uint)g.Next(2) << 24 | (uint)g.Next(32) << 19 | (offset & 0x3FFF) << 5 | (uint)g.Next(Dests)
                     | ((uint)g.Next(2) << 31), // tbz/tbnz (bit 5 of the bit number in b5)
            };
        }
        int back = -(body.Count + 1);
        body.Add(0xF1000718u);                                // subs x24, x24, #1
        body.Add(0x54000001u | ((uint)back & 0x7FFFF) << 5);  // b.ne loop
        body.Add(Machine.Hvc0);
        int f = body.Count;
        foreach (int at in calls) body[at] = 0x94000000u | ((uint)(f - at) & 0x3FFFFFF);
        for (int i = 1 + g.Next(4); i > 0; i--) body.Add(RandomInstruction(g));
        body.Add(0xD65F03C0u);                                // ret
        return body;
    }

    private static readonly ulong[] Specials =
        [0, 1, 2, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x1_0000_0000, 63, 64];

    private static Machine Prepare(int threshold, List<uint> program, int seed)
    {
        var m = new Machine(jitThreshold: threshold);
        var g = new Random(seed ^ 0x5EED);
        for (int r = 0; r < Dests; r++)
            m[r] = g.Next(3) == 0 ? Specials[g.Next(Specials.Length)] : (ulong)g.NextInt64() ^ ((ulong)g.Next() << 63);
        m[24] = 3;
        m[26] = (ulong)g.Next(512);
        m[27] = DataBase + DataSize / 2;
        m[28] = DataBase;
        m.Cpu.SpEl1 = DataBase + 0x100;
        m.Cpu.Nzcv = (uint)g.Next(16) << 28;
        var data = new byte[DataSize];
        g.NextBytes(data);
        Assert.True(m.Memory.TryWriteBytes(DataBase, data));
        m.Load(Machine.Code, [.. program]);
        m.Cpu.Pc = Machine.Code;
        return m;
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1000, 0)]
    [InlineData(2000, 2)]
    [InlineData(3000, 1)]
    public void RandomProgramsAgree(int firstSeed, int threshold)
    {
        for (int seed = firstSeed; seed < firstSeed + 150; seed++)
        {
            var program = RandomProgram(new Gen(seed), 8 + seed % 40);
            using var interp = Prepare(-1, program, seed);
            using var jit = Prepare(threshold, program, seed);
            var s1 = interp.Cpu.Run(100_000);
            var s2 = jit.Cpu.Run(100_000);
            string where = $"seed {seed}: program {string.Join(' ', program.Select(w => w.ToString("x8")))}";
            Assert.True(s1 == Arm64Stop.Hvc, $"{where}: the interpreter stopped with {s1} ({interp.Cpu.Exit.Reason})");
            Assert.True(s2 == Arm64Stop.Hvc, $"{where}: translated code stopped with {s2} ({jit.Cpu.Exit.Reason})");
            Assert.True(jit.Cpu.InstructionsTranslated > 0, where);
            for (int r = 0; r < 31; r++)
                Assert.True(interp[r] == jit[r], $"{where}: x{r} 0x{interp[r]:x} (interpreter) vs 0x{jit[r]:x}");
            Assert.True(interp.Cpu.Nzcv == jit.Cpu.Nzcv, $"{where}: NZCV {interp.Cpu.Nzcv >> 28:x} vs {jit.Cpu.Nzcv >> 28:x}");
            Assert.True(interp.Cpu.SpEl1 == jit.Cpu.SpEl1, $"{where}: SP");
            Assert.True(interp.Cpu.Pc == jit.Cpu.Pc, $"{where}: PC");
            Assert.True(interp.Cpu.InstructionsRetired == jit.Cpu.InstructionsRetired,
                $"{where}: {interp.Cpu.InstructionsRetired} vs {jit.Cpu.InstructionsRetired} instructions");
            var a = new byte[DataSize];
            var b = new byte[DataSize];
            Assert.True(interp.Memory.TryReadBytes(DataBase, a));
            Assert.True(jit.Memory.TryReadBytes(DataBase, b));
            int diff = a.AsSpan().CommonPrefixLength(b);
            Assert.True(diff == a.Length, $"{where}: memory differs at 0x{DataBase + (ulong)diff:x}");
        }
    }
}
