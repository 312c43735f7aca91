using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>
/// System instructions: hints (WFI stops Run, the rest are NOPs — including the PAC/BTI hints),
/// barriers (NOPs; CLREX clears the monitor), MSR immediate (DAIFSet/DAIFClr/SPSel), SYS
/// (DC ZVA zeroes a block, other DC/IC are NOPs because the decode cache validates words,
/// TLBI flushes the TLB, AT fills PAR_EL1), MSR/MRS.
/// System registers: the CPU owns those listed in <see cref="TryReadOwned"/>; any other encoding
/// goes to <see cref="IArm64SystemRegisterHost"/> synchronously; if the host declines, the
/// instruction is UNDEFINED — except reads in the ID register space (op0=3, op1=0, CRn=0),
/// which read as zero as the architecture reserves them.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>MIDR_EL1 reported to the guest (default: Arm Cortex-A57 r1p3, a common "generic" value).</summary>
    public ulong Midr { get; set; } = 0x411F_D073;
    /// <summary>ID_AA64PFR0_EL1: EL0/EL1 AArch64 only, FP and AdvSIMD, GIC system registers.</summary>
    public ulong IdAa64Pfr0 { get; set; } = 0x0000_0000_0100_0011;
    /// <summary>ID_AA64ISAR0_EL1: LSE atomics.</summary>
    public ulong IdAa64Isar0 { get; set; } = 0x0000_0000_0020_0000;
    /// <summary>ID_AA64MMFR0_EL1: 48-bit PA, 8-bit ASID, 4 KiB granule only.</summary>
    public ulong IdAa64Mmfr0 { get; set; } = 0x0000_0000_F000_0005;

    private void ExecHint(ref A64Inst d)
    {
        uint op = (d.Raw >> 5) & 0x7F; // CRm:op2
        if (op == 3) // WFI
        {
            if (_el == 0 && ((_sctlr >> 16) & 1) == 0) throw SyncException(0x01, 0); // nTWI=0 traps EL0 WFI
            if (!AnyLineUp) StopAfter(Arm64Stop.Wfi);
        }
        // NOP, YIELD, WFE, SEV, SEVL, PAC/BTI hints...: nothing to do.
    }

    private void ExecBarrier(ref A64Inst d)
    {
        uint op2 = (d.Raw >> 5) & 7;
        if (op2 == 2) _exclusiveValid = false; // CLREX
        // DSB, DMB, ISB, SB: execution is in order on one thread; host interlocked ops order RMWs.
        else if (op2 == 4 || op2 == 5) Interlocked.MemoryBarrier();
    }

    private void ExecMsrImm(ref A64Inst d)
    {
        uint op1 = (d.Raw >> 16) & 7, op2 = (d.Raw >> 5) & 7, crm = (d.Raw >> 8) & 15;
        if (op1 == 3 && (op2 == 6 || op2 == 7))
        {
            if (_el == 0 && ((_sctlr >> 9) & 1) == 0) throw Undefined(); // SCTLR.UMA
            if (op2 == 6) _daif |= crm << 6; else _daif &= ~(crm << 6);
            return;
        }
        if (op1 == 0 && op2 == 5)
        {
            if (_el == 0) throw Undefined();
            _spSel = (int)(crm & 1);
            return;
        }
        throw Undefined();
    }

    private void ExecSys(ref A64Inst d)
    {
        uint op1 = (d.Raw >> 16) & 7, crn = (d.Raw >> 12) & 15, crm = (d.Raw >> 8) & 15, op2 = (d.Raw >> 5) & 7;
        int rt = d.Rd;
        if (crn == 8) // TLBI
        {
            if (_el == 0) throw Undefined();
            FlushTlb();
            return;
        }
        if (crn == 7)
        {
            if (op1 == 3 && crm == 4 && op2 == 1) // DC ZVA, 64-byte blocks
            {
                ulong a = X(rt) & ~63UL;
                for (int i = 0; i < 64; i += 8) Write(a + (ulong)i, 8, 0);
                return;
            }
            if (crm == 8 && op1 == 0) // AT S1E1R/W (op2 0/1), S1E0R/W (op2 2/3)
            {
                if (_el == 0) throw Undefined();
                AddressTranslate(X(rt), (op2 & 1) != 0, op2 >= 2);
                return;
            }
            if (crm == 5 || crm == 1 || crm == 6 || crm == 10 || crm == 11 || crm == 14 || crm == 12 || crm == 13)
            {
                // IC IALLU/IALLUIS/IVAU, DC IVAC/ISW/CSW/CISW/CVAC/CVAU/CIVAC/CVAP: no caches to maintain.
                if (_el == 0 && op1 != 3) throw Undefined();
                return;
            }
        }
        throw Undefined();
    }

    private void ExecMrs(ref A64Inst d)
    {
        uint enc = (d.Raw >> 5) & 0xFFFF;
        CheckSysRegAccess(enc);
        if (TryReadOwned(enc, out ulong v) || (_host != null && _host.TryReadSystemRegister(this, enc, out v)))
        {
            SetXr(d.Rd, v);
            return;
        }
        if ((enc >> 7) == ((3u << 7) | 0)) { SetXr(d.Rd, 0); return; } // op0=3, op1=0, CRn=0: RAZ ID space
        throw Undefined();
    }

    private void ExecMsr(ref A64Inst d)
    {
        uint enc = (d.Raw >> 5) & 0xFFFF;
        CheckSysRegAccess(enc);
        ulong v = X(d.Rd);
        if (TryWriteOwned(enc, v)) return;
        if (_host != null && _host.TryWriteSystemRegister(this, enc, v)) return;
        throw Undefined();
    }

    /// <summary>EL0 may use only op1=3 registers (and not TPIDRRO for writes); EL2/EL3 registers are UNDEFINED.</summary>
    private void CheckSysRegAccess(uint enc)
    {
        uint op1 = (enc >> 11) & 7;
        if (op1 is 4 or 5 or 6 or 7 && (enc >> 14) == 3) throw Undefined();
        if (_el == 0 && op1 != 3) throw Undefined();
    }

    private bool TryReadOwned(uint enc, out ulong v)
    {
        switch (enc)
        {
            case SysReg.MIDR_EL1: v = Midr; return true;
            case SysReg.MPIDR_EL1: v = Mpidr; return true;
            case SysReg.REVIDR_EL1: v = 0; return true;
            case SysReg.ID_AA64PFR0_EL1: v = IdAa64Pfr0; return true;
            case SysReg.ID_AA64ISAR0_EL1: v = IdAa64Isar0; return true;
            case SysReg.ID_AA64MMFR0_EL1: v = IdAa64Mmfr0; return true;
            case SysReg.SCTLR_EL1: v = _sctlr; return true;
            case SysReg.CPACR_EL1: v = _cpacr; return true;
            case SysReg.TTBR0_EL1: v = _ttbr0; return true;
            case SysReg.TTBR1_EL1: v = _ttbr1; return true;
            case SysReg.TCR_EL1: v = _tcr; return true;
            case SysReg.SPSR_EL1: v = _spsr; return true;
            case SysReg.ELR_EL1: v = _elr; return true;
            case SysReg.SP_EL0:
                if (_spSel == 0) throw Undefined(); // SP_EL0 is not accessible while it is the current SP
                v = _spEl0; return true;
            case SysReg.SPSel: v = (ulong)_spSel; return true;
            case SysReg.CurrentEL: v = (ulong)(_el << 2); return true;
            case SysReg.NZCV: v = _nzcv; return true;
            case SysReg.DAIF:
                if (_el == 0 && ((_sctlr >> 9) & 1) == 0) throw Undefined();
                v = _daif; return true;
            case SysReg.FPCR: CheckFpEnabled(); v = _fpcr; return true;
            case SysReg.FPSR: CheckFpEnabled(); v = _fpsr; return true;
            case SysReg.AFSR0_EL1: v = _afsr0; return true;
            case SysReg.AFSR1_EL1: v = _afsr1; return true;
            case SysReg.ESR_EL1: v = _esr; return true;
            case SysReg.FAR_EL1: v = _far; return true;
            case SysReg.PAR_EL1: v = _par; return true;
            case SysReg.MAIR_EL1: v = _mair; return true;
            case SysReg.AMAIR_EL1: v = _amair; return true;
            case SysReg.VBAR_EL1: v = _vbar; return true;
            case SysReg.CONTEXTIDR_EL1: v = _contextidr; return true;
            case SysReg.TPIDR_EL1: v = _tpidrEl1; return true;
            case SysReg.TPIDR_EL0: v = _tpidrEl0; return true;
            case SysReg.TPIDRRO_EL0: v = _tpidrroEl0; return true;
            case SysReg.CTR_EL0: v = 0x8444_C004; return true;
            case SysReg.DCZID_EL0: v = 4; return true; // DC ZVA allowed, 64-byte blocks
            case SysReg.MDSCR_EL1: v = _mdscr; return true;
            case SysReg.OSDLR_EL1: v = 0; return true;
        }
        v = 0;
        return false;
    }

    private bool TryWriteOwned(uint enc, ulong v)
    {
        switch (enc)
        {
            case SysReg.SCTLR_EL1: _sctlr = v; FlushTlb(); return true;
            case SysReg.CPACR_EL1: _cpacr = v & (3UL << 20); return true;
            case SysReg.TTBR0_EL1: _ttbr0 = v; FlushTlb(); return true;
            case SysReg.TTBR1_EL1: _ttbr1 = v; FlushTlb(); return true;
            case SysReg.TCR_EL1: _tcr = v; FlushTlb(); return true;
            case SysReg.SPSR_EL1: _spsr = (uint)v; return true;
            case SysReg.ELR_EL1: _elr = v; return true;
            case SysReg.SP_EL0:
                if (_spSel == 0) throw Undefined();
                _spEl0 = v; return true;
            case SysReg.SPSel: _spSel = (int)(v & 1); return true;
            case SysReg.NZCV: _nzcv = (uint)v & 0xF000_0000; return true;
            case SysReg.DAIF:
                if (_el == 0 && ((_sctlr >> 9) & 1) == 0) throw Undefined();
                _daif = (uint)v & 0x3C0; return true;
            case SysReg.FPCR: CheckFpEnabled(); _fpcr = (uint)v; return true;
            case SysReg.FPSR: CheckFpEnabled(); _fpsr = (uint)v; return true;
            case SysReg.AFSR0_EL1: _afsr0 = v; return true;
            case SysReg.AFSR1_EL1: _afsr1 = v; return true;
            case SysReg.ESR_EL1: _esr = v; return true;
            case SysReg.FAR_EL1: _far = v; return true;
            case SysReg.PAR_EL1: _par = v; return true;
            case SysReg.MAIR_EL1: _mair = v; FlushTlb(); return true;
            case SysReg.AMAIR_EL1: _amair = v; return true;
            case SysReg.VBAR_EL1: _vbar = v & ~0x7FFUL; return true;
            case SysReg.CONTEXTIDR_EL1: _contextidr = v; return true;
            case SysReg.TPIDR_EL1: _tpidrEl1 = v; return true;
            case SysReg.TPIDR_EL0: _tpidrEl0 = v; return true;
            case SysReg.TPIDRRO_EL0:
                if (_el == 0) throw Undefined();
                _tpidrroEl0 = v; return true;
            case SysReg.MDSCR_EL1: _mdscr = v; return true;
            case SysReg.OSLAR_EL1: case SysReg.OSDLR_EL1: return true;
        }
        return false;
    }

    /// <summary>Raw access to CPU-owned system registers for the hypervisor (vCPU setup, save/restore). False if the CPU does not own it.</summary>
    public bool TryGetSystemRegister(uint encoding, out ulong value)
    {
        int el = _el; _el = 1;
        try { return TryReadOwned(encoding, out value); } finally { _el = el; }
    }

    public bool TrySetSystemRegister(uint encoding, ulong value)
    {
        int el = _el; _el = 1;
        try { return TryWriteOwned(encoding, value); } finally { _el = el; }
    }
}
