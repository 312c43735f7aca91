using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Eager RFLAGS arithmetic. Every helper takes the operand size in bytes (1, 2, 4, 8) and the
/// current RFLAGS and returns the new RFLAGS; only the six status flags change.
/// </summary>
internal static class Flags
{
    public const ulong CF = X86Flags.CF, PF = X86Flags.PF, AF = X86Flags.AF, ZF = X86Flags.ZF, SF = X86Flags.SF, OF = X86Flags.OF;
    public const ulong Arith = CF | PF | AF | ZF | SF | OF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sign(int size) => 1UL << (size * 8 - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SignExtend(ulong value, int size) => size switch
    {
        1 => (ulong)(long)(sbyte)value,
        2 => (ulong)(long)(short)value,
        4 => (ulong)(long)(int)value,
        _ => value,
    };

    /// <summary>PF (even parity of the low byte), ZF and SF of a result already truncated to <paramref name="size"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Szp(ulong result, int size)
    {
        ulong f = (BitOperations.PopCount((uint)(result & 0xFF)) & 1) == 0 ? PF : 0;
        if (result == 0) f |= ZF;
        if ((result & Sign(size)) != 0) f |= SF;
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong a, ulong b, ulong carry, int size, ulong flags, out ulong result)
    {
        ulong m = Mask(size);
        ulong r = (a + b + carry) & m;
        ulong f = Szp(r, size);
        if (carry != 0 ? r <= a : r < a) f |= CF;
        if (((a ^ r) & (b ^ r) & Sign(size)) != 0) f |= OF;
        f |= (a ^ b ^ r) & AF;
        result = r;
        return (flags & ~Arith) | f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sub(ulong a, ulong b, ulong borrow, int size, ulong flags, out ulong result)
    {
        ulong m = Mask(size);
        ulong r = (a - b - borrow) & m;
        ulong f = Szp(r, size);
        if (borrow != 0 ? a <= b : a < b) f |= CF;
        if (((a ^ b) & (a ^ r) & Sign(size)) != 0) f |= OF;
        f |= (a ^ b ^ r) & AF;
        result = r;
        return (flags & ~Arith) | f;
    }

    /// <summary>AND/OR/XOR/TEST: CF = OF = 0, AF = 0 (undefined; Intel clears it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Logic(ulong r, int size, ulong flags) => (flags & ~Arith) | Szp(r, size);

    /// <summary>INC/DEC: like ADD/SUB 1 but CF is kept.</summary>
    public static ulong IncDec(ulong a, bool dec, int size, ulong flags, out ulong result)
    {
        ulong cf = flags & CF;
        ulong f = dec ? Sub(a, 1, 0, size, flags, out result) : Add(a, 1, 0, size, flags, out result);
        return (f & ~CF) | cf;
    }

    public static bool Condition(ConditionCode cc, ulong f) => cc switch
    {
        ConditionCode.o => (f & OF) != 0,
        ConditionCode.no => (f & OF) == 0,
        ConditionCode.b => (f & CF) != 0,
        ConditionCode.ae => (f & CF) == 0,
        ConditionCode.e => (f & ZF) != 0,
        ConditionCode.ne => (f & ZF) == 0,
        ConditionCode.be => (f & (CF | ZF)) != 0,
        ConditionCode.a => (f & (CF | ZF)) == 0,
        ConditionCode.s => (f & SF) != 0,
        ConditionCode.ns => (f & SF) == 0,
        ConditionCode.p => (f & PF) != 0,
        ConditionCode.np => (f & PF) == 0,
        ConditionCode.l => ((f & SF) != 0) != ((f & OF) != 0),
        ConditionCode.ge => ((f & SF) != 0) == ((f & OF) != 0),
        ConditionCode.le => (f & ZF) != 0 || ((f & SF) != 0) != ((f & OF) != 0),
        ConditionCode.g => (f & ZF) == 0 && ((f & SF) != 0) == ((f & OF) != 0),
        _ => false,
    };
}
