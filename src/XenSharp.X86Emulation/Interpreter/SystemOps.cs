using Iced.Intel;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Time;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// System instructions: CLI/STI (IOPL rules, STI shadow), HLT, CPUID (from the table), RDTSC/RDTSCP
/// (host TSC; CR4.TSD), RDMSR/WRMSR, MOV to/from CR0/2/3/4/8 (with the EFER.LMA rule and TLB flushes),
/// LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR, SMSW/LMSW, INVLPG, CLTS, WBINVD/INVD, SWAPGS.
/// </summary>
public sealed partial class X86Interpreter
{
    private const ulong Cr0Et = 1 << 4, Cr0Ts = 1 << 3, Cr0Nw = 1 << 29, Cr0Cd = 1 << 30;
    private const ulong Cr4Tsd = 1 << 2;
    /// <summary>CR4 bits the interpreter accepts: VME…OSXMMEXCPT, UMIP, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP (not LA57, VMXE, SMXE, PKE, CET).</summary>
    private const ulong Cr4Allowed = 0x7FF | (1UL << 11) | (1UL << 16) | (1UL << 17) | (1UL << 18) | (1UL << 20) | (1UL << 21);

    private void RequireCpl0()
    {
        if (_cpl != 0) throw GuestFaultException.Gp(0);
    }

    private void CheckIopl()
    {
        if ((_state.Special.Cr0 & X86Flags.Cr0Pe) == 0) return;
        if (_cpl > X86Flags.Iopl(_state.Registers.Rflags)) throw GuestFaultException.Gp(0);
    }

    private void Cli()
    {
        CheckIopl();
        _state.Registers.Rflags &= ~X86Flags.IF;
    }

    private void Sti()
    {
        CheckIopl();
        ref ulong f = ref _state.Registers.Rflags;
        if ((f & X86Flags.IF) == 0) _state.InterruptShadow = true;
        f |= X86Flags.IF;
    }

    private void Hlt()
    {
        RequireCpl0();
        _halted = true;
        RequestStop(InterpreterStop.Halt);
        _exit = default;
    }

    private bool TryCpuid(uint leaf, uint subleaf, out CpuidEntry entry)
    {
        foreach (ref readonly var e in _cpuid.AsSpan())
        {
            if (e.Function == leaf && ((e.Flags & CpuidEntry.FlagSignificantIndex) == 0 || e.Index == subleaf))
            {
                entry = e;
                return true;
            }
        }
        entry = default;
        return false;
    }

    private bool CpuidBit(uint leaf, uint subleaf, int register, int bit)
    {
        if (!TryCpuid(leaf, subleaf, out var e)) return false;
        uint v = register switch { 0 => e.Eax, 1 => e.Ebx, 2 => e.Ecx, _ => e.Edx };
        return (v & (1u << bit)) != 0;
    }

    private void Cpuid()
    {
        ref var regs = ref _state.Registers;
        TryCpuid((uint)regs.Rax, (uint)regs.Rcx, out var e);
        regs.Rax = e.Eax;
        regs.Rbx = e.Ebx;
        regs.Rcx = e.Ecx;
        regs.Rdx = e.Edx;
    }

    private void Rdtsc(bool withAux)
    {
        if ((_state.Special.Cr4 & Cr4Tsd) != 0 && _cpl != 0) throw GuestFaultException.Gp(0);
        ref var regs = ref _state.Registers;
        ulong tsc = HostTsc.Read();
        regs.Rax = (uint)tsc;
        regs.Rdx = tsc >> 32;
        if (withAux) regs.Rcx = (uint)_msrs.TscAux;
    }

    private void Rdmsr()
    {
        RequireCpl0();
        ref var regs = ref _state.Registers;
        uint index = (uint)regs.Rcx;
        if (TryReadMsr(index, out ulong value))
        {
            regs.Rax = (uint)value;
            regs.Rdx = value >> 32;
            return;
        }
        RequestStop(InterpreterStop.MsrRead);
        _exit = default;
        _exit.MsrIndex = index;
        _msrPending = MsrPending.Read;
        _msrNextRip = regs.Rip;
        regs.Rip = CurrentRip;
    }

    private void Wrmsr()
    {
        RequireCpl0();
        ref var regs = ref _state.Registers;
        uint index = (uint)regs.Rcx;
        ulong value = (regs.Rdx << 32) | (uint)regs.Rax;
        if (TryWriteMsr(index, value)) return;
        RequestStop(InterpreterStop.MsrWrite);
        _exit = default;
        _exit.MsrIndex = index;
        _exit.MsrData = value;
        _msrPending = MsrPending.Write;
        _msrNextRip = regs.Rip;
        regs.Rip = CurrentRip;
    }

    private ulong ReadControlRegister(Register cr)
    {
        RequireCpl0();
        ref var sr = ref _state.Special;
        return (cr - Register.CR0) switch
        {
            0 => sr.Cr0,
            2 => sr.Cr2,
            3 => sr.Cr3,
            4 => sr.Cr4,
            8 when _is64 => sr.Cr8,
            _ => throw GuestFaultException.Ud(),
        };
    }

    private void WriteControlRegister(Register cr, ulong value)
    {
        RequireCpl0();
        ref var sr = ref _state.Special;
        if (!_is64) value &= 0xFFFF_FFFF;
        switch (cr - Register.CR0)
        {
            case 0:
            {
                if ((value >> 32) != 0) throw GuestFaultException.Gp(0);
                if ((value & X86Flags.Cr0Pg) != 0 && (value & X86Flags.Cr0Pe) == 0) throw GuestFaultException.Gp(0);
                if ((value & Cr0Nw) != 0 && (value & Cr0Cd) == 0) throw GuestFaultException.Gp(0);
                bool paging = (value & X86Flags.Cr0Pg) != 0;
                bool enabling = paging && (sr.Cr0 & X86Flags.Cr0Pg) == 0;
                if (enabling && (sr.Efer & X86Flags.EferLme) != 0 && ((sr.Cr4 & X86Flags.Cr4Pae) == 0 || sr.Cs.L != 0))
                    throw GuestFaultException.Gp(0);
                if (!paging && _is64) throw GuestFaultException.Gp(0);
                ulong efer = sr.Efer & ~X86Flags.EferLma;
                if (paging && (efer & X86Flags.EferLme) != 0) efer |= X86Flags.EferLma;
                sr.Cr0 = value | Cr0Et;
                sr.Efer = efer;
                FlushTlb();
                break;
            }
            case 2:
                sr.Cr2 = value;
                break;
            case 3:
                if (_longMode && (value & ~(1UL << 63)) >> Math.Clamp(_state.MaxPhysicalAddressBits, 32, 52) != 0) throw GuestFaultException.Gp(0);
                sr.Cr3 = value & ~(1UL << 63);
                FlushTlb();
                break;
            case 4:
                if ((value & ~Cr4Allowed) != 0) throw GuestFaultException.Gp(0);
                if (_longMode && (value & X86Flags.Cr4Pae) == 0) throw GuestFaultException.Gp(0);
                sr.Cr4 = value;
                FlushTlb();
                break;
            case 8:
                if (!_is64) throw GuestFaultException.Ud();
                if ((value & ~0xFUL) != 0) throw GuestFaultException.Gp(0);
                sr.Cr8 = value;
                break;
            default:
                throw GuestFaultException.Ud();
        }
    }

    private void LoadDescriptorTable(in Instruction i, bool idt)
    {
        RequireCpl0();
        int baseSize = _is64 ? 8 : 4;
        ulong linear = MemoryLinear(i, 2 + baseSize, false);
        ushort limit = (ushort)ReadLinear(linear, 2);
        ulong tableBase = ReadLinear(linear + 2, baseSize);
        if (i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16) tableBase &= 0xFF_FFFF;
        if (_is64 && !IsCanonical(tableBase)) throw GuestFaultException.Gp(0);
        var table = new X86DescriptorTable { Base = tableBase, Limit = limit };
        if (idt) _state.Special.Idt = table; else _state.Special.Gdt = table;
    }

    private void StoreDescriptorTable(in Instruction i, bool idt)
    {
        int baseSize = _is64 ? 8 : 4;
        var table = idt ? _state.Special.Idt : _state.Special.Gdt;
        ulong linear = MemoryLinear(i, 2 + baseSize, true);
        WriteLinear(linear, 2, table.Limit);
        WriteLinear(linear + 2, baseSize, table.Base);
    }

    private void RequireProtectedMode()
    {
        if ((_state.Special.Cr0 & X86Flags.Cr0Pe) == 0 || Vm86) throw GuestFaultException.Ud();
    }

    private void Lldt(in Instruction i)
    {
        RequireProtectedMode();
        RequireCpl0();
        ushort selector = (ushort)ReadOperand(i, 0, 2);
        if ((selector & 0xFFFC) == 0)
        {
            _state.Special.Ldt = SegmentRegisterExtensions.NullSegment(selector);
            return;
        }
        uint err = SegmentLoader.SelectorError(selector, false);
        if ((selector & 4) != 0) throw GuestFaultException.Gp(err);
        var d = SegmentLoader.Read(_state, selector, X86Vectors.GeneralProtection, false, sixteenBytes: _longMode);
        if (d.S || d.Type != SegmentDescriptor.TypeLdt) throw GuestFaultException.Gp(err);
        if (!d.Present) throw GuestFaultException.Np(err);
        var ldt = d.ToSegment(selector);
        if (_longMode) ldt.Base = d.Base64;
        _state.Special.Ldt = ldt;
    }

    private void Ltr(in Instruction i)
    {
        RequireProtectedMode();
        RequireCpl0();
        ushort selector = (ushort)ReadOperand(i, 0, 2);
        uint err = SegmentLoader.SelectorError(selector, false);
        if ((selector & 0xFFFC) == 0) throw GuestFaultException.Gp(0);
        if ((selector & 4) != 0) throw GuestFaultException.Gp(err);
        var d = SegmentLoader.Read(_state, selector, X86Vectors.GeneralProtection, false, sixteenBytes: _longMode);
        bool available = _longMode ? d.Type == SegmentDescriptor.TypeTssAvailable
            : d.Type is SegmentDescriptor.TypeTssAvailable or SegmentDescriptor.TypeTss16Available;
        if (d.S || !available) throw GuestFaultException.Gp(err);
        if (!d.Present) throw GuestFaultException.Np(err);
        SegmentLoader.SetTssBusy(_state, selector);
        var tr = d.ToSegment(selector);
        tr.Type |= 2;
        if (_longMode) tr.Base = d.Base64;
        _state.Special.Tr = tr;
    }

    /// <summary>SLDT/STR/SMSW: a register destination gets the value zero-extended, memory gets 16 bits.</summary>
    private void StoreSelector(in Instruction i, ushort value, bool fullRegister = false)
    {
        if (i.Mnemonic != Mnemonic.Smsw) RequireProtectedMode();
        if (i.Op0Kind == OpKind.Register)
        {
            ulong v = fullRegister ? _state.Special.Cr0 & Flags.Mask(RegisterTable.Size[(int)i.Op0Register]) : value;
            WriteReg(i.Op0Register, v);
        }
        else
        {
            WriteLinear(MemoryLinear(i, 2, true), 2, value);
        }
    }

    /// <summary>LMSW: loads CR0[3:0] (PE can be set but not cleared).</summary>
    private void Lmsw(in Instruction i)
    {
        RequireCpl0();
        ulong value = ReadOperand(i, 0, 2);
        ref var sr = ref _state.Special;
        sr.Cr0 = (sr.Cr0 & ~0xEUL) | (value & 0xF) | (sr.Cr0 & 1);
    }

    /// <summary>INVLPG: flushes the whole software TLB (cheap, and correct for large pages too).</summary>
    private void Invlpg(in Instruction i)
    {
        RequireCpl0();
        _ = EffectiveAddress(i);
        FlushTlb();
    }

    private void Swapgs()
    {
        if (!_is64) throw GuestFaultException.Ud();
        RequireCpl0();
        ref var gs = ref _state.Special.Gs;
        (gs.Base, _msrs.KernelGsBase) = (_msrs.KernelGsBase, gs.Base);
    }
}
