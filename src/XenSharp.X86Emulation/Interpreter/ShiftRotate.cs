namespace XenSharp.X86Emulation.Interpreter;

internal enum ShiftOp : byte { Rol, Ror, Rcl, Rcr, Shl, Shr, Sal, Sar }

/// <summary>
/// Shifts and rotates (Intel SDM vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
/// The count is masked to 5 bits (6 for 64-bit operands); a masked count of 0 changes nothing,
/// flags included. Defined flags follow the SDM; for the undefined ones this picks what Intel
/// processors do where it is known: OF is computed with the 1-bit formula for every count, AF = 0.
/// </summary>
internal static class ShiftRotate
{
    public static int MaskCount(ulong count, int size) => (int)(count & (size == 8 ? 63UL : 31UL));

    /// <summary>Returns the result; <paramref name="flags"/> is updated. <paramref name="count"/> is already masked and non-zero.</summary>
    public static ulong Shift(ShiftOp op, ulong a, int count, int size, ref ulong flags)
    {
        int bits = size * 8;
        ulong m = Flags.Mask(size);
        ulong sign = Flags.Sign(size);
        ulong r, cf, of;
        switch (op)
        {
            case ShiftOp.Shl:
            case ShiftOp.Sal:
                r = count >= 64 ? 0 : (a << count) & m;
                cf = count > bits ? 0 : (a >> (bits - count)) & 1;
                of = ((r & sign) != 0 ? 1UL : 0) ^ cf;
                flags = (flags & ~Flags.Arith) | Flags.Szp(r, size) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
                return r;
            case ShiftOp.Shr:
                r = a >> count;
                cf = count - 1 >= bits ? 0 : (a >> (count - 1)) & 1;
                of = (a & sign) != 0 ? 1UL : 0;
                flags = (flags & ~Flags.Arith) | Flags.Szp(r, size) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
                return r;
            case ShiftOp.Sar:
            {
                long s = (long)Flags.SignExtend(a, size);
                r = (ulong)(s >> count) & m;
                cf = (ulong)(s >> (count - 1)) & 1;
                flags = (flags & ~Flags.Arith) | Flags.Szp(r, size) | (cf != 0 ? Flags.CF : 0);
                return r;
            }
            case ShiftOp.Rol:
            {
                int c = count % bits;
                r = c == 0 ? a : ((a << c) | (a >> (bits - c))) & m;
                cf = r & 1;
                of = ((r & sign) != 0 ? 1UL : 0) ^ cf;
                flags = (flags & ~(Flags.CF | Flags.OF)) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
                return r;
            }
            case ShiftOp.Ror:
            {
                int c = count % bits;
                r = c == 0 ? a : ((a >> c) | (a << (bits - c))) & m;
                cf = (r & sign) != 0 ? 1UL : 0;
                of = cf ^ ((r & (sign >> 1)) != 0 ? 1UL : 0);
                flags = (flags & ~(Flags.CF | Flags.OF)) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
                return r;
            }
            case ShiftOp.Rcl:
            case ShiftOp.Rcr:
            {
                int c = size switch { 1 => count % 9, 2 => count % 17, _ => count };
                if (c == 0) return a;
                // Rotate the (bits+1)-bit value CF:a.
                UInt128 w = ((UInt128)(flags & Flags.CF) << bits) | a;
                UInt128 wm = ((UInt128)1 << (bits + 1)) - 1;
                w = op == ShiftOp.Rcl
                    ? ((w << c) | (w >> (bits + 1 - c))) & wm
                    : ((w >> c) | (w << (bits + 1 - c))) & wm;
                r = (ulong)(w & m);
                cf = (ulong)(w >> bits) & 1;
                of = op == ShiftOp.Rcl
                    ? ((r & sign) != 0 ? 1UL : 0) ^ cf
                    : ((r & sign) != 0 ? 1UL : 0) ^ ((r & (sign >> 1)) != 0 ? 1UL : 0);
                flags = (flags & ~(Flags.CF | Flags.OF)) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
                return r;
            }
            default: throw new InvalidOperationException(op.ToString());
        }
    }

    /// <summary>
    /// SHLD/SHRD with a masked, non-zero count. A 16-bit operand with a count above 16 gives an
    /// undefined result; this computes it as Intel does, shifting through the 48-bit value
    /// dst:src:dst (SHLD) or dst:src:dst read from the right (SHRD).
    /// </summary>
    public static ulong DoubleShift(bool left, ulong dst, ulong src, int count, int size, ref ulong flags)
    {
        int bits = size * 8;
        ulong m = Flags.Mask(size);
        ulong sign = Flags.Sign(size);
        ulong r, cf;
        if (size == 2 && count > 16)
        {
            // Intel: the 16-bit forms behave as if operating on dst:src:dst (48 bits).
            UInt128 wide = left
                ? ((UInt128)dst << 32) | ((UInt128)src << 16) | dst
                : ((UInt128)dst << 32) | ((UInt128)src << 16) | dst;
            if (left)
            {
                UInt128 shifted = wide << count;
                r = (ulong)(shifted >> 32) & m;
                cf = (ulong)(shifted >> 48) & 1;
            }
            else
            {
                UInt128 shifted = wide >> count;
                r = (ulong)shifted & m;
                cf = (ulong)(wide >> (count - 1)) & 1;
            }
        }
        else if (left)
        {
            r = ((dst << count) | (count >= bits ? src << (count - bits) : src >> (bits - count))) & m;
            if (count == bits) r = src & m;
            cf = (dst >> (bits - count)) & 1;
        }
        else
        {
            r = count >= bits ? src & m : ((dst >> count) | (src << (bits - count))) & m;
            cf = (dst >> (count - 1)) & 1;
        }
        ulong of = ((r ^ dst) & sign) != 0 ? 1UL : 0;
        flags = (flags & ~Flags.Arith) | Flags.Szp(r, size) | (cf != 0 ? Flags.CF : 0) | (of != 0 ? Flags.OF : 0);
        return r;
    }
}
