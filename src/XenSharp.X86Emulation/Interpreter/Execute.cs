using Iced.Intel;
using XenSharp.X86Emulation.Instructions;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>One instruction: mode snapshot, fetch, RIP advance, dispatch over the Iced mnemonic.</summary>
public sealed partial class X86Interpreter
{
    private int _stackSize;

    private void Step()
    {
        ref var regs = ref _state.Registers;
        ref var sr = ref _state.Special;
        _saved = regs;
        _longMode = (sr.Efer & X86Flags.EferLma) != 0;
        _is64 = _longMode && sr.Cs.L != 0;
        bool pe = (sr.Cr0 & X86Flags.Cr0Pe) != 0;
        bool vm86 = pe && !_longMode && (regs.Rflags & X86Flags.VM) != 0;
        _bitness = _is64 ? 64 : pe && !vm86 && sr.Cs.Db != 0 ? 32 : 16;
        _ipMask = _bitness == 64 ? ulong.MaxValue : _bitness == 32 ? 0xFFFF_FFFF : 0xFFFF;
        _cpl = !pe ? 0 : vm86 ? 3 : sr.Ss.Dpl;
        _stackSize = _is64 ? 8 : sr.Ss.Db != 0 && pe && !vm86 ? 4 : 2;
        _state.InterruptShadow = false;

        ref Instruction i = ref Fetch();
        regs.Rip = i.NextIP & _ipMask;
        Execute(in i);
    }

    /// <summary>RIP of the instruction being executed (RIP already points past it).</summary>
    private ulong CurrentRip => _saved.Rip;

    private void Execute(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            // ----- Integer arithmetic and logic -----
            case Mnemonic.Add: Rmw(i, RmwOp.Add); break;
            case Mnemonic.Or: Rmw(i, RmwOp.Or); break;
            case Mnemonic.Adc: Rmw(i, RmwOp.Adc); break;
            case Mnemonic.Sbb: Rmw(i, RmwOp.Sbb); break;
            case Mnemonic.And: Rmw(i, RmwOp.And); break;
            case Mnemonic.Sub: Rmw(i, RmwOp.Sub); break;
            case Mnemonic.Xor: Rmw(i, RmwOp.Xor); break;
            case Mnemonic.Cmp: Rmw(i, RmwOp.Cmp); break;
            case Mnemonic.Test: Rmw(i, RmwOp.Test); break;
            case Mnemonic.Inc: Unary(i, RmwOp.Inc); break;
            case Mnemonic.Dec: Unary(i, RmwOp.Dec); break;
            case Mnemonic.Not: Unary(i, RmwOp.Not); break;
            case Mnemonic.Neg: Unary(i, RmwOp.Neg); break;
            case Mnemonic.Rol: Shift(i, ShiftOp.Rol); break;
            case Mnemonic.Ror: Shift(i, ShiftOp.Ror); break;
            case Mnemonic.Rcl: Shift(i, ShiftOp.Rcl); break;
            case Mnemonic.Rcr: Shift(i, ShiftOp.Rcr); break;
            case Mnemonic.Shl: Shift(i, ShiftOp.Shl); break;
            case Mnemonic.Sal: Shift(i, ShiftOp.Sal); break;
            case Mnemonic.Shr: Shift(i, ShiftOp.Shr); break;
            case Mnemonic.Sar: Shift(i, ShiftOp.Sar); break;
            case Mnemonic.Shld: DoubleShift(i, true); break;
            case Mnemonic.Shrd: DoubleShift(i, false); break;
            case Mnemonic.Mul: Mul(i); break;
            case Mnemonic.Imul: Imul(i); break;
            case Mnemonic.Div: Div(i, false); break;
            case Mnemonic.Idiv: Div(i, true); break;
            case Mnemonic.Bt: BitTest(i, null); break;
            case Mnemonic.Bts: BitTest(i, RmwOp.Bts); break;
            case Mnemonic.Btr: BitTest(i, RmwOp.Btr); break;
            case Mnemonic.Btc: BitTest(i, RmwOp.Btc); break;
            case Mnemonic.Bsf: BitScan(i, forward: true, count: false); break;
            case Mnemonic.Bsr: BitScan(i, forward: false, count: false); break;
            case Mnemonic.Tzcnt: BitScan(i, forward: true, count: HasBmi1); break;
            case Mnemonic.Lzcnt: BitScan(i, forward: false, count: HasLzcnt); break;
            case Mnemonic.Popcnt: Popcnt(i); break;
            case Mnemonic.Xadd: Xadd(i); break;
            case Mnemonic.Cmpxchg: Cmpxchg(i); break;
            case Mnemonic.Cmpxchg8b:
            case Mnemonic.Cmpxchg16b: Cmpxchg8b16b(i); break;

            // ----- Data transfer -----
            case Mnemonic.Mov: Mov(i); break;
            case Mnemonic.Movzx: Extend(i, signed: false); break;
            case Mnemonic.Movsx:
            case Mnemonic.Movsxd: Extend(i, signed: true); break;
            case Mnemonic.Lea: Lea(i); break;
            case Mnemonic.Xchg: Xchg(i); break;
            case Mnemonic.Push: PushInstruction(i); break;
            case Mnemonic.Pop: PopInstruction(i); break;
            case Mnemonic.Pusha: PushAll(2); break;
            case Mnemonic.Pushad: PushAll(4); break;
            case Mnemonic.Popa: PopAll(2); break;
            case Mnemonic.Popad: PopAll(4); break;
            case Mnemonic.Pushf: PushFlags(2); break;
            case Mnemonic.Pushfd: PushFlags(4); break;
            case Mnemonic.Pushfq: PushFlags(8); break;
            case Mnemonic.Popf: PopFlags(2); break;
            case Mnemonic.Popfd: PopFlags(4); break;
            case Mnemonic.Popfq: PopFlags(8); break;
            case Mnemonic.Lahf: Lahf(); break;
            case Mnemonic.Sahf: Sahf(); break;
            case Mnemonic.Cbw: ConvertAccumulator(1); break;
            case Mnemonic.Cwde: ConvertAccumulator(2); break;
            case Mnemonic.Cdqe: ConvertAccumulator(4); break;
            case Mnemonic.Cwd: ConvertToDx(2); break;
            case Mnemonic.Cdq: ConvertToDx(4); break;
            case Mnemonic.Cqo: ConvertToDx(8); break;
            case Mnemonic.Bswap: Bswap(i); break;
            case Mnemonic.Xlatb: Xlat(i); break;
            case Mnemonic.Lds: LoadFarPointer(i, SegmentRegister.Ds); break;
            case Mnemonic.Les: LoadFarPointer(i, SegmentRegister.Es); break;
            case Mnemonic.Lfs: LoadFarPointer(i, SegmentRegister.Fs); break;
            case Mnemonic.Lgs: LoadFarPointer(i, SegmentRegister.Gs); break;
            case Mnemonic.Lss: LoadFarPointer(i, SegmentRegister.Ss); break;

            case Mnemonic.Seto: case Mnemonic.Setno: case Mnemonic.Setb: case Mnemonic.Setae:
            case Mnemonic.Sete: case Mnemonic.Setne: case Mnemonic.Setbe: case Mnemonic.Seta:
            case Mnemonic.Sets: case Mnemonic.Setns: case Mnemonic.Setp: case Mnemonic.Setnp:
            case Mnemonic.Setl: case Mnemonic.Setge: case Mnemonic.Setle: case Mnemonic.Setg:
                WriteOperand(i, 0, 1, Flags.Condition(i.ConditionCode, _state.Registers.Rflags) ? 1UL : 0);
                break;

            case Mnemonic.Cmovo: case Mnemonic.Cmovno: case Mnemonic.Cmovb: case Mnemonic.Cmovae:
            case Mnemonic.Cmove: case Mnemonic.Cmovne: case Mnemonic.Cmovbe: case Mnemonic.Cmova:
            case Mnemonic.Cmovs: case Mnemonic.Cmovns: case Mnemonic.Cmovp: case Mnemonic.Cmovnp:
            case Mnemonic.Cmovl: case Mnemonic.Cmovge: case Mnemonic.Cmovle: case Mnemonic.Cmovg:
                Cmov(i);
                break;

            // ----- Control transfer -----
            case Mnemonic.Jo: case Mnemonic.Jno: case Mnemonic.Jb: case Mnemonic.Jae:
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jbe: case Mnemonic.Ja:
            case Mnemonic.Js: case Mnemonic.Jns: case Mnemonic.Jp: case Mnemonic.Jnp:
            case Mnemonic.Jl: case Mnemonic.Jge: case Mnemonic.Jle: case Mnemonic.Jg:
                if (Flags.Condition(i.ConditionCode, _state.Registers.Rflags)) Branch(i.NearBranchTarget);
                break;
            case Mnemonic.Jmp: Jmp(i); break;
            case Mnemonic.Call: Call(i); break;
            case Mnemonic.Ret: Ret(i); break;
            case Mnemonic.Loop:
            case Mnemonic.Loope:
            case Mnemonic.Loopne: Loop(i); break;
            case Mnemonic.Jcxz: JumpIfCountZero(i, 2); break;
            case Mnemonic.Jecxz: JumpIfCountZero(i, 4); break;
            case Mnemonic.Jrcxz: JumpIfCountZero(i, 8); break;
            case Mnemonic.Enter: Enter(i); break;
            case Mnemonic.Leave: Leave(i); break;
            case Mnemonic.Int: SoftwareInterrupt.Execute(_state, i.Immediate8, InterruptSource.SoftwareInterrupt, _state.Registers.Rip); break;
            case Mnemonic.Int3: SoftwareInterrupt.Execute(_state, X86Vectors.Breakpoint, InterruptSource.SoftwareException, _state.Registers.Rip); break;
            case Mnemonic.Int1: SoftwareInterrupt.Execute(_state, X86Vectors.Debug, InterruptSource.PrivilegedSoftwareException, _state.Registers.Rip); break;
            case Mnemonic.Into: SoftwareInterrupt.Into(_state, _state.Registers.Rip); break;
            case Mnemonic.Iret: Iret.Execute(_state, 2); break;
            case Mnemonic.Iretd: Iret.Execute(_state, 4); break;
            case Mnemonic.Iretq: Iret.Execute(_state, 8); break;
            case Mnemonic.Retf:
            case Mnemonic.Syscall:
            case Mnemonic.Sysret:
            case Mnemonic.Sysretq:
            case Mnemonic.Sysenter:
            case Mnemonic.Sysexit:
            case Mnemonic.Sysexitq:
                if (!FarTransfer.TryExecute(_state, i, _state.Registers.Rip) && !FastSystemCall.TryExecute(_state, i, _state.Registers.Rip))
                    throw NotImplemented(i);
                break;

            // ----- Strings -----
            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsq:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsq:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
                StringInstruction(i);
                break;
            case Mnemonic.Movsd:
                if (i.Code == Code.Movsd_m32_m32) StringInstruction(i); else FpuOrSimd(i);
                break;
            case Mnemonic.Cmpsd:
                if (i.Code == Code.Cmpsd_m32_m32) StringInstruction(i); else FpuOrSimd(i);
                break;

            // ----- I/O -----
            case Mnemonic.In: In(i); break;
            case Mnemonic.Out: Out(i); break;
            case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd: Ins(i); break;
            case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd: Outs(i); break;

            // ----- Flags and no-ops -----
            case Mnemonic.Clc: _state.Registers.Rflags &= ~X86Flags.CF; break;
            case Mnemonic.Stc: _state.Registers.Rflags |= X86Flags.CF; break;
            case Mnemonic.Cmc: _state.Registers.Rflags ^= X86Flags.CF; break;
            case Mnemonic.Cld: _state.Registers.Rflags &= ~X86Flags.DF; break;
            case Mnemonic.Std: _state.Registers.Rflags |= X86Flags.DF; break;
            case Mnemonic.Cli: Cli(); break;
            case Mnemonic.Sti: Sti(); break;
            case Mnemonic.Nop:
            case Mnemonic.Pause:
            case Mnemonic.Lfence:
            case Mnemonic.Sfence:
            case Mnemonic.Mfence:
            case Mnemonic.Prefetchnta:
            case Mnemonic.Prefetcht0:
            case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2:
            case Mnemonic.Prefetchw:
            case Mnemonic.Prefetch:
            case Mnemonic.Clflush:
            case Mnemonic.Clflushopt:
            case Mnemonic.Clwb:
            case Mnemonic.Endbr32:
            case Mnemonic.Endbr64:
                break;
            case Mnemonic.Ud0:
            case Mnemonic.Ud1:
            case Mnemonic.Ud2:
                throw GuestFaultException.Ud();

            // ----- System -----
            case Mnemonic.Hlt: Hlt(); break;
            case Mnemonic.Cpuid: Cpuid(); break;
            case Mnemonic.Rdtsc: Rdtsc(false); break;
            case Mnemonic.Rdtscp: Rdtsc(true); break;
            case Mnemonic.Rdpmc: throw GuestFaultException.Gp(0);
            case Mnemonic.Rdmsr: Rdmsr(); break;
            case Mnemonic.Wrmsr: Wrmsr(); break;
            case Mnemonic.Lgdt: LoadDescriptorTable(i, idt: false); break;
            case Mnemonic.Lidt: LoadDescriptorTable(i, idt: true); break;
            case Mnemonic.Sgdt: StoreDescriptorTable(i, idt: false); break;
            case Mnemonic.Sidt: StoreDescriptorTable(i, idt: true); break;
            case Mnemonic.Lldt: Lldt(i); break;
            case Mnemonic.Ltr: Ltr(i); break;
            case Mnemonic.Sldt: StoreSelector(i, _state.Special.Ldt.Selector); break;
            case Mnemonic.Str: StoreSelector(i, _state.Special.Tr.Selector); break;
            case Mnemonic.Smsw: StoreSelector(i, (ushort)_state.Special.Cr0, fullRegister: true); break;
            case Mnemonic.Lmsw: Lmsw(i); break;
            case Mnemonic.Invlpg: Invlpg(i); break;
            case Mnemonic.Wbinvd:
            case Mnemonic.Invd: RequireCpl0(); break;
            case Mnemonic.Clts: RequireCpl0(); _state.Special.Cr0 &= ~8UL; break;
            case Mnemonic.Swapgs: Swapgs(); break;
            case Mnemonic.Lar:
            case Mnemonic.Lsl:
            case Mnemonic.Verr:
            case Mnemonic.Verw:
            {
                ulong next = _state.Registers.Rip;
                if (!SystemInstructions.TryExecute(_state, i, next)) throw NotImplemented(i);
                break;
            }
            case Mnemonic.Xgetbv:
            case Mnemonic.Xsetbv:
            case Mnemonic.Rdrand:
            case Mnemonic.Rdseed:
                throw GuestFaultException.Ud();

            default:
                if (i.Code == Code.INVALID) throw GuestFaultException.Ud();
                if (IsFpuOrSimd(i)) { FpuOrSimd(i); break; }
                throw NotImplemented(i);
        }
    }

    private static bool IsFpuOrSimd(in Instruction i)
    {
        if (i.Encoding != EncodingKind.Legacy) return true;
        foreach (var feature in i.CpuidFeatures)
        {
            switch (feature)
            {
                case CpuidFeature.FPU: case CpuidFeature.FPU287: case CpuidFeature.FPU387: case CpuidFeature.MMX:
                case CpuidFeature.SSE: case CpuidFeature.SSE2: case CpuidFeature.SSE3: case CpuidFeature.SSSE3:
                case CpuidFeature.SSE4_1: case CpuidFeature.SSE4_2: case CpuidFeature.SSE4A: case CpuidFeature.FXSR:
                case CpuidFeature.XSAVE: case CpuidFeature.D3NOW: case CpuidFeature.PCLMULQDQ: case CpuidFeature.AES:
                    return true;
            }
        }
        return false;
    }

    /// <summary>x87, MMX and SSE are not implemented: #NM when CR0.TS (or CR0.EM for x87/MMX), else #UD.</summary>
    private void FpuOrSimd(in Instruction i)
    {
        ulong cr0 = _state.Special.Cr0;
        if ((cr0 & 8) != 0 || (cr0 & 4) != 0 && i.Encoding == EncodingKind.Legacy) throw new GuestFaultException(new PendingException(7, false, 0));
        throw GuestFaultException.Ud();
    }
}
