using System.Numerics;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>FP/AdvSIMD instruction semantics (the subset listed on <c>Arm64Cpu.Simd.cs</c>); anything else stops Run as Unsupported.</summary>
public sealed partial class Arm64Cpu
{
    private CpuAbort SimdUnsupported(ref A64Inst d) => Unsupported($"FP/SIMD instruction 0x{d.Raw:x8} at 0x{_instrPc:x}");

    private void ExecFpDataProc(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw;
        uint type = (w >> 22) & 3;
        bool sf = (w >> 31) != 0;
        if (((w >> 10) & 0x3F) == 0) // conversions between FP and integer
        {
            uint rmode = (w >> 19) & 3, opcode = (w >> 16) & 7;
            if (rmode == 0 && opcode == 6 || rmode == 1 && opcode == 6 && type == 2) // FMOV to general
            {
                ulong v = type == 2 ? _vhi[d.Rn] : _vlo[d.Rn];
                SetXr(d.Rd, type == 0 ? (uint)v : v);
                return;
            }
            if (rmode == 0 && opcode == 7) { ulong x = X(d.Rn); SetVScalar(d.Rd, type == 0 ? (uint)x : x); return; }
            if (rmode == 1 && opcode == 7 && type == 2) { _vhi[d.Rd] = X(d.Rn); return; }
            if (rmode == 0 && (opcode == 2 || opcode == 3)) // SCVTF / UCVTF
            {
                ulong x = X(d.Rn);
                double v = opcode == 2 ? (sf ? (double)(long)x : (int)x) : (sf ? (double)x : (uint)x);
                if (type == 0) SetVScalar(d.Rd, opcode == 2 ? BitConverter.SingleToUInt32Bits(sf ? (float)(long)x : (float)(int)x)
                                                          : BitConverter.SingleToUInt32Bits(sf ? (float)x : (float)(uint)x));
                else if (type == 1) SetVScalar(d.Rd, BitConverter.DoubleToUInt64Bits(v));
                else throw SimdUnsupported(ref d);
                return;
            }
            if (rmode == 3 && (opcode == 0 || opcode == 1)) // FCVTZS / FCVTZU
            {
                double v = type == 0 ? BitConverter.UInt32BitsToSingle((uint)_vlo[d.Rn]) : type == 1 ? BitConverter.UInt64BitsToDouble(_vlo[d.Rn]) : throw SimdUnsupported(ref d);
                ulong r;
                if (opcode == 0) r = sf ? (ulong)(double.IsNaN(v) ? 0 : v >= 9.2233720368547758E18 ? long.MaxValue : v <= -9.2233720368547758E18 ? long.MinValue : (long)v)
                                         : (uint)(double.IsNaN(v) ? 0 : v >= int.MaxValue ? int.MaxValue : v <= int.MinValue ? int.MinValue : (int)v);
                else r = sf ? (double.IsNaN(v) || v <= 0 ? 0 : v >= 1.8446744073709552E19 ? ulong.MaxValue : (ulong)v)
                            : (double.IsNaN(v) || v <= 0 ? 0 : v >= uint.MaxValue ? uint.MaxValue : (uint)v);
                SetXr(d.Rd, r);
                return;
            }
            throw SimdUnsupported(ref d);
        }
        if (type > 1) throw SimdUnsupported(ref d);
        bool dbl = type == 1;
        double a = dbl ? BitConverter.UInt64BitsToDouble(_vlo[d.Rn]) : BitConverter.UInt32BitsToSingle((uint)_vlo[d.Rn]);
        double b = dbl ? BitConverter.UInt64BitsToDouble(_vlo[d.Rm]) : BitConverter.UInt32BitsToSingle((uint)_vlo[d.Rm]);
        if (((w >> 10) & 3) == 2) // two-source
        {
            uint op = (w >> 12) & 15;
            double r = op switch
            {
                0 => a * b, 1 => a / b, 2 => a + b, 3 => a - b,
                4 => Math.Max(a, b), 5 => Math.Min(a, b), 6 => double.MaxNumber(a, b), 7 => double.MinNumber(a, b),
                8 => -(a * b),
                _ => throw SimdUnsupported(ref d),
            };
            if (!dbl) r = (float)(dbl ? r : op switch { 0 => (float)a * (float)b, 1 => (float)a / (float)b, 2 => (float)a + (float)b, 3 => (float)a - (float)b, 8 => -((float)a * (float)b), _ => r });
            SetFp(d.Rd, dbl, r);
            return;
        }
        if (((w >> 10) & 0x1F) == 0x10) // one-source: bits 14:10 = 10000
        {
            uint op = (w >> 15) & 0x3F;
            switch (op)
            {
                case 0: SetVScalar(d.Rd, dbl ? _vlo[d.Rn] : (uint)_vlo[d.Rn]); return;
                case 1: SetFp(d.Rd, dbl, Math.Abs(a)); return;
                case 2: SetFp(d.Rd, dbl, -a); return;
                case 3: SetFp(d.Rd, dbl, dbl ? Math.Sqrt(a) : MathF.Sqrt((float)a)); return;
                case 4: SetFp(d.Rd, false, a); return;  // FCVT to single
                case 5: SetFp(d.Rd, true, a); return;   // FCVT to double
            }
            throw SimdUnsupported(ref d);
        }
        if (((w >> 10) & 0xF) == 8 && ((w >> 14) & 3) == 0) // FCMP / FCMPE
        {
            if ((w & 8) != 0) b = 0;
            _nzcv = double.IsNaN(a) || double.IsNaN(b) ? 0x3000_0000u : a == b ? 0x6000_0000u : a < b ? 0x8000_0000u : 0x2000_0000u;
            return;
        }
        if (((w >> 10) & 3) == 3) // FCSEL
        {
            SetVScalar(d.Rd, ConditionHolds((int)(w >> 12) & 15) ? _vlo[d.Rn] & (dbl ? ulong.MaxValue : 0xFFFF_FFFF) : _vlo[d.Rm] & (dbl ? ulong.MaxValue : 0xFFFF_FFFF));
            return;
        }
        if (((w >> 10) & 7) == 4) // FMOV immediate
        {
            uint imm8 = (w >> 13) & 0xFF;
            double v = (imm8 & 0x80) != 0 ? -1 : 1;
            int exp = (int)((imm8 >> 4) & 7);
            exp = (exp & 4) != 0 ? exp - 8 : exp;
            v *= (16 + (imm8 & 15)) / 16.0 * Math.Pow(2, exp + 1);
            SetFp(d.Rd, dbl, v);
            return;
        }
        throw SimdUnsupported(ref d);
    }

    private void SetFp(int rd, bool dbl, double v) =>
        SetVScalar(rd, dbl ? BitConverter.DoubleToUInt64Bits(v) : BitConverter.SingleToUInt32Bits((float)v));

    private void ExecFpMadd(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, type = (w >> 22) & 3;
        if (type > 1) throw SimdUnsupported(ref d);
        bool dbl = type == 1;
        double Get(int r) => dbl ? BitConverter.UInt64BitsToDouble(_vlo[r]) : BitConverter.UInt32BitsToSingle((uint)_vlo[r]);
        double n = Get(d.Rn), m = Get(d.Rm), a = Get(d.Ra);
        bool o1 = ((w >> 21) & 1) != 0, o0 = ((w >> 15) & 1) != 0;
        if (o0) n = -n;     // FMSUB / FNMADD negate the product
        if (o1) a = -a;     // FNMADD / FNMSUB negate the addend
        SetFp(d.Rd, dbl, dbl ? Math.FusedMultiplyAdd(n, m, a) : MathF.FusedMultiplyAdd((float)n, (float)m, (float)a));
    }

    private void ExecSimdModImm(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, cmode = (w >> 12) & 15, op = (w >> 29) & 1;
        bool q = ((w >> 30) & 1) != 0;
        ulong imm8 = ((w >> 11) & 0xE0) | ((w >> 5) & 0x1F);
        ulong imm;
        if (cmode == 14 && op == 0) imm = imm8 * 0x0101_0101_0101_0101UL;
        else if (cmode == 14 && op == 1)
        {
            imm = 0;
            for (int i = 0; i < 8; i++) if (((imm8 >> i) & 1) != 0) imm |= 0xFFUL << (8 * i);
        }
        else if ((cmode & 9) == 0) { imm = (imm8 << (8 * (int)(cmode >> 1))) * 0x1_0000_0001UL; if (op == 1) imm = ~imm; } // MOVI/MVNI 32-bit shifted
        else if ((cmode & 13) == 8) { imm = (imm8 << (8 * (int)((cmode >> 1) & 1))) * 0x0001_0001_0001_0001UL; if (op == 1) imm = ~imm; }
        else throw SimdUnsupported(ref d);
        _vlo[d.Rd] = imm; _vhi[d.Rd] = q ? imm : 0;
    }

    private void ExecSimdCopy(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, imm5 = (w >> 16) & 31, imm4 = (w >> 11) & 15, op = (w >> 29) & 1;
        bool q = ((w >> 30) & 1) != 0;
        int size = BitOperations.TrailingZeroCount(imm5 | 32);
        if (size > 3) throw SimdUnsupported(ref d);
        int esize = 8 << size, index = (int)(imm5 >> (size + 1));
        if (op == 0 && imm4 == 1) // DUP (general)
        {
            ulong v = X(d.Rn) & ElemMask(esize), lo = 0;
            for (int i = 0; i < 64; i += esize) lo |= v << i;
            _vlo[d.Rd] = lo; _vhi[d.Rd] = q ? lo : 0;
        }
        else if (op == 0 && imm4 == 0) // DUP (element)
        {
            ulong v = GetElem(d.Rn, index, esize), lo = 0;
            for (int i = 0; i < 64; i += esize) lo |= v << i;
            _vlo[d.Rd] = lo; _vhi[d.Rd] = q ? lo : 0;
        }
        else if (op == 0 && imm4 == 3) // INS (general)
        {
            ulong lo = _vlo[d.Rd], hi = _vhi[d.Rd];
            SetElem(ref lo, ref hi, index, esize, X(d.Rn));
            _vlo[d.Rd] = lo; _vhi[d.Rd] = hi;
        }
        else if (op == 0 && (imm4 == 7 || imm4 == 5)) // UMOV / SMOV
        {
            ulong v = GetElem(d.Rn, index, esize);
            if (imm4 == 5) { int sh = 64 - esize; v = (ulong)((long)(v << sh) >> sh); if (!q) v = (uint)v; }
            SetXr(d.Rd, v);
        }
        else if (op == 1) // INS (element)
        {
            ulong lo = _vlo[d.Rd], hi = _vhi[d.Rd];
            SetElem(ref lo, ref hi, index, esize, GetElem(d.Rn, (int)(imm4 >> size), esize));
            _vlo[d.Rd] = lo; _vhi[d.Rd] = hi;
        }
        else throw SimdUnsupported(ref d);
    }

    private void ExecSimdThreeSame(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, opcode = (w >> 11) & 31, u = (w >> 29) & 1, size = (w >> 22) & 3;
        bool q = ((w >> 30) & 1) != 0;
        ulong nl = _vlo[d.Rn], nh = _vhi[d.Rn], ml = _vlo[d.Rm], mh = _vhi[d.Rm], rl, rh;
        if (opcode == 3) // logical
        {
            if (u == 0)
            {
                switch (size)
                {
                    case 0: rl = nl & ml; rh = nh & mh; break;
                    case 1: rl = nl & ~ml; rh = nh & ~mh; break;
                    case 2: rl = nl | ml; rh = nh | mh; break;
                    default: rl = nl | ~ml; rh = nh | ~mh; break;
                }
            }
            else
            {
                ulong dl = _vlo[d.Rd], dh = _vhi[d.Rd];
                switch (size)
                {
                    case 0: rl = nl ^ ml; rh = nh ^ mh; break;
                    case 1: rl = (dl & nl) | (~dl & ml); rh = (dh & nh) | (~dh & mh); break;       // BSL
                    case 2: rl = (dl & ~ml) | (nl & ml); rh = (dh & ~mh) | (nh & mh); break;      // BIT
                    default: rl = (dl & ml) | (nl & ~ml); rh = (dh & mh) | (nh & ~mh); break;     // BIF
                }
            }
        }
        else
        {
            int esize = 8 << (int)size;
            rl = rh = 0;
            int lanes = (q ? 128 : 64) / esize;
            for (int i = 0; i < lanes; i++)
            {
                ulong a = GetElem(d.Rn, i, esize), b = GetElem(d.Rm, i, esize), r;
                int sh = 64 - esize;
                long sa = (long)(a << sh) >> sh, sb = (long)(b << sh) >> sh;
                r = (opcode, u) switch
                {
                    (16, 0) => a + b,
                    (16, 1) => a - b,
                    (17, 1) => a == b ? ulong.MaxValue : 0,          // CMEQ
                    (17, 0) => (a & b) != 0 ? ulong.MaxValue : 0,     // CMTST
                    (6, 0) => sa > sb ? ulong.MaxValue : 0,           // CMGT
                    (6, 1) => a > b ? ulong.MaxValue : 0,             // CMHI
                    (7, 0) => sa >= sb ? ulong.MaxValue : 0,          // CMGE
                    (7, 1) => a >= b ? ulong.MaxValue : 0,            // CMHS
                    (13, 1) => Math.Max(a, b),                        // UMAX
                    (13, 0) => (ulong)Math.Max(sa, sb),               // SMAX
                    (15, 1) => Math.Min(a, b),                        // UMIN
                    (15, 0) => (ulong)Math.Min(sa, sb),               // SMIN
                    (19, 0) => a * b,                                 // MUL
                    _ => throw SimdUnsupported(ref d),
                };
                SetElem(ref rl, ref rh, i, esize, r);
            }
        }
        _vlo[d.Rd] = rl; _vhi[d.Rd] = q ? rh : 0;
    }

    private void ExecSimdTwoMisc(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, opcode = (w >> 12) & 31, u = (w >> 29) & 1, size = (w >> 22) & 3;
        bool q = ((w >> 30) & 1) != 0;
        ulong rl = 0, rh = 0;
        int esize = 8 << (int)size, lanes = (q ? 128 : 64) / esize;
        if (opcode == 5 && size == 0)
        {
            if (u == 1) { rl = ~_vlo[d.Rn]; rh = ~_vhi[d.Rn]; } // NOT
            else for (int i = 0; i < lanes; i++) SetElem(ref rl, ref rh, i, 8, (ulong)BitOperations.PopCount(GetElem(d.Rn, i, 8))); // CNT
        }
        else
        {
            for (int i = 0; i < lanes; i++)
            {
                ulong a = GetElem(d.Rn, i, esize);
                int sh = 64 - esize;
                long sa = (long)(a << sh) >> sh;
                ulong r = (opcode, u) switch
                {
                    (9, 0) => sa > 0 ? ulong.MaxValue : 0,   // CMGT #0
                    (9, 1) => sa == 0 ? ulong.MaxValue : 0,  // CMEQ... (U=1 opcode 9 is CMLE #0)
                    (11, 0) => (ulong)Math.Abs(sa),          // ABS
                    (11, 1) => (ulong)(-sa),                 // NEG
                    _ => throw SimdUnsupported(ref d),
                };
                if (opcode == 9 && u == 1) r = sa <= 0 ? ulong.MaxValue : 0;
                SetElem(ref rl, ref rh, i, esize, r);
            }
        }
        _vlo[d.Rd] = rl; _vhi[d.Rd] = q ? rh : 0;
    }

    private void ExecSimdAcross(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, opcode = (w >> 12) & 31, u = (w >> 29) & 1, size = (w >> 22) & 3;
        bool q = ((w >> 30) & 1) != 0;
        int esize = 8 << (int)size, lanes = (q ? 128 : 64) / esize;
        ulong acc = GetElem(d.Rn, 0, esize);
        for (int i = 1; i < lanes; i++)
        {
            ulong e = GetElem(d.Rn, i, esize);
            acc = (opcode, u) switch
            {
                (27, 0) => acc + e,                 // ADDV
                (10, 1) => Math.Max(acc, e),        // UMAXV
                (26, 1) => Math.Min(acc, e),        // UMINV
                _ => throw SimdUnsupported(ref d),
            };
        }
        if (lanes == 1 || !((opcode, u) is (27, 0) or (10, 1) or (26, 1))) throw SimdUnsupported(ref d);
        SetVScalar(d.Rd, acc & ElemMask(esize));
    }

    private void ExecSimdShiftImm(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, immh = (w >> 19) & 15, immb = (w >> 16) & 7, opcode = (w >> 11) & 31, u = (w >> 29) & 1;
        bool q = ((w >> 30) & 1) != 0;
        int hsb = 31 - BitOperations.LeadingZeroCount(immh);
        int esize = 8 << hsb, lanes = (q ? 128 : 64) / esize;
        int immhb = (int)(immh << 3 | immb);
        ulong rl = 0, rh = 0;
        if (opcode == 0 || opcode == 10)
        {
            int shift = opcode == 0 ? 2 * esize - immhb : immhb - esize;
            for (int i = 0; i < lanes; i++)
            {
                ulong a = GetElem(d.Rn, i, esize);
                int sh = 64 - esize;
                ulong r = opcode == 10 ? a << shift
                        : u == 1 ? (shift >= esize ? 0 : a >> shift)
                        : (ulong)(((long)(a << sh) >> sh) >> Math.Min(shift, 63));
                SetElem(ref rl, ref rh, i, esize, r);
            }
            _vlo[d.Rd] = rl; _vhi[d.Rd] = q ? rh : 0;
            return;
        }
        if (opcode == 20 && esize < 64) // SSHLL / USHLL (UXTL, SXTL)
        {
            int shift = immhb - esize;
            int part = q ? 1 : 0;
            for (int i = 0; i < 64 / esize; i++)
            {
                ulong a = GetElem(d.Rn, part * (64 / esize) + i, esize);
                int sh = 64 - esize;
                ulong r = (u == 1 ? a : (ulong)((long)(a << sh) >> sh)) << shift;
                SetElem(ref rl, ref rh, i, esize * 2, r);
            }
            _vlo[d.Rd] = rl; _vhi[d.Rd] = rh;
            return;
        }
        throw SimdUnsupported(ref d);
    }

    private void ExecSimdExt(ref A64Inst d)
    {
        CheckFpEnabled();
        uint w = d.Raw, imm4 = (w >> 11) & 15;
        bool q = ((w >> 30) & 1) != 0;
        int bytes = q ? 16 : 8;
        Span<byte> src = stackalloc byte[32];
        BitConverter.TryWriteBytes(src, _vlo[d.Rn]); BitConverter.TryWriteBytes(src[8..], _vhi[d.Rn]);
        Span<byte> m = stackalloc byte[16];
        BitConverter.TryWriteBytes(m, _vlo[d.Rm]); BitConverter.TryWriteBytes(m[8..], _vhi[d.Rm]);
        m[..bytes].CopyTo(src[bytes..]);
        ulong lo = BitConverter.ToUInt64(src[(int)imm4..]), hi = q ? BitConverter.ToUInt64(src[((int)imm4 + 8)..]) : 0;
        _vlo[d.Rd] = lo; _vhi[d.Rd] = hi;
    }
}
