using Iced.Intel;
using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

public sealed class ArithmeticTests : IDisposable
{
    private readonly InterpreterMachine _m = new();
    public void Dispose() => _m.Dispose();

    private const ulong CF = X86Flags.CF, PF = X86Flags.PF, AF = X86Flags.AF, ZF = X86Flags.ZF, SF = X86Flags.SF, OF = X86Flags.OF;
    private const ulong Arith = CF | PF | AF | ZF | SF | OF;

    private ulong RunToHalt(Action<Assembler> program, ulong flagsIn = 0)
    {
        _m.Protected32(a => { program(a); a.hlt(); });
        _m.Regs.Rflags |= flagsIn;
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        return _m.Regs.Rflags;
    }

    [Fact]
    public void Add_signed_overflow_and_carry()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0x7FFF_FFFF); a.add(eax, 1); });
        Assert.Equal(0x8000_0000UL, _m.Regs.Rax);
        Assert.Equal(OF | SF | AF | PF, f & Arith);

        f = RunToHalt(a => { a.mov(eax, 0xFFFF_FFFF); a.add(eax, 1); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(CF | ZF | AF | PF, f & Arith);

        f = RunToHalt(a => { a.mov(al, 0x80); a.add(al, 0x80); });
        Assert.Equal(CF | ZF | OF | PF, f & Arith);
    }

    [Fact]
    public void Sub_borrow_and_cmp_leave_destination()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 1); a.sub(eax, 2); });
        Assert.Equal(0xFFFF_FFFFUL, _m.Regs.Rax);
        Assert.Equal(CF | SF | AF | PF, f & Arith);

        f = RunToHalt(a => { a.mov(eax, 0x8000_0000); a.cmp(eax, 1); });
        Assert.Equal(0x8000_0000UL, _m.Regs.Rax);
        Assert.Equal(OF | AF | PF, f & Arith);
    }

    [Fact]
    public void Adc_and_sbb_chain_through_carry()
    {
        // 64-bit add of 0x00000001_FFFFFFFF + 0x00000000_00000001 with add/adc.
        RunToHalt(a => { a.mov(eax, 0xFFFF_FFFF); a.mov(edx, 1); a.add(eax, 1); a.adc(edx, 0); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(2UL, _m.Regs.Rdx);

        ulong f = RunToHalt(a => { a.stc(); a.mov(eax, 0); a.sbb(eax, 0); });
        Assert.Equal(0xFFFF_FFFFUL, _m.Regs.Rax);
        Assert.Equal(CF | SF | AF | PF, f & Arith);

        f = RunToHalt(a => { a.stc(); a.mov(eax, 0xFFFF_FFFF); a.adc(eax, 0xFFFF_FFFF); });
        Assert.Equal(0xFFFF_FFFFUL, _m.Regs.Rax);
        Assert.Equal(CF | SF | AF | PF, f & Arith);
    }

    [Fact]
    public void Inc_and_dec_keep_carry()
    {
        ulong f = RunToHalt(a => { a.stc(); a.mov(eax, 0xFFFF_FFFF); a.inc(eax); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(CF | ZF | AF | PF, f & Arith);

        f = RunToHalt(a => { a.clc(); a.mov(eax, 0x8000_0000); a.dec(eax); });
        Assert.Equal(0x7FFF_FFFFUL, _m.Regs.Rax);
        Assert.Equal(OF | AF | PF, f & Arith);
    }

    [Fact]
    public void Neg_sets_carry_unless_zero()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0); a.neg(eax); });
        Assert.Equal(ZF | PF, f & Arith);
        f = RunToHalt(a => { a.mov(eax, 0x8000_0000); a.neg(eax); });
        Assert.Equal(0x8000_0000UL, _m.Regs.Rax);
        Assert.Equal(CF | OF | SF | PF, f & Arith);
    }

    [Fact]
    public void Shift_by_zero_changes_nothing_and_counts_are_masked()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0x8000_0001); a.add(eax, 0x7FFF_FFFF); a.mov(cl, 32); a.shl(eax, cl); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(CF | ZF | AF | PF, f & Arith); // flags of the ADD: count 32 masks to 0

        f = RunToHalt(a => { a.mov(eax, 3); a.mov(cl, 33); a.shl(eax, cl); });
        Assert.Equal(6UL, _m.Regs.Rax);
        Assert.Equal(0UL, f & (CF | OF | ZF | SF));
    }

    [Fact]
    public void Shifts_by_one_and_thirty_one()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0xC000_0000); a.shl(eax, 1); });
        Assert.Equal(0x8000_0000UL, _m.Regs.Rax);
        Assert.Equal(CF | SF, f & (CF | SF | OF | ZF));    // OF = MSB ^ CF = 0

        f = RunToHalt(a => { a.mov(eax, 0x4000_0000); a.shl(eax, 1); });
        Assert.Equal(SF | OF, f & (CF | SF | OF | ZF));

        f = RunToHalt(a => { a.mov(eax, 0x8000_0001); a.shr(eax, 1); });
        Assert.Equal(0x4000_0000UL, _m.Regs.Rax);
        Assert.Equal(CF | OF, f & (CF | SF | OF | ZF));    // OF = original MSB

        f = RunToHalt(a => { a.mov(eax, 0x8000_0000); a.sar(eax, 31); });
        Assert.Equal(0xFFFF_FFFFUL, _m.Regs.Rax);
        Assert.Equal(SF, f & (CF | SF | ZF));

        f = RunToHalt(a => { a.mov(eax, 0x4000_0000); a.shr(eax, 31); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(CF | ZF, f & (CF | SF | ZF));
    }

    [Fact]
    public void Rotates_through_carry()
    {
        ulong f = RunToHalt(a => { a.stc(); a.mov(al, 0x80); a.rcl(al, 1); });
        Assert.Equal(0x01UL, _m.Regs.Rax & 0xFF);
        Assert.Equal(CF | OF, f & (CF | OF)); // new CF = 1, OF = MSB(0x01) ^ CF = 1

        f = RunToHalt(a => { a.clc(); a.mov(al, 0x01); a.rcr(al, 1); });
        Assert.Equal(0x00UL, _m.Regs.Rax & 0xFF);
        Assert.Equal(CF, f & (CF | OF));

        // RCL r8 by 9 is a full rotation through CF: nothing changes.
        f = RunToHalt(a => { a.stc(); a.mov(al, 0x5A); a.mov(cl, 9); a.rcl(al, cl); });
        Assert.Equal(0x5AUL, _m.Regs.Rax & 0xFF);
        Assert.Equal(CF, f & CF);

        f = RunToHalt(a => { a.mov(eax, 0x8000_0001); a.rol(eax, 4); });
        Assert.Equal(0x18UL, _m.Regs.Rax);
        Assert.Equal(0UL, f & CF);
        f = RunToHalt(a => { a.mov(eax, 0x8000_0001); a.ror(eax, 1); });
        Assert.Equal(0xC000_0000UL, _m.Regs.Rax);
        Assert.Equal(CF, f & (CF | OF));
    }

    [Fact]
    public void Shld_and_shrd()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0x1234_5678); a.mov(edx, 0x9ABC_DEF0); a.shld(eax, edx, 8); });
        Assert.Equal(0x3456_789AUL, _m.Regs.Rax);
        Assert.Equal(0UL, f & CF); // last bit out of EAX: bit 24 of 0x12345678 = 0

        f = RunToHalt(a => { a.mov(eax, 0x1234_5678); a.mov(edx, 0x9ABC_DEF0); a.mov(cl, 4); a.shrd(eax, edx, cl); });
        Assert.Equal(0x0123_4567UL, _m.Regs.Rax);
        Assert.Equal(CF, f & CF); // bit 3 of 0x...78 = 1

        RunToHalt(a => { a.mov(eax, 0x1234_5678); a.mov(edx, 0x9ABC_DEF0); a.mov(cl, 36); a.shrd(eax, edx, cl); });
        Assert.Equal(0x0123_4567UL, _m.Regs.Rax); // count masked to 4
    }

    [Fact]
    public void Mul_and_imul_high_halves_and_overflow_flags()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0x8000_0000); a.mov(ecx, 4); a.mul(ecx); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(2UL, _m.Regs.Rdx);
        Assert.Equal(CF | OF, f & (CF | OF));

        f = RunToHalt(a => { a.mov(eax, 0xFFFF_FFFF); a.mov(ecx, 2); a.imul(ecx); });
        Assert.Equal(0xFFFF_FFFEUL, _m.Regs.Rax);
        Assert.Equal(0xFFFF_FFFFUL, _m.Regs.Rdx);
        Assert.Equal(0UL, f & (CF | OF));

        f = RunToHalt(a => { a.mov(ecx, 0x10000); a.imul(eax, ecx, 0x10000); });
        Assert.Equal(0UL, _m.Regs.Rax);
        Assert.Equal(CF | OF, f & (CF | OF));

        f = RunToHalt(a => { a.mov(eax, -3); a.mov(ecx, 7); a.imul(eax, ecx); });
        Assert.Equal(unchecked((uint)-21), (uint)_m.Regs.Rax);
        Assert.Equal(0UL, f & (CF | OF));

        RunToHalt(a => { a.mov(al, 200); a.mov(cl, 3); a.mul(cl); });
        Assert.Equal(600UL, _m.Regs.Rax & 0xFFFF);
    }

    [Fact]
    public void Div_and_idiv_quotient_and_remainder()
    {
        RunToHalt(a => { a.mov(edx, 1); a.mov(eax, 5); a.mov(ecx, 3); a.div(ecx); });
        Assert.Equal(0x1_0000_0005UL / 3, _m.Regs.Rax);
        Assert.Equal(0x1_0000_0005UL % 3, _m.Regs.Rdx);

        RunToHalt(a => { a.mov(eax, -7); a.cdq(); a.mov(ecx, 2); a.idiv(ecx); });
        Assert.Equal(unchecked((uint)-3), (uint)_m.Regs.Rax);
        Assert.Equal(unchecked((uint)-1), (uint)_m.Regs.Rdx);
    }

    [Fact]
    public void Divide_by_zero_delivers_de_through_the_idt()
    {
        _m.Protected32(a => { a.mov(eax, 1); a.xor(ecx, ecx); a.div(ecx); a.hlt(); });
        _m.Handler32(0, InterpreterMachine.Handlers, a =>
        {
            a.mov(eax, __dword_ptr[esp]);
            a.mov(__dword_ptr[InterpreterMachine.Data], eax);
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal((uint)InterpreterMachine.Code + 7, _m.Read32(InterpreterMachine.Data)); // EIP of the DIV
    }

    [Fact]
    public void Idiv_overflow_is_divide_error()
    {
        _m.Protected32(a => { a.mov(eax, 0x8000_0000); a.cdq(); a.mov(ecx, -1); a.idiv(ecx); a.hlt(); });
        _m.Handler32(0, InterpreterMachine.Handlers, a => { a.mov(__dword_ptr[InterpreterMachine.Data], 0xDE); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0xDEu, _m.Read32(InterpreterMachine.Data));
    }

    [Fact]
    public void Bsf_and_bsr_with_zero_source_set_zf_and_keep_destination()
    {
        ulong f = RunToHalt(a => { a.mov(eax, 0x1234); a.xor(ecx, ecx); a.bsf(eax, ecx); });
        Assert.Equal(0x1234UL, _m.Regs.Rax);
        Assert.Equal(ZF, f & ZF);
        f = RunToHalt(a => { a.mov(ecx, 0x0001_0100); a.bsf(eax, ecx); a.bsr(edx, ecx); });
        Assert.Equal(8UL, _m.Regs.Rax);
        Assert.Equal(16UL, _m.Regs.Rdx);
        Assert.Equal(0UL, f & ZF);
    }

    [Fact]
    public void Bit_test_on_memory_uses_signed_bit_offsets()
    {
        RunToHalt(a =>
        {
            a.mov(ebx, (uint)InterpreterMachine.Data + 16);
            a.mov(ecx, -1);                         // bit 31 of the dword at Data+12
            a.bts(__dword_ptr[ebx], ecx);
            a.mov(ecx, 33);                         // bit 1 of the dword at Data+20
            a.bts(__dword_ptr[ebx], ecx);
            a.bt(__dword_ptr[ebx], ecx);
        });
        Assert.Equal(0x8000_0000u, _m.Read32(InterpreterMachine.Data + 12));
        Assert.Equal(2u, _m.Read32(InterpreterMachine.Data + 20));
        Assert.Equal(CF, _m.Regs.Rflags & CF);
    }

    [Fact]
    public void Setcc_and_cmovcc()
    {
        RunToHalt(a =>
        {
            a.mov(eax, 5); a.cmp(eax, 7);
            a.setl(bl); a.setg(bh); a.setb(cl); a.setae(ch);
            a.mov(edx, 0x11); a.mov(esi, 0x22);
            a.cmovl(edx, esi);   // taken
            a.mov(edi, 0x33);
            a.cmovg(edi, esi);   // not taken
        });
        Assert.Equal(0x0001UL, _m.Regs.Rbx & 0xFFFF);
        Assert.Equal(0x0001UL, _m.Regs.Rcx & 0xFFFF);
        Assert.Equal(0x22UL, _m.Regs.Rdx);
        Assert.Equal(0x33UL, _m.Regs.Rdi);
    }

    [Fact]
    public void Lock_prefixed_operations_and_xchg_on_memory()
    {
        const ulong d = InterpreterMachine.Data;
        RunToHalt(a =>
        {
            a.mov(__dword_ptr[d], 5);
            a.@lock.add(__dword_ptr[d], 3);
            a.mov(eax, 10);
            a.xchg(__dword_ptr[d + 4], eax);
            a.mov(ecx, 100);
            a.@lock.xadd(__dword_ptr[d], ecx);
            a.mov(__dword_ptr[d + 8], 1);
            a.mov(eax, 1); a.mov(edx, 77);
            a.@lock.cmpxchg(__dword_ptr[d + 8], edx);
            a.@lock.inc(__byte_ptr[d + 12]);
        });
        Assert.Equal(108u, _m.Read32(d));
        Assert.Equal(10u, _m.Read32(d + 4));
        Assert.Equal(8UL, _m.Regs.Rcx);
        Assert.Equal(77u, _m.Read32(d + 8));
        Assert.Equal(1u, _m.Read32(d + 12) & 0xFF);
        Assert.Equal(0UL, _m.Regs.Rflags & ZF); // flags of the last INC: non-zero result
    }

    [Fact]
    public async Task Lock_inc_is_atomic_across_threads()
    {
        const ulong counter = InterpreterMachine.Data;
        const int perCpu = 50_000;
        _m.Protected32(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, perCpu);
            a.Label(ref loop);
            a.@lock.inc(__dword_ptr[counter]);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var second = new X86EmulationState(_m.M.Memory) { Registers = _m.Regs, Special = _m.State.Special };
        var cpu2 = new X86Interpreter(second, []);
        var t1 = Task.Run(() => _m.Cpu.Run(int.MaxValue));
        var t2 = Task.Run(() => cpu2.Run(int.MaxValue));
        Assert.Equal(InterpreterStop.Halt, await t1);
        Assert.Equal(InterpreterStop.Halt, await t2);
        Assert.Equal((uint)(2 * perCpu), _m.Read32(counter));
    }
}
