using System.Numerics;
using Iced.Intel;
using XenSharp.X86Emulation.Instructions;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Integer arithmetic: ADD…CMP/TEST, INC/DEC/NOT/NEG, shifts and rotates, MUL/IMUL/DIV/IDIV,
/// BT*, BSF/BSR (TZCNT/LZCNT when the CPUID table advertises BMI1/LZCNT, else the F3-prefixed
/// encodings run as BSF/BSR like on a processor without them), POPCNT, XADD, CMPXCHG*.
/// LOCK-prefixed memory forms run through <see cref="AtomicRmw"/>.
/// </summary>
public sealed partial class X86Interpreter
{
    private void Rmw(in Instruction i, RmwOp op)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        ulong b = ReadOperand(i, 1, size);
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            ulong flags = regs.Rflags;
            ulong result = Alu.Compute(op, ReadReg(r), b, size, ref flags);
            regs.Rflags = flags;
            if (op is not (RmwOp.Cmp or RmwOp.Test)) WriteReg(r, result);
            return;
        }
        bool writes = op is not (RmwOp.Cmp or RmwOp.Test);
        ulong linear = MemoryLinear(i, size, writes);
        if (writes && i.HasLockPrefix)
        {
            AtomicRmw(linear, size, op, b, out _);
            return;
        }
        ulong a = ReadLinear(linear, size, forWrite: writes);
        ulong f = regs.Rflags;
        ulong value = Alu.Compute(op, a, b, size, ref f);
        if (writes) WriteLinear(linear, size, value);
        regs.Rflags = f;
    }

    private void Unary(in Instruction i, RmwOp op)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            ulong flags = regs.Rflags;
            ulong result = Alu.Compute(op, ReadReg(r), 0, size, ref flags);
            regs.Rflags = flags;
            WriteReg(r, result);
            return;
        }
        ulong linear = MemoryLinear(i, size, true);
        if (i.HasLockPrefix) { AtomicRmw(linear, size, op, 0, out _); return; }
        ulong a = ReadLinear(linear, size, forWrite: true);
        ulong f = regs.Rflags;
        ulong value = Alu.Compute(op, a, 0, size, ref f);
        WriteLinear(linear, size, value);
        regs.Rflags = f;
    }

    private void Shift(in Instruction i, ShiftOp op)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        ulong rawCount = i.Op1Kind == OpKind.Register ? ReadReg(i.Op1Register) : i.GetImmediate(1);
        int count = ShiftRotate.MaskCount(rawCount, size);
        if (i.Op0Kind == OpKind.Register)
        {
            if (count == 0)
            {
                if (size == 4) WriteReg(i.Op0Register, ReadReg(i.Op0Register)); // a 32-bit destination is zero-extended even so
                return;
            }
            ulong flags = regs.Rflags;
            ulong r = ShiftRotate.Shift(op, ReadReg(i.Op0Register), count, size, ref flags);
            WriteReg(i.Op0Register, r);
            regs.Rflags = flags;
            return;
        }
        ulong linear = MemoryLinear(i, size, true);
        ulong a = ReadLinear(linear, size, forWrite: true);
        if (count == 0) return;
        ulong f = regs.Rflags;
        ulong value = ShiftRotate.Shift(op, a, count, size, ref f);
        WriteLinear(linear, size, value);
        regs.Rflags = f;
    }

    private void DoubleShift(in Instruction i, bool left)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        ulong src = ReadReg(i.Op1Register);
        ulong rawCount = i.Op2Kind == OpKind.Register ? ReadReg(i.Op2Register) : i.GetImmediate(2);
        int count = ShiftRotate.MaskCount(rawCount, size);
        bool isReg = i.Op0Kind == OpKind.Register;
        ulong linear = isReg ? 0 : MemoryLinear(i, size, true);
        ulong dst = isReg ? ReadReg(i.Op0Register) : ReadLinear(linear, size, forWrite: true);
        if (count == 0)
        {
            if (isReg && size == 4) WriteReg(i.Op0Register, dst); // a 32-bit destination is zero-extended even so
            return;
        }
        ulong f = regs.Rflags;
        ulong r = ShiftRotate.DoubleShift(left, dst, src, count, size, ref f);
        if (isReg) WriteReg(i.Op0Register, r); else WriteLinear(linear, size, r);
        regs.Rflags = f;
    }

    /// <summary>MUL/IMUL flags: CF = OF = <paramref name="overflow"/>; SF/ZF/PF from the low half, AF = 0 (undefined).</summary>
    private void MulFlags(ulong low, int size, bool overflow)
    {
        ref ulong f = ref _state.Registers.Rflags;
        f = (f & ~Flags.Arith) | (Flags.Szp(low & Flags.Mask(size), size) & (Flags.SF | Flags.ZF | Flags.PF))
            | (overflow ? Flags.CF | Flags.OF : 0);
    }

    private void Mul(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        ulong src = ReadOperand(i, 0, size);
        switch (size)
        {
            case 1:
            {
                ulong r = (regs.Rax & 0xFF) * src;
                regs.Rax = (regs.Rax & ~0xFFFFUL) | r;
                MulFlags(r, 1, (r >> 8) != 0);
                break;
            }
            case 2:
            {
                ulong r = (regs.Rax & 0xFFFF) * src;
                regs.Rax = (regs.Rax & ~0xFFFFUL) | (r & 0xFFFF);
                regs.Rdx = (regs.Rdx & ~0xFFFFUL) | (r >> 16);
                MulFlags(r, 2, (r >> 16) != 0);
                break;
            }
            case 4:
            {
                ulong r = (regs.Rax & 0xFFFF_FFFF) * src;
                regs.Rax = (uint)r;
                regs.Rdx = r >> 32;
                MulFlags(r, 4, (r >> 32) != 0);
                break;
            }
            default:
            {
                ulong high = Math.BigMul(regs.Rax, src, out ulong low);
                regs.Rax = low;
                regs.Rdx = high;
                MulFlags(low, 8, high != 0);
                break;
            }
        }
    }

    private void Imul(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        if (i.OpCount == 1)
        {
            int size = OperandSize(i, 0);
            long src = (long)Flags.SignExtend(ReadOperand(i, 0, size), size);
            switch (size)
            {
                case 1:
                {
                    long r = (sbyte)regs.Rax * src;
                    regs.Rax = (regs.Rax & ~0xFFFFUL) | ((ulong)r & 0xFFFF);
                    MulFlags((ulong)r, 1, r != (sbyte)r);
                    break;
                }
                case 2:
                {
                    long r = (short)regs.Rax * src;
                    regs.Rax = (regs.Rax & ~0xFFFFUL) | ((ulong)r & 0xFFFF);
                    regs.Rdx = (regs.Rdx & ~0xFFFFUL) | (((ulong)r >> 16) & 0xFFFF);
                    MulFlags((ulong)r, 2, r != (short)r);
                    break;
                }
                case 4:
                {
                    long r = (int)regs.Rax * src;
                    regs.Rax = (uint)r;
                    regs.Rdx = (uint)((ulong)r >> 32);
                    MulFlags((ulong)r, 4, r != (int)r);
                    break;
                }
                default:
                {
                    long high = Math.BigMul((long)regs.Rax, src, out long low);
                    regs.Rax = (ulong)low;
                    regs.Rdx = (ulong)high;
                    MulFlags((ulong)low, 8, high != (low >> 63));
                    break;
                }
            }
            return;
        }
        int opSize = RegisterTable.Size[(int)i.Op0Register];
        long a, b;
        if (i.OpCount == 2)
        {
            a = (long)Flags.SignExtend(ReadReg(i.Op0Register), opSize);
            b = (long)Flags.SignExtend(ReadOperand(i, 1, opSize), opSize);
        }
        else
        {
            a = (long)Flags.SignExtend(ReadOperand(i, 1, opSize), opSize);
            b = (long)Flags.SignExtend(i.GetImmediate(2) & Flags.Mask(opSize), opSize);
        }
        bool overflow;
        ulong result;
        if (opSize == 8)
        {
            long high = Math.BigMul(a, b, out long low);
            result = (ulong)low;
            overflow = high != (low >> 63);
        }
        else
        {
            long r = a * b;
            result = (ulong)r & Flags.Mask(opSize);
            overflow = (long)Flags.SignExtend(result, opSize) != r;
        }
        WriteReg(i.Op0Register, result);
        MulFlags(result, opSize, overflow);
    }

    private static GuestFaultException DivideError() => new(new PendingException(X86Vectors.DivideError, false, 0));

    /// <summary>DIV/IDIV: #DE on a zero divisor or a quotient that does not fit; flags are left unchanged (undefined).</summary>
    private void Div(in Instruction i, bool signed)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        ulong divisor = ReadOperand(i, 0, size);
        if (divisor == 0) throw DivideError();
        if (size == 8)
        {
            if (!signed)
            {
                UInt128 dividend = ((UInt128)regs.Rdx << 64) | regs.Rax;
                UInt128 q = dividend / divisor;
                if (q > ulong.MaxValue) throw DivideError();
                regs.Rax = (ulong)q;
                regs.Rdx = (ulong)(dividend % divisor);
            }
            else
            {
                Int128 dividend = (Int128)(((UInt128)regs.Rdx << 64) | regs.Rax);
                long d = (long)divisor;
                if (d == -1 && dividend == Int128.MinValue) throw DivideError();
                Int128 q = dividend / d;
                if (q > long.MaxValue || q < long.MinValue) throw DivideError();
                regs.Rax = (ulong)(long)q;
                regs.Rdx = (ulong)(long)(dividend % d);
            }
            return;
        }
        int bits = size * 8;
        ulong m = Flags.Mask(size);
        ulong low = size == 1 ? regs.Rax & 0xFF : regs.Rax & m;
        ulong high = size == 1 ? (regs.Rax >> 8) & 0xFF : regs.Rdx & m;
        ulong quotient, remainder;
        if (!signed)
        {
            ulong dividend = (high << bits) | low;
            quotient = dividend / divisor;
            remainder = dividend % divisor;
            if (quotient > m) throw DivideError();
        }
        else
        {
            long dividend = (long)Flags.SignExtend((high << bits) | low, size * 2);
            long d = (long)Flags.SignExtend(divisor, size);
            if (d == -1 && dividend == long.MinValue) throw DivideError();
            long q = dividend / d;
            long r = dividend % d;
            long min = -(1L << (bits - 1)), max = (1L << (bits - 1)) - 1;
            if (q < min || q > max) throw DivideError();
            quotient = (ulong)q & m;
            remainder = (ulong)r & m;
        }
        switch (size)
        {
            case 1: regs.Rax = (regs.Rax & ~0xFFFFUL) | quotient | (remainder << 8); break;
            case 2:
                regs.Rax = (regs.Rax & ~0xFFFFUL) | quotient;
                regs.Rdx = (regs.Rdx & ~0xFFFFUL) | remainder;
                break;
            default:
                regs.Rax = quotient;
                regs.Rdx = remainder;
                break;
        }
    }

    /// <summary>BT/BTS/BTR/BTC: a register bit offset on a memory operand addresses bytes beyond it (signed, in operand-size units).</summary>
    private void BitTest(in Instruction i, RmwOp? op)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        int bits = size * 8;
        bool immediate = i.Op1Kind != OpKind.Register;
        ulong offset = immediate ? i.GetImmediate(1) : ReadReg(i.Op1Register);
        int bit = (int)(offset & (ulong)(bits - 1));
        if (i.Op0Kind == OpKind.Register)
        {
            ulong a = ReadReg(i.Op0Register);
            ulong f = regs.Rflags;
            if (op is RmwOp o)
            {
                WriteReg(i.Op0Register, Alu.Compute(o, a, (ulong)bit, size, ref f));
            }
            else
            {
                f = (f & ~Flags.CF) | ((a >> bit) & 1);
            }
            regs.Rflags = f;
            return;
        }
        ulong extra = 0;
        if (!immediate)
        {
            long signedOffset = (long)Flags.SignExtend(offset, size);
            extra = (ulong)((signedOffset >> BitOperations.Log2((uint)bits)) * size);
        }
        ulong linear = Linear(OperandAccess.Segment(i.MemorySegment), EffectiveAddress(i, extra), size, op is not null);
        if (op is RmwOp rmw)
        {
            if (i.HasLockPrefix) { AtomicRmw(linear, size, rmw, (ulong)bit, out _); return; }
            ulong a = ReadLinear(linear, size, forWrite: true);
            ulong f = regs.Rflags;
            ulong value = Alu.Compute(rmw, a, (ulong)bit, size, ref f);
            WriteLinear(linear, size, value);
            regs.Rflags = f;
        }
        else
        {
            ulong a = ReadLinear(linear, size);
            regs.Rflags = (regs.Rflags & ~Flags.CF) | ((a >> bit) & 1);
        }
    }

    /// <summary>
    /// BSF/BSR: a zero source sets ZF and leaves the destination unchanged; otherwise ZF = 0 and the
    /// destination gets the bit index (other flags unchanged: undefined). TZCNT/LZCNT (<paramref name="count"/>):
    /// the count (operand width for zero), CF = source is zero, ZF = result is zero.
    /// </summary>
    private void BitScan(in Instruction i, bool forward, bool count)
    {
        ref var regs = ref _state.Registers;
        int size = RegisterTable.Size[(int)i.Op0Register];
        ulong src = ReadOperand(i, 1, size);
        int bits = size * 8;
        if (count)
        {
            ulong n = src == 0 ? (ulong)bits
                : forward ? (ulong)BitOperations.TrailingZeroCount(src)
                : (ulong)(BitOperations.LeadingZeroCount(src) - (64 - bits));
            WriteReg(i.Op0Register, n);
            ulong f = regs.Rflags & ~(Flags.CF | Flags.ZF);
            if (src == 0) f |= Flags.CF;
            if (n == 0) f |= Flags.ZF;
            regs.Rflags = f;
            return;
        }
        if (src == 0)
        {
            regs.Rflags |= Flags.ZF;
            return;
        }
        regs.Rflags &= ~Flags.ZF;
        WriteReg(i.Op0Register, forward ? (ulong)BitOperations.TrailingZeroCount(src) : (ulong)(63 - BitOperations.LeadingZeroCount(src)));
    }

    private void Popcnt(in Instruction i)
    {
        int size = RegisterTable.Size[(int)i.Op0Register];
        ulong src = ReadOperand(i, 1, size);
        WriteReg(i.Op0Register, (ulong)BitOperations.PopCount(src));
        _state.Registers.Rflags = (_state.Registers.Rflags & ~Flags.Arith) | (src == 0 ? Flags.ZF : 0);
    }

    private void Xadd(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        Register source = i.Op1Register;
        ulong b = ReadReg(source);
        if (i.Op0Kind == OpKind.Register)
        {
            ulong a = ReadReg(i.Op0Register);
            ulong f = regs.Rflags;
            ulong sum = Alu.Compute(RmwOp.Xadd, a, b, size, ref f);
            WriteReg(source, a);
            WriteReg(i.Op0Register, sum);
            regs.Rflags = f;
            return;
        }
        ulong linear = MemoryLinear(i, size, true);
        ulong old;
        if (i.HasLockPrefix)
        {
            old = AtomicRmw(linear, size, RmwOp.Xadd, b, out _);
        }
        else
        {
            old = ReadLinear(linear, size, forWrite: true);
            ulong f = regs.Rflags;
            ulong sum = Alu.Compute(RmwOp.Xadd, old, b, size, ref f);
            WriteLinear(linear, size, sum);
            regs.Rflags = f;
        }
        WriteReg(source, old);
    }

    /// <summary>CMPXCHG r/m, r: flags of CMP accumulator, destination; equal → destination = source, else accumulator = destination.</summary>
    private void Cmpxchg(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = OperandSize(i, 0);
        Register accumulator = size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
        ulong expected = ReadReg(accumulator);
        ulong source = ReadReg(i.Op1Register);
        ulong old;
        if (i.Op0Kind == OpKind.Register)
        {
            old = ReadReg(i.Op0Register);
            if (old == expected) WriteReg(i.Op0Register, source);
        }
        else
        {
            ulong linear = MemoryLinear(i, size, true);
            nint host = i.HasLockPrefix ? AtomicHost(linear, size) : 0;
            if (host != 0)
            {
                while (true)
                {
                    old = LoadHost(host, size);
                    ulong store = old == expected ? source : old;
                    if (CompareExchangeHost(host, size, old, store)) break;
                }
            }
            else if (i.HasLockPrefix)
            {
                lock (s_atomicFallback)
                {
                    old = ReadLinear(linear, size, forWrite: true);
                    WriteLinear(linear, size, old == expected ? source : old);
                }
            }
            else
            {
                old = ReadLinear(linear, size, forWrite: true);
                WriteLinear(linear, size, old == expected ? source : old);
            }
        }
        regs.Rflags = Flags.Sub(expected, old, 0, size, regs.Rflags, out _);
        if (old != expected) WriteReg(accumulator, old);
    }

    private void Cmpxchg8b16b(in Instruction i)
    {
        int size = i.Code == Code.Cmpxchg16b_m128 ? 16 : 8;
        if (size == 16 && !_is64) throw GuestFaultException.Ud();
        ulong linear = MemoryLinear(i, size, true);
        CompareExchange.Execute(_state, Wrap(linear), size);
    }

    private bool HasBmi1 => CpuidBit(7, 0, 1, 3);
    private bool HasLzcnt => CpuidBit(0x8000_0001, 0, 2, 5);
}
