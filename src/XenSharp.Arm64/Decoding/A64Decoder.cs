using System.Numerics;

namespace XenSharp.Arm64.Decoding;

/// <summary>
/// The A64 decoder: a declarative table of bit patterns (msb first, '0'/'1' fixed, anything else
/// "don't care") compiled once into 16 buckets indexed by bits [28:25] (the top-level encoding
/// group); within a bucket the first matching (mask, value) wins, so more specific patterns come first.
/// After classification <see cref="Finish"/> extracts operands and precomputes immediates.
/// </summary>
public static class A64Decoder
{
    /// <summary>Load/store operation codes in <see cref="A64Inst.Op"/> (bit 3 set: SIMD&amp;FP register).</summary>
    public const byte LsStore = 0, LsLoad = 1, LsLoadSigned64 = 2, LsLoadSigned32 = 3, LsPrefetch = 4, LsVector = 8;

    private static readonly (string Pattern, A64Kind Kind)[] Table =
    [
        // ---- Data processing, immediate (op0 = 100x)
        ("0xx10000xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.Adr),
        ("1xx10000xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.Adrp),
        ("xxx100010xxxxxxxxxxxxxxxxxxxxxxx", A64Kind.AddSubImm),
        ("xxx100100xxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LogicalImm),
        ("xxx100101xxxxxxxxxxxxxxxxxxxxxxx", A64Kind.MoveWide),
        ("xxx100110xxxxxxxxxxxxxxxxxxxxxxx", A64Kind.Bitfield),
        ("x00100111x0xxxxxxxxxxxxxxxxxxxxx", A64Kind.Extr),
        // ---- Branches, exception generation, system (op0 = 101x)
        ("x00101xxxxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.B),
        ("01010100xxxxxxxxxxxxxxxxxxx0xxxx", A64Kind.BCond),
        ("x011010xxxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.Cbz),
        ("x011011xxxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.Tbz),
        ("11010100000xxxxxxxxxxxxxxxx00001", A64Kind.Svc),
        ("11010100000xxxxxxxxxxxxxxxx00010", A64Kind.Hvc),
        ("11010100000xxxxxxxxxxxxxxxx00011", A64Kind.Smc),
        ("11010100001xxxxxxxxxxxxxxxx00000", A64Kind.Brk),
        ("11010101000000110010xxxxxxx11111", A64Kind.Hint),
        ("11010101000000110011xxxxxxx11111", A64Kind.Barrier),
        ("1101010100000xxx0100xxxxxxx11111", A64Kind.MsrImm),
        ("1101010100001xxxxxxxxxxxxxxxxxxx", A64Kind.Sys),
        ("110101010001xxxxxxxxxxxxxxxxxxxx", A64Kind.Msr),
        ("110101010011xxxxxxxxxxxxxxxxxxxx", A64Kind.Mrs),
        ("1101011000011111000000xxxxx00000", A64Kind.Br),
        ("1101011000111111000000xxxxx00000", A64Kind.Blr),
        ("1101011001011111000000xxxxx00000", A64Kind.Ret),
        ("11010110100111110000001111100000", A64Kind.Eret),
        // ---- Loads and stores (op0 = x1x0)
        ("xx001000xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LdStExclusive),
        ("xx011x00xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LdrLiteral),
        ("xx101x0xxxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LdStPair),
        ("xx111x01xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LdStUnsignedImm),
        ("xx111x00xx0xxxxxxxxxxxxxxxxxxxxx", A64Kind.LdStImm9),
        ("xx111x00xx1" + "xxxxxxxxx" + "10" + "xxxxxxxxxx", A64Kind.LdStRegOffset),
        ("xx111000xx1" + "xxxxxxxxx" + "00" + "xxxxxxxxxx", A64Kind.AtomicMemOp),
        ("0x0011000x000000xxxxxxxxxxxxxxxx", A64Kind.SimdLdStMulti),   // no offset
        ("0x0011001x0xxxxxxxxxxxxxxxxxxxxx", A64Kind.SimdLdStMulti),   // post-index
        ("0x0011010xx00000xxxxxxxxxxxxxxxx", A64Kind.SimdLdStSingle),  // no offset
        ("0x0011011xxxxxxxxxxxxxxxxxxxxxxx", A64Kind.SimdLdStSingle),  // post-index
        // ---- Data processing, register (op0 = x101)
        ("xxx01010xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.LogicalReg),
        ("xxx01011xx0xxxxxxxxxxxxxxxxxxxxx", A64Kind.AddSubShifted),
        ("xxx01011001xxxxxxxxxxxxxxxxxxxxx", A64Kind.AddSubExtended),
        ("xxx11010000xxxxx000000xxxxxxxxxx", A64Kind.AdcSbc),
        ("xx111010010xxxxxxxxxx0xxxxx0xxxx", A64Kind.CondCompare),
        ("xx011010100xxxxxxxxx0xxxxxxxxxxx", A64Kind.CondSelect),
        ("x101101011000000xxxxxxxxxxxxxxxx", A64Kind.DataProc1),
        ("x0011010110xxxxxxxxxxxxxxxxxxxxx", A64Kind.DataProc2),
        ("xxx11011xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.DataProc3),
        // ---- FP and AdvSIMD (op0 = x111)
        ("x0x11110xx1xxxxxxxxxxxxxxxxxxxxx", A64Kind.FpDataProc),
        ("x0x11111xxxxxxxxxxxxxxxxxxxxxxxx", A64Kind.FpMadd),
        ("0xx0111100000xxxxxxxx1xxxxxxxxxx", A64Kind.SimdModImm),
        ("0xx011110xxxxxxxxxxxx1xxxxxxxxxx", A64Kind.SimdShiftImm),
        ("0xx01110000xxxxx0xxxx1xxxxxxxxxx", A64Kind.SimdCopy),
        ("0x101110000xxxxx0xxxx0xxxxxxxxxx", A64Kind.SimdExt),
        ("0xx01110xx10000xxxxx10xxxxxxxxxx", A64Kind.SimdTwoMisc),
        ("0xx01110xx11000xxxxx10xxxxxxxxxx", A64Kind.SimdAcross),
        ("0xx01110xx1xxxxxxxxxx1xxxxxxxxxx", A64Kind.SimdThreeSame),
    ];

    private readonly struct Entry(uint mask, uint value, A64Kind kind)
    {
        public readonly uint Mask = mask, Value = value;
        public readonly A64Kind Kind = kind;
    }

    private static readonly Entry[][] Buckets = Compile();

    private static Entry[][] Compile()
    {
        var lists = new List<Entry>[16];
        for (int i = 0; i < 16; i++) lists[i] = [];
        foreach (var (pattern, kind) in Table)
        {
            if (pattern.Length != 32) throw new InvalidOperationException($"bad pattern {pattern}");
            uint mask = 0, value = 0;
            for (int i = 0; i < 32; i++)
            {
                int bit = 31 - i;
                if (pattern[i] == '0') mask |= 1u << bit;
                else if (pattern[i] == '1') { mask |= 1u << bit; value |= 1u << bit; }
            }
            // The pattern belongs to every bucket its bits [28:25] can take.
            for (uint b = 0; b < 16; b++)
            {
                uint m = (mask >> 25) & 0xF, v = (value >> 25) & 0xF;
                if ((b & m) == v) lists[b].Add(new Entry(mask, value, kind));
            }
        }
        var buckets = new Entry[16][];
        for (int i = 0; i < 16; i++) buckets[i] = [.. lists[i]];
        return buckets;
    }

    /// <summary>The kind of <paramref name="word"/> (table lookup only).</summary>
    public static A64Kind Classify(uint word)
    {
        foreach (ref readonly var e in Buckets[(word >> 25) & 0xF].AsSpan())
            if ((word & e.Mask) == e.Value) return e.Kind;
        return A64Kind.Undefined;
    }

    public static void Decode(uint word, out A64Inst inst)
    {
        inst = default;
        inst.Raw = word;
        inst.Kind = Classify(word);
        inst.Rd = (byte)(word & 31);
        inst.Rn = (byte)((word >> 5) & 31);
        inst.Rm = (byte)((word >> 16) & 31);
        inst.Ra = (byte)((word >> 10) & 31);
        inst.Size = (byte)(word >> 31);
        if (!Finish(ref inst)) { inst.Kind = A64Kind.Undefined; }
    }

    private static long SignExtend(ulong v, int bits) => (long)(v << (64 - bits)) >> (64 - bits);

    private static bool Finish(ref A64Inst d)
    {
        uint w = d.Raw;
        switch (d.Kind)
        {
            case A64Kind.Adr:
                d.Imm = SignExtend(((w >> 5) & 0x7FFFF) << 2 | ((w >> 29) & 3), 21);
                return true;
            case A64Kind.Adrp:
                d.Imm = SignExtend(((w >> 5) & 0x7FFFF) << 2 | ((w >> 29) & 3), 21) << 12;
                return true;
            case A64Kind.AddSubImm:
                if (((w >> 23) & 1) != 0) return false; // tagged forms (MTE) not implemented
                d.Imm = ((w >> 10) & 0xFFF) << (((w >> 22) & 1) != 0 ? 12 : 0);
                return true;
            case A64Kind.LogicalImm:
            {
                uint n = (w >> 22) & 1;
                if (d.Size == 0 && n != 0) return false;
                if (!DecodeBitMasks(n, (w >> 10) & 63, (w >> 16) & 63, true, d.Size != 0 ? 64 : 32, out ulong wmask, out _)) return false;
                d.Imm = (long)wmask;
                return true;
            }
            case A64Kind.MoveWide:
            {
                uint opc = (w >> 29) & 3, hw = (w >> 21) & 3;
                if (opc == 1 || (d.Size == 0 && hw >= 2)) return false;
                d.Op = (byte)opc; // 0 movn, 2 movz, 3 movk
                d.Imm = (long)((ulong)((w >> 5) & 0xFFFF));
                d.Imm2 = hw * 16;
                return true;
            }
            case A64Kind.Bitfield:
            {
                uint opc = (w >> 29) & 3, n = (w >> 22) & 1;
                if (opc == 3 || n != d.Size) return false;
                uint immr = (w >> 16) & 63, imms = (w >> 10) & 63;
                if (d.Size == 0 && (immr >= 32 || imms >= 32)) return false;
                if (!DecodeBitMasks(n, imms, immr, false, d.Size != 0 ? 64 : 32, out ulong wmask, out ulong tmask)) return false;
                d.Op = (byte)opc; // 0 sbfm, 1 bfm, 2 ubfm
                d.Imm = (long)wmask;
                d.Imm2 = tmask;
                return true;
            }
            case A64Kind.Extr:
            {
                uint n = (w >> 22) & 1, imms = (w >> 10) & 63;
                if (n != d.Size || (d.Size == 0 && imms >= 32)) return false;
                d.Imm = imms;
                return true;
            }
            case A64Kind.B:
                d.Imm = SignExtend(w & 0x3FFFFFF, 26) << 2;
                if ((w >> 31) != 0) d.Kind = A64Kind.Bl;
                return true;
            case A64Kind.BCond:
            case A64Kind.Cbz:
                d.Imm = SignExtend((w >> 5) & 0x7FFFF, 19) << 2;
                d.Op = (byte)(d.Kind == A64Kind.BCond ? (w & 15) : ((w >> 24) & 1));
                return true;
            case A64Kind.Tbz:
                d.Imm = SignExtend((w >> 5) & 0x3FFF, 14) << 2;
                d.Imm2 = ((w >> 31) << 5) | ((w >> 19) & 31);
                d.Op = (byte)((w >> 24) & 1);
                return true;
            case A64Kind.Svc: case A64Kind.Hvc: case A64Kind.Smc: case A64Kind.Brk:
                d.Imm = (w >> 5) & 0xFFFF;
                return true;
            case A64Kind.LdrLiteral:
            {
                uint opc = (w >> 30) & 3, v = (w >> 26) & 1;
                d.Imm = SignExtend((w >> 5) & 0x7FFFF, 19) << 2;
                if (v != 0)
                {
                    if (opc == 3) return false;
                    d.Size = (byte)(2 + opc); d.Op = LsLoad | LsVector;
                }
                else
                {
                    (d.Size, d.Op) = opc switch { 0 => ((byte)2, LsLoad), 1 => ((byte)3, LsLoad), 2 => ((byte)2, LsLoadSigned64), _ => ((byte)3, LsPrefetch) };
                }
                return true;
            }
            case A64Kind.LdStPair:
            {
                uint opc = (w >> 30) & 3, v = (w >> 26) & 1, l = (w >> 22) & 1;
                d.Op = (byte)((w >> 23) & 3); // 0 non-temporal offset, 1 post, 2 offset, 3 pre
                if (v != 0)
                {
                    if (opc == 3) return false;
                    d.Size = (byte)(2 + opc);
                    d.Imm2 = l | 8u;
                }
                else
                {
                    if (opc == 3 || (opc == 1 && l == 0)) return false;
                    if (opc == 1 && d.Op == 0) return false; // ldnp has no signed form
                    d.Size = (byte)(opc == 2 ? 3 : 2);
                    d.Imm2 = opc == 1 ? LsLoadSigned64 : l;
                }
                d.Imm = SignExtend((w >> 15) & 0x7F, 7) << d.Size;
                return true;
            }
            case A64Kind.LdStUnsignedImm:
            case A64Kind.LdStImm9:
            case A64Kind.LdStRegOffset:
            {
                if (!LoadStoreOp(w, out byte size, out byte op)) return false;
                d.Size = size; d.Op = op;
                if (d.Kind == A64Kind.LdStUnsignedImm) d.Imm = (long)(((w >> 10) & 0xFFF) << size);
                else if (d.Kind == A64Kind.LdStImm9)
                {
                    d.Imm = SignExtend((w >> 12) & 0x1FF, 9);
                    d.Imm2 = (w >> 10) & 3; // 0 unscaled, 1 post, 2 unprivileged, 3 pre
                    if (d.Imm2 == 2 && (op & LsVector) != 0) return false;
                }
                else
                {
                    uint option = (w >> 13) & 7;
                    if ((option & 2) == 0) return false;
                    d.Imm2 = ((w >> 12) & 1) != 0 ? size : 0u;
                }
                return true;
            }
            case A64Kind.LdStExclusive:
                d.Size = (byte)(w >> 30);
                return true;
            case A64Kind.SimdLdStMulti:
                // LD1/ST1 with 1-4 consecutive registers: Op = the count; 0 = the interleaving
                // LD2/LD3/LD4/ST2/ST3/ST4 forms, which are not implemented (they stop Run).
                d.Op = ((w >> 12) & 15) switch { 7 => 1, 10 => 2, 6 => 3, 2 => 4, 0 or 4 or 8 => 0, _ => 255 };
                if (d.Op == 255) return false;
                if (d.Op == 0 && ((w >> 10) & 3) == 3 && ((w >> 30) & 1) == 0) return false; // .1d with 2-4 structures
                return true;
            case A64Kind.SimdLdStSingle:
            {
                // Op 1: one lane (LD1/ST1 single structure), Size = log2 element bytes, Imm2 = lane;
                // Op 2: LD1R; Op 0: the 2-4 element forms (LD2…LD4, LD2R…LD4R), not implemented.
                uint l = (w >> 22) & 1, r = (w >> 21) & 1, opcode = (w >> 13) & 7, s = (w >> 12) & 1, size = (w >> 10) & 3, q = (w >> 30) & 1;
                if (opcode >= 6)
                {
                    if (l == 0 || s != 0) return false;
                    d.Op = (byte)(r == 0 && opcode == 6 ? 2 : 0);
                    d.Size = (byte)size;
                    return true;
                }
                switch (opcode >> 1)
                {
                    case 0: d.Size = 0; d.Imm2 = q << 3 | s << 2 | size; break;
                    case 1:
                        if ((size & 1) != 0) return false;
                        d.Size = 1; d.Imm2 = q << 2 | s << 1 | size >> 1;
                        break;
                    default:
                        if (size == 0) { d.Size = 2; d.Imm2 = q << 1 | s; }
                        else if (size == 1 && s == 0) { d.Size = 3; d.Imm2 = q; }
                        else return false;
                        break;
                }
                d.Op = (byte)(r == 0 && (opcode & 1) == 0 ? 1 : 0);
                return true;
            }
            case A64Kind.AtomicMemOp:
                d.Size = (byte)(w >> 30);
                d.Op = (byte)(((w >> 15) & 1) << 3 | ((w >> 12) & 7)); // o3:opc
                return d.Op <= 8;
            case A64Kind.LogicalReg:
                if (d.Size == 0 && ((w >> 15) & 1) != 0) return false;
                d.Imm = (w >> 10) & 63;
                return true;
            case A64Kind.AddSubShifted:
                if (((w >> 22) & 3) == 3 || (d.Size == 0 && ((w >> 15) & 1) != 0)) return false;
                d.Imm = (w >> 10) & 63;
                return true;
            case A64Kind.AddSubExtended:
                d.Imm = (w >> 10) & 7;
                return d.Imm <= 4;
            case A64Kind.CondCompare:
                return ((w >> 29) & 1) != 0;
            case A64Kind.CondSelect:
                return ((w >> 29) & 1) == 0;
            case A64Kind.DataProc1:
                d.Op = (byte)((w >> 10) & 63);
                return d.Op <= 5 && (d.Op != 3 || d.Size == 1);
            case A64Kind.DataProc2:
                d.Op = (byte)((w >> 10) & 63);
                return d.Op is 2 or 3 or 8 or 9 or 10 or 11;
            case A64Kind.DataProc3:
            {
                uint op54 = (w >> 29) & 3, op31 = (w >> 21) & 7, o0 = (w >> 15) & 1;
                if (op54 != 0) return false;
                d.Op = (byte)(op31 << 1 | o0);
                if (op31 != 0 && d.Size == 0) return false;
                return op31 is 0 or 1 or 5 || ((op31 is 2 or 6) && o0 == 0);
            }
            default:
                return true;
        }
    }

    /// <summary>Size (log2 bytes) and operation of the single-register load/store classes.</summary>
    private static bool LoadStoreOp(uint w, out byte size, out byte op)
    {
        uint sz = w >> 30, v = (w >> 26) & 1, opc = (w >> 22) & 3;
        if (v != 0)
        {
            uint s = ((opc >> 1) << 2) | sz;
            if (s > 4) { size = 0; op = 0; return false; }
            size = (byte)s;
            op = (byte)(LsVector | (opc & 1));
            return true;
        }
        size = (byte)sz;
        if (opc == 0) { op = LsStore; return true; }
        if (opc == 1) { op = LsLoad; return true; }
        if (sz == 3) { op = LsPrefetch; return opc == 2; }
        if (opc == 2) { op = LsLoadSigned64; return true; }
        op = LsLoadSigned32;
        return sz != 2;
    }

    /// <summary>The architecture's DecodeBitMasks (logical immediates and bitfield masks).</summary>
    public static bool DecodeBitMasks(uint n, uint imms, uint immr, bool immediate, int dataSize, out ulong wmask, out ulong tmask)
    {
        wmask = tmask = 0;
        uint combined = (n << 6) | (~imms & 63);
        if (combined == 0) return false;
        int len = 31 - BitOperations.LeadingZeroCount(combined);
        if (len < 1) return false;
        uint levels = (1u << len) - 1;
        if (immediate && (imms & levels) == levels) return false;
        int esize = 1 << len;
        if (esize > dataSize) return false;
        uint s = imms & levels, r = immr & levels;
        int diff = (int)s - (int)r;
        int dd = diff & (esize - 1);
        ulong welem = Ones((int)s + 1), telem = Ones(dd + 1);
        ulong emask = Ones(esize);
        ulong rotated = r == 0 ? welem : ((welem >> (int)r) | (welem << (esize - (int)r))) & emask;
        wmask = Replicate(rotated, esize, dataSize);
        tmask = Replicate(telem, esize, dataSize);
        return true;
    }

    private static ulong Ones(int n) => n >= 64 ? ulong.MaxValue : (1UL << n) - 1;

    private static ulong Replicate(ulong v, int esize, int dataSize)
    {
        ulong r = 0;
        for (int i = 0; i < dataSize; i += esize) r |= v << i;
        return r;
    }
}
