using System.Numerics;
using System.Runtime.CompilerServices;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>Base integer data processing: arithmetic with flags, logical, moves, bitfields, shifts, multiply/divide, bit ops, conditional ops.</summary>
public sealed partial class Arm64Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ConditionHolds(int cond) => CondHolds(_nzcv, cond);

    /// <summary>AddWithCarry on 64 or 32 bits; sets NZCV when <paramref name="setFlags"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AddWithCarry(bool is64, ulong x, ulong y, ulong carry, bool setFlags)
    {
        if (is64)
        {
            ulong r = x + y + carry;
            if (setFlags)
            {
                ulong c = ((x & y) | ((x | y) & ~r)) >> 63;
                ulong v = ((x ^ r) & (y ^ r)) >> 63;
                _nzcv = (uint)((r >> 63) << 31) | (r == 0 ? 1u << 30 : 0) | (uint)(c << 29) | (uint)(v << 28);
            }
            return r;
        }
        else
        {
            uint xs = (uint)x, ys = (uint)y;
            ulong sum = (ulong)xs + ys + carry;
            uint r = (uint)sum;
            if (setFlags)
            {
                uint v = ((xs ^ r) & (ys ^ r)) >> 31;
                _nzcv = ((r >> 31) << 31) | (r == 0 ? 1u << 30 : 0) | (uint)((sum >> 32) << 29) | (v << 28);
            }
            return r;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLogicFlags(bool is64, ulong r)
    {
        bool neg = is64 ? (long)r < 0 : (int)(uint)r < 0;
        bool zero = is64 ? r == 0 : (uint)r == 0;
        _nzcv = (neg ? 1u << 31 : 0) | (zero ? 1u << 30 : 0);
    }

    private static ulong ShiftReg(ulong v, int type, int amount, bool is64)
    {
        if (is64)
        {
            return type switch
            {
                0 => v << amount,
                1 => v >> amount,
                2 => (ulong)((long)v >> amount),
                _ => BitOperations.RotateRight(v, amount),
            };
        }
        uint w = (uint)v;
        return type switch
        {
            0 => w << amount,
            1 => w >> amount,
            2 => (uint)((int)w >> amount),
            _ => BitOperations.RotateRight(w, amount),
        };
    }

    private ulong ExtendReg(int m, int option, int shift)
    {
        ulong v = X(m);
        v = option switch
        {
            0 => (byte)v,
            1 => (ushort)v,
            2 => (uint)v,
            3 => v,
            4 => (ulong)(long)(sbyte)v,
            5 => (ulong)(long)(short)v,
            6 => (ulong)(long)(int)v,
            _ => v,
        };
        return v << shift;
    }

    private void ExecAddSubImm(ref A64Inst d)
    {
        bool is64 = d.Size != 0, sub = ((d.Raw >> 30) & 1) != 0, s = ((d.Raw >> 29) & 1) != 0;
        ulong x = XSp(d.Rn), y = (ulong)d.Imm;
        ulong r = sub ? AddWithCarry(is64, x, ~y, 1, s) : AddWithCarry(is64, x, y, 0, s);
        if (!is64) r = (uint)r;
        if (s) SetXr(d.Rd, r); else SetXSp(d.Rd, r);
    }

    private void ExecAddSubShifted(ref A64Inst d)
    {
        bool is64 = d.Size != 0, sub = ((d.Raw >> 30) & 1) != 0, s = ((d.Raw >> 29) & 1) != 0;
        ulong y = ShiftReg(X(d.Rm), (int)(d.Raw >> 22) & 3, (int)d.Imm, is64);
        ulong x = X(d.Rn);
        ulong r = sub ? AddWithCarry(is64, x, ~y, 1, s) : AddWithCarry(is64, x, y, 0, s);
        SetXr(d.Rd, is64 ? r : (uint)r);
    }

    private void ExecAddSubExtended(ref A64Inst d)
    {
        bool is64 = d.Size != 0, sub = ((d.Raw >> 30) & 1) != 0, s = ((d.Raw >> 29) & 1) != 0;
        ulong y = ExtendReg(d.Rm, (int)(d.Raw >> 13) & 7, (int)d.Imm);
        ulong x = XSp(d.Rn);
        ulong r = sub ? AddWithCarry(is64, x, ~y, 1, s) : AddWithCarry(is64, x, y, 0, s);
        if (!is64) r = (uint)r;
        if (s) SetXr(d.Rd, r); else SetXSp(d.Rd, r);
    }

    private void ExecAdcSbc(ref A64Inst d)
    {
        bool is64 = d.Size != 0, sub = ((d.Raw >> 30) & 1) != 0, s = ((d.Raw >> 29) & 1) != 0;
        ulong x = X(d.Rn), y = X(d.Rm);
        ulong c = (_nzcv >> 29) & 1;
        ulong r = AddWithCarry(is64, x, sub ? ~y : y, c, s);
        SetXr(d.Rd, is64 ? r : (uint)r);
    }

    private void ExecLogicalImm(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        ulong x = X(d.Rn), imm = (ulong)d.Imm, r;
        uint opc = (d.Raw >> 29) & 3;
        r = opc switch { 0 => x & imm, 1 => x | imm, 2 => x ^ imm, _ => x & imm };
        if (!is64) r = (uint)r;
        if (opc == 3) { SetLogicFlags(is64, r); SetXr(d.Rd, r); }
        else SetXSp(d.Rd, r);
    }

    private void ExecLogicalReg(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        ulong y = ShiftReg(X(d.Rm), (int)(d.Raw >> 22) & 3, (int)d.Imm, is64);
        if (((d.Raw >> 21) & 1) != 0) y = ~y;
        ulong x = X(d.Rn), r;
        uint opc = (d.Raw >> 29) & 3;
        r = opc switch { 0 => x & y, 1 => x | y, 2 => x ^ y, _ => x & y };
        if (!is64) r = (uint)r;
        if (opc == 3) SetLogicFlags(is64, r);
        SetXr(d.Rd, r);
    }

    private void ExecMoveWide(ref A64Inst d)
    {
        int shift = (int)d.Imm2;
        ulong imm = (ulong)d.Imm << shift;
        ulong r = d.Op switch
        {
            0 => ~imm,
            2 => imm,
            _ => (X(d.Rd) & ~(0xFFFFUL << shift)) | imm,
        };
        SetXr(d.Rd, d.Size != 0 ? r : (uint)r);
    }

    private void ExecBitfield(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        int dataSize = is64 ? 64 : 32;
        int r = (int)(d.Raw >> 16) & 63, s = (int)(d.Raw >> 10) & 63;
        ulong wmask = (ulong)d.Imm, tmask = d.Imm2;
        ulong src = X(d.Rn);
        ulong rotated = is64 ? BitOperations.RotateRight(src, r) : BitOperations.RotateRight((uint)src, r);
        ulong result;
        switch (d.Op)
        {
            case 0: // SBFM
            {
                ulong bot = rotated & wmask;
                ulong top = ((src >> s) & 1) != 0 ? ulong.MaxValue : 0;
                result = (top & ~tmask) | (bot & tmask);
                break;
            }
            case 1: // BFM
            {
                ulong dst = X(d.Rd);
                ulong bot = (dst & ~wmask) | (rotated & wmask);
                result = (dst & ~tmask) | (bot & tmask);
                break;
            }
            default: // UBFM
                result = rotated & wmask & tmask;
                break;
        }
        if (dataSize == 32) result = (uint)result;
        SetXr(d.Rd, result);
    }

    private void ExecExtr(ref A64Inst d)
    {
        int lsb = (int)d.Imm;
        if (d.Size != 0)
        {
            ulong hi = X(d.Rn), lo = X(d.Rm);
            SetXr(d.Rd, lsb == 0 ? lo : (lo >> lsb) | (hi << (64 - lsb)));
        }
        else
        {
            ulong v = ((ulong)(uint)X(d.Rn) << 32) | (uint)X(d.Rm);
            SetXr(d.Rd, (uint)(v >> lsb));
        }
    }

    private void ExecCondCompare(ref A64Inst d)
    {
        bool is64 = d.Size != 0, sub = ((d.Raw >> 30) & 1) != 0, immForm = ((d.Raw >> 11) & 1) != 0;
        int cond = (int)(d.Raw >> 12) & 15;
        if (ConditionHolds(cond))
        {
            ulong x = X(d.Rn), y = immForm ? d.Rm : X(d.Rm);
            if (sub) AddWithCarry(is64, x, ~y, 1, true); else AddWithCarry(is64, x, y, 0, true);
        }
        else _nzcv = (d.Raw & 15) << 28;
    }

    private void ExecCondSelect(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        uint op = (d.Raw >> 30) & 1, o2 = (d.Raw >> 10) & 1;
        int cond = (int)(d.Raw >> 12) & 15;
        ulong r;
        if (ConditionHolds(cond)) r = X(d.Rn);
        else
        {
            r = X(d.Rm);
            if (op != 0) r = ~r;
            if (o2 != 0) r++;
        }
        SetXr(d.Rd, is64 ? r : (uint)r);
    }

    private void ExecDataProc1(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        ulong x = X(d.Rn), r;
        switch (d.Op)
        {
            case 0: // RBIT
                r = is64 ? ReverseBits(x) : ReverseBits(x) >> 32;
                break;
            case 1: // REV16
                r = ((x & 0x00FF00FF00FF00FFUL) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFUL);
                break;
            case 2: // REV32 (64-bit) / REV (32-bit)
            {
                ulong t = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x);
                r = (t >> 32) | (t << 32);
                break;
            }
            case 3: // REV
                r = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x);
                break;
            case 4: // CLZ
                r = is64 ? (ulong)BitOperations.LeadingZeroCount(x) : (ulong)BitOperations.LeadingZeroCount((uint)x);
                break;
            default: // CLS
                if (is64) r = (ulong)BitOperations.LeadingZeroCount(x ^ (ulong)((long)x >> 1)) - 1;
                else r = (ulong)BitOperations.LeadingZeroCount((uint)x ^ (uint)((int)(uint)x >> 1)) - 1;
                break;
        }
        SetXr(d.Rd, is64 ? r : (uint)r);
    }

    private static ulong ReverseBits(ulong v)
    {
        v = ((v >> 1) & 0x5555555555555555UL) | ((v & 0x5555555555555555UL) << 1);
        v = ((v >> 2) & 0x3333333333333333UL) | ((v & 0x3333333333333333UL) << 2);
        v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((v & 0x0F0F0F0F0F0F0F0FUL) << 4);
        return System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
    }

    private void ExecDataProc2(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        ulong x = X(d.Rn), y = X(d.Rm), r;
        switch (d.Op)
        {
            case 2: // UDIV
                if (is64) r = y == 0 ? 0 : x / y;
                else r = (uint)y == 0 ? 0 : (uint)x / (uint)y;
                break;
            case 3: // SDIV
                if (is64)
                {
                    long a = (long)x, b = (long)y;
                    r = b == 0 ? 0 : (a == long.MinValue && b == -1) ? 0x8000_0000_0000_0000UL : (ulong)(a / b);
                }
                else
                {
                    int a = (int)x, b = (int)y;
                    r = b == 0 ? 0 : (a == int.MinValue && b == -1) ? 0x8000_0000u : (uint)(a / b);
                }
                break;
            default: // LSLV LSRV ASRV RORV
                r = ShiftReg(x, d.Op - 8, (int)(y & (is64 ? 63UL : 31UL)), is64);
                break;
        }
        SetXr(d.Rd, is64 ? r : (uint)r);
    }

    private void ExecDataProc3(ref A64Inst d)
    {
        bool is64 = d.Size != 0;
        ulong n = X(d.Rn), m = X(d.Rm), a = X(d.Ra), r;
        bool sub = (d.Op & 1) != 0;
        switch (d.Op >> 1)
        {
            case 0: // MADD / MSUB
                r = sub ? a - n * m : a + n * m;
                if (!is64) r = (uint)r;
                break;
            case 1: // SMADDL / SMSUBL
            {
                long p = (long)(int)n * (int)m;
                r = sub ? a - (ulong)p : a + (ulong)p;
                break;
            }
            case 5: // UMADDL / UMSUBL
            {
                ulong p = (ulong)(uint)n * (uint)m;
                r = sub ? a - p : a + p;
                break;
            }
            case 2: // SMULH
                r = (ulong)Math.BigMul((long)n, (long)m, out _);
                break;
            default: // UMULH
                r = Math.BigMul(n, m, out _);
                break;
        }
        SetXr(d.Rd, r);
    }
}
