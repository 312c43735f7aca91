namespace XenSharp.X86Emulation.Interpreter;

/// <summary>The read-modify-write operations that may carry a LOCK prefix (and their plain forms).</summary>
internal enum RmwOp : byte { Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test, Inc, Dec, Not, Neg, Bts, Btr, Btc, Xadd }

/// <summary>Pure ALU: result and flags of one operation on operands truncated to the size.</summary>
internal static class Alu
{
    /// <summary>
    /// Computes <paramref name="op"/> on destination <paramref name="a"/> and source <paramref name="b"/>
    /// (for BTS/BTR/BTC: the bit number, already reduced to the operand width). Returns the value to
    /// store; CMP/TEST return <paramref name="a"/> (nothing to store).
    /// </summary>
    public static ulong Compute(RmwOp op, ulong a, ulong b, int size, ref ulong flags)
    {
        ulong r;
        switch (op)
        {
            case RmwOp.Add:
            case RmwOp.Xadd: flags = Flags.Add(a, b, 0, size, flags, out r); return r;
            case RmwOp.Adc: flags = Flags.Add(a, b, flags & Flags.CF, size, flags, out r); return r;
            case RmwOp.Sub: flags = Flags.Sub(a, b, 0, size, flags, out r); return r;
            case RmwOp.Sbb: flags = Flags.Sub(a, b, flags & Flags.CF, size, flags, out r); return r;
            case RmwOp.Cmp: flags = Flags.Sub(a, b, 0, size, flags, out _); return a;
            case RmwOp.And: r = a & b; flags = Flags.Logic(r, size, flags); return r;
            case RmwOp.Test: flags = Flags.Logic(a & b, size, flags); return a;
            case RmwOp.Or: r = a | b; flags = Flags.Logic(r, size, flags); return r;
            case RmwOp.Xor: r = a ^ b; flags = Flags.Logic(r, size, flags); return r;
            case RmwOp.Inc: flags = Flags.IncDec(a, false, size, flags, out r); return r;
            case RmwOp.Dec: flags = Flags.IncDec(a, true, size, flags, out r); return r;
            case RmwOp.Not: return ~a & Flags.Mask(size);
            case RmwOp.Neg:
                flags = Flags.Sub(0, a, 0, size, flags, out r);
                return r;
            case RmwOp.Bts:
            case RmwOp.Btr:
            case RmwOp.Btc:
            {
                ulong bit = 1UL << (int)b;
                flags = (flags & ~Flags.CF) | ((a & bit) != 0 ? Flags.CF : 0);
                return op == RmwOp.Bts ? a | bit : op == RmwOp.Btr ? a & ~bit : a ^ bit;
            }
            default: throw new InvalidOperationException(op.ToString());
        }
    }
}
