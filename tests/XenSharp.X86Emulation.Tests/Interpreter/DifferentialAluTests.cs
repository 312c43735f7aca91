using Iced.Intel;
using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

/// <summary>
/// Differential test: each ALU instruction runs with random operands (fixed seed, edge values
/// mixed in) natively on the host and in the interpreter (64-bit mode, RAX/RCX/RDX/RFLAGS as
/// inputs); results and the flags the SDM defines for that case must match. Flags the SDM leaves
/// undefined differ between Intel and AMD and are not compared.
/// </summary>
public sealed class DifferentialAluTests : IDisposable
{
    private const int Cases = 2000;
    private const ulong CF = X86Flags.CF, PF = X86Flags.PF, AF = X86Flags.AF, ZF = X86Flags.ZF, SF = X86Flags.SF, OF = X86Flags.OF;
    private const ulong All = CF | PF | AF | ZF | SF | OF;

    private readonly InterpreterMachine _m = new();
    private bool _started;

    public void Dispose() => _m.Dispose();

    private static AssemblerRegister8 R8(int n) => n switch { 0 => al, 1 => cl, _ => dl };
    private static AssemblerRegister16 R16(int n) => n switch { 0 => ax, 1 => cx, _ => dx };
    private static AssemblerRegister32 R32(int n) => n switch { 0 => eax, 1 => ecx, _ => edx };
    private static AssemblerRegister64 R64(int n) => n switch { 0 => rax, 1 => rcx, _ => rdx };

    /// <summary>Builds "op r_a, r_b" for a size from per-size emitters.</summary>
    private delegate void Emit(Assembler a, int size);

    private static Emit Binary(Action<Assembler, AssemblerRegister8, AssemblerRegister8> b8, Action<Assembler, AssemblerRegister16, AssemblerRegister16> b16,
        Action<Assembler, AssemblerRegister32, AssemblerRegister32> b32, Action<Assembler, AssemblerRegister64, AssemblerRegister64> b64, int second = 1) =>
        (a, size) =>
        {
            switch (size)
            {
                case 1: b8(a, R8(0), R8(second)); break;
                case 2: b16(a, R16(0), R16(second)); break;
                case 4: b32(a, R32(0), R32(second)); break;
                default: b64(a, R64(0), R64(second)); break;
            }
        };

    private static Emit Unary(Action<Assembler, AssemblerRegister8> u8, Action<Assembler, AssemblerRegister16> u16,
        Action<Assembler, AssemblerRegister32> u32, Action<Assembler, AssemblerRegister64> u64, int reg = 0) =>
        (a, size) =>
        {
            switch (size)
            {
                case 1: u8(a, R8(reg)); break;
                case 2: u16(a, R16(reg)); break;
                case 4: u32(a, R32(reg)); break;
                default: u64(a, R64(reg)); break;
            }
        };

    private static Emit ShiftByCl(Action<Assembler, AssemblerRegister8> s8, Action<Assembler, AssemblerRegister16> s16,
        Action<Assembler, AssemblerRegister32> s32, Action<Assembler, AssemblerRegister64> s64) => Unary(s8, s16, s32, s64);

    private static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private static ulong Operand(Random rng, int size)
    {
        ulong m = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        ulong sign = 1UL << (size * 8 - 1);
        return rng.Next(8) switch
        {
            0 => 0,
            1 => 1,
            2 => m,
            3 => sign,
            4 => sign - 1,
            5 => (ulong)rng.Next(0, 64),
            _ => (ulong)rng.NextInt64() ^ ((ulong)rng.NextInt64() << 1),
        };
    }

    /// <summary>
    /// Runs <paramref name="emit"/> for the sizes given with random inputs; <paramref name="defined"/>
    /// returns the flags to compare for (a, b/count, size), or null when the result itself is undefined.
    /// </summary>
    private void Check(string name, Emit emit, int[] sizes, Func<ulong, ulong, int, ulong?> defined, bool countInCl = false, bool compareRdx = false)
    {
        if (!NativeStub.IsSupported) return;
        var rng = new Random(0x5EED + name.Sum(c => (int)c) * 31);
        foreach (int size in sizes)
        {
            Action<Assembler> program = a => { emit(a, size); a.hlt(); };
            using var native = new NativeStub(a => emit(a, size));
            if (!_started) { _m.Long64(program); _started = true; }
            else _m.Load(64, InterpreterMachine.Code, program);
            for (int n = 0; n < Cases; n++)
            {
                ulong a = ((ulong)rng.NextInt64() << 8) ^ Operand(rng, size);
                ulong b = ((ulong)rng.NextInt64() << 8) ^ Operand(rng, size);
                if (rng.Next(2) == 0) a = Operand(rng, size) | (a & ~Mask(size));
                if (countInCl) b = (b & ~0xFFUL) | (byte)(rng.Next(3) == 0 ? rng.Next(256) : rng.Next(0, size * 8 + 2));
                ulong d = (ulong)rng.NextInt64();
                ulong flagsIn = 0x202 | ((ulong)rng.Next(0x1000) & All);
                var expected = native.Run(a, b, d, flagsIn);

                _m.Regs = default;
                _m.Regs.Rip = InterpreterMachine.Code;
                _m.Regs.Rsp = TestMachine.KernelStackTop - 0x100;
                _m.Regs.Rax = a; _m.Regs.Rcx = b; _m.Regs.Rdx = d; _m.Regs.Rflags = flagsIn;
                var stop = _m.Cpu.Run(1);
                Assert.True(stop == InterpreterStop.Budget, $"{name}/{size}: stopped with {stop}: {_m.Cpu.Exit.Reason}");

                ulong bValue = countInCl ? b & 0xFF : b;
                ulong? mask = defined(a, bValue, size);
                if (mask is not ulong flagMask) continue;
                string where = $"{name} size {size}: a=0x{a:x} b=0x{b:x} rdx=0x{d:x} flags=0x{flagsIn:x}";
                Assert.True(expected.Rax == _m.Regs.Rax, $"{where}: RAX native 0x{expected.Rax:x} interpreter 0x{_m.Regs.Rax:x}");
                if (compareRdx) Assert.True(expected.Rdx == _m.Regs.Rdx, $"{where}: RDX native 0x{expected.Rdx:x} interpreter 0x{_m.Regs.Rdx:x}");
                ulong nf = expected.Rflags & flagMask, jf = _m.Regs.Rflags & flagMask;
                Assert.True(nf == jf, $"{where}: flags (mask 0x{flagMask:x}) native 0x{nf:x} interpreter 0x{jf:x}");
            }
        }
    }

    private static readonly int[] AllSizes = [1, 2, 4, 8];
    private static readonly int[] WideSizes = [2, 4, 8];

    private static ulong? AllFlags(ulong a, ulong b, int size) => All;
    private static ulong? LogicFlags(ulong a, ulong b, int size) => All & ~AF;

    [Fact] public void Add() => Check("add", Binary((a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y)), AllSizes, AllFlags);
    [Fact] public void Adc() => Check("adc", Binary((a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y)), AllSizes, AllFlags);
    [Fact] public void Sub() => Check("sub", Binary((a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y)), AllSizes, AllFlags);
    [Fact] public void Sbb() => Check("sbb", Binary((a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y)), AllSizes, AllFlags);
    [Fact] public void Cmp() => Check("cmp", Binary((a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y)), AllSizes, AllFlags);
    [Fact] public void And() => Check("and", Binary((a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y)), AllSizes, LogicFlags);
    [Fact] public void Or() => Check("or", Binary((a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y)), AllSizes, LogicFlags);
    [Fact] public void Xor() => Check("xor", Binary((a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y)), AllSizes, LogicFlags);
    [Fact] public void Test() => Check("test", Binary((a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y)), AllSizes, LogicFlags);
    [Fact] public void Inc() => Check("inc", Unary((a, x) => a.inc(x), (a, x) => a.inc(x), (a, x) => a.inc(x), (a, x) => a.inc(x)), AllSizes, AllFlags);
    [Fact] public void Dec() => Check("dec", Unary((a, x) => a.dec(x), (a, x) => a.dec(x), (a, x) => a.dec(x), (a, x) => a.dec(x)), AllSizes, AllFlags);
    [Fact] public void Neg() => Check("neg", Unary((a, x) => a.neg(x), (a, x) => a.neg(x), (a, x) => a.neg(x), (a, x) => a.neg(x)), AllSizes, AllFlags);
    [Fact] public void Not() => Check("not", Unary((a, x) => a.not(x), (a, x) => a.not(x), (a, x) => a.not(x), (a, x) => a.not(x)), AllSizes, AllFlags);

    private static int Masked(ulong count, int size) => (int)(count & (size == 8 ? 63UL : 31UL));

    /// <summary>SHL/SHR/SAR: count 0 changes nothing; else CF (SHL/SHR: only for counts below the width), SF, ZF, PF; OF for count 1.</summary>
    private static Func<ulong, ulong, int, ulong?> ShiftFlags(bool arithmetic) => (a, count, size) =>
    {
        int c = Masked(count, size);
        if (c == 0) return All;
        ulong mask = SF | ZF | PF;
        if (arithmetic || c < size * 8) mask |= CF;
        if (c == 1) mask |= OF;
        return mask;
    };

    /// <summary>ROL/ROR/RCL/RCR: SF, ZF, AF, PF never change; CF changes (for a masked count ≠ 0), OF defined for count 1.</summary>
    private static ulong? RotateFlags(ulong a, ulong count, int size)
    {
        int c = Masked(count, size);
        if (c == 0) return All;
        return c == 1 ? All : All & ~OF;
    }

    [Fact] public void Shl() => Check("shl", ShiftByCl((a, x) => a.shl(x, cl), (a, x) => a.shl(x, cl), (a, x) => a.shl(x, cl), (a, x) => a.shl(x, cl)), AllSizes, ShiftFlags(false), countInCl: true);
    [Fact] public void Shr() => Check("shr", ShiftByCl((a, x) => a.shr(x, cl), (a, x) => a.shr(x, cl), (a, x) => a.shr(x, cl), (a, x) => a.shr(x, cl)), AllSizes, ShiftFlags(false), countInCl: true);
    [Fact] public void Sar() => Check("sar", ShiftByCl((a, x) => a.sar(x, cl), (a, x) => a.sar(x, cl), (a, x) => a.sar(x, cl), (a, x) => a.sar(x, cl)), AllSizes, ShiftFlags(true), countInCl: true);
    [Fact] public void Rol() => Check("rol", ShiftByCl((a, x) => a.rol(x, cl), (a, x) => a.rol(x, cl), (a, x) => a.rol(x, cl), (a, x) => a.rol(x, cl)), AllSizes, RotateFlags, countInCl: true);
    [Fact] public void Ror() => Check("ror", ShiftByCl((a, x) => a.ror(x, cl), (a, x) => a.ror(x, cl), (a, x) => a.ror(x, cl), (a, x) => a.ror(x, cl)), AllSizes, RotateFlags, countInCl: true);
    [Fact] public void Rcl() => Check("rcl", ShiftByCl((a, x) => a.rcl(x, cl), (a, x) => a.rcl(x, cl), (a, x) => a.rcl(x, cl), (a, x) => a.rcl(x, cl)), AllSizes, RotateFlags, countInCl: true);
    [Fact] public void Rcr() => Check("rcr", ShiftByCl((a, x) => a.rcr(x, cl), (a, x) => a.rcr(x, cl), (a, x) => a.rcr(x, cl), (a, x) => a.rcr(x, cl)), AllSizes, RotateFlags, countInCl: true);

    /// <summary>SHLD/SHRD: count 0 changes nothing; a count above the width (16-bit forms) is undefined; else CF, SF, ZF, PF (OF for count 1).</summary>
    private static ulong? DoubleShiftFlags(ulong a, ulong count, int size)
    {
        int c = Masked(count, size);
        if (c == 0) return All;
        if (c > size * 8) return null;
        return c == 1 ? All & ~AF : CF | SF | ZF | PF;
    }

    private static Emit DoubleShift(bool left) => (a, size) =>
    {
        switch (size)
        {
            case 2: if (left) a.shld(ax, dx, cl); else a.shrd(ax, dx, cl); break;
            case 4: if (left) a.shld(eax, edx, cl); else a.shrd(eax, edx, cl); break;
            default: if (left) a.shld(rax, rdx, cl); else a.shrd(rax, rdx, cl); break;
        }
    };

    [Fact] public void Shld() => Check("shld", DoubleShift(true), WideSizes, DoubleShiftFlags, countInCl: true);
    [Fact] public void Shrd() => Check("shrd", DoubleShift(false), WideSizes, DoubleShiftFlags, countInCl: true);

    private static ulong? MulFlags(ulong a, ulong b, int size) => CF | OF;

    [Fact] public void Mul() => Check("mul", Unary((a, x) => a.mul(x), (a, x) => a.mul(x), (a, x) => a.mul(x), (a, x) => a.mul(x), reg: 1), AllSizes, MulFlags, compareRdx: true);
    [Fact] public void Imul1() => Check("imul1", Unary((a, x) => a.imul(x), (a, x) => a.imul(x), (a, x) => a.imul(x), (a, x) => a.imul(x), reg: 1), AllSizes, MulFlags, compareRdx: true);
    [Fact] public void Imul2() => Check("imul2", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.imul(x, y), (a, x, y) => a.imul(x, y), (a, x, y) => a.imul(x, y)), WideSizes, MulFlags);
    [Fact] public void Imul3() => Check("imul3", (a, size) =>
    {
        switch (size)
        {
            case 2: a.imul(ax, cx, -300); break;
            case 4: a.imul(eax, ecx, 0x12345); break;
            default: a.imul(rax, rcx, -0x7654321); break;
        }
    }, WideSizes, MulFlags);

    private static ulong? ZfOnly(ulong a, ulong b, int size) => ZF;

    [Fact] public void Bsf() => Check("bsf", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.bsf(x, y), (a, x, y) => a.bsf(x, y), (a, x, y) => a.bsf(x, y)), WideSizes, ZfOnly);
    [Fact] public void Bsr() => Check("bsr", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.bsr(x, y), (a, x, y) => a.bsr(x, y), (a, x, y) => a.bsr(x, y)), WideSizes, ZfOnly);

    /// <summary>BT*: CF is defined, ZF is unaffected; OF, SF, AF, PF undefined.</summary>
    private static ulong? BitFlags(ulong a, ulong b, int size) => CF | ZF;

    [Fact] public void Bt() => Check("bt", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.bt(x, y), (a, x, y) => a.bt(x, y), (a, x, y) => a.bt(x, y)), WideSizes, BitFlags);
    [Fact] public void Bts() => Check("bts", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.bts(x, y), (a, x, y) => a.bts(x, y), (a, x, y) => a.bts(x, y)), WideSizes, BitFlags);
    [Fact] public void Btr() => Check("btr", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.btr(x, y), (a, x, y) => a.btr(x, y), (a, x, y) => a.btr(x, y)), WideSizes, BitFlags);
    [Fact] public void Btc() => Check("btc", Binary((a, x, y) => throw new NotSupportedException(), (a, x, y) => a.btc(x, y), (a, x, y) => a.btc(x, y), (a, x, y) => a.btc(x, y)), WideSizes, BitFlags);

    [Fact] public void Xadd() => Check("xadd", Binary((a, x, y) => a.xadd(x, y), (a, x, y) => a.xadd(x, y), (a, x, y) => a.xadd(x, y), (a, x, y) => a.xadd(x, y), second: 2), AllSizes, AllFlags, compareRdx: true);
    [Fact] public void Cmpxchg() => Check("cmpxchg", Binary((a, x, y) => a.cmpxchg(x, y), (a, x, y) => a.cmpxchg(x, y), (a, x, y) => a.cmpxchg(x, y), (a, x, y) => a.cmpxchg(x, y), second: 2), AllSizes, AllFlags, compareRdx: true);
}
