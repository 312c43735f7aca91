namespace XenSharp.Arm64;

/// <summary>
/// Exception entry to EL1 and ERET. Synchronous exceptions: SVC (EC 0x15), BRK (0x3C),
/// instruction/data aborts (0x20/0x21, 0x24/0x25 with ISS.WnR and the fault status code, FAR_EL1),
/// PC alignment (0x22), trapped FP/SIMD (0x07), UNDEFINED (EC 0). Asynchronous: IRQ, FIQ, SError.
/// Vector = VBAR_EL1 + group (0x000 EL1 with SP_EL0, 0x200 EL1 with SP_EL1, 0x400 from EL0)
/// + kind (0x000 synchronous, 0x080 IRQ, 0x100 FIQ, 0x180 SError).
/// </summary>
public sealed partial class Arm64Cpu
{
    private const ulong VecSync = 0x000, VecIrq = 0x080, VecFiq = 0x100, VecSError = 0x180;

    private CpuAbort Undefined()
    {
        _faultEc = 0; _faultIss = 0; _faultHasFar = false;
        _abort.Kind = AbortKind.GuestException;
        return _abort;
    }

    private CpuAbort SyncException(uint ec, uint iss)
    {
        _faultEc = ec; _faultIss = iss; _faultHasFar = false;
        _abort.Kind = AbortKind.GuestException;
        return _abort;
    }

    /// <summary>Delivers the fault recorded by the abort helpers; the preferred return address is the faulting instruction.</summary>
    private void DeliverPendingFault()
    {
        if (_faultHasFar) _far = _faultFar;
        TakeException(VecSync, _faultEc, _faultIss, _instrPc);
    }

    /// <summary>Takes an exception to EL1.</summary>
    private void TakeException(ulong kindOffset, uint ec, uint iss, ulong returnAddress)
    {
        ulong group = _el == 0 ? 0x400UL : _spSel != 0 ? 0x200UL : 0x000UL;
        _spsr = Pstate;
        _elr = returnAddress;
        if (kindOffset == VecSync) _esr = (ec << 26) | (1u << 25) | (iss & 0x1FF_FFFF);
        else if (kindOffset == VecSError) _esr = 0x2Fu << 26 | (1u << 25);
        _el = 1;
        _spSel = 1;
        _daif = 0xF << 6;
        _exclusiveValid = false;
        _pc = _vbar + group + kindOffset;
        InvalidateFetch();
    }

    /// <summary>Called at an instruction boundary when a line is up; takes the highest-priority unmasked one.</summary>
    private bool TryTakeInterrupt()
    {
        if (SErrorPending && (_daif & (1 << 8)) == 0)
        {
            SetLine(LineSError, false);
            TakeException(VecSError, 0, 0, _pc);
            return true;
        }
        if (FiqLineUp && (_daif & (1 << 6)) == 0) { TakeException(VecFiq, 0, 0, _pc); return true; }
        if (IrqLineUp && (_daif & (1 << 7)) == 0) { TakeException(VecIrq, 0, 0, _pc); return true; }
        return false;
    }

    private void ExecEret()
    {
        if (_el == 0) throw Undefined();
        uint spsr = _spsr;
        if ((spsr & 0x10) != 0) throw Unsupported("ERET to AArch32");
        uint targetEl = (spsr >> 2) & 3;
        if (targetEl > 1) throw Unsupported($"ERET to EL{targetEl}");
        _nzcv = spsr & 0xF000_0000;
        _daif = spsr & 0x3C0;
        _el = (int)targetEl;
        _spSel = (int)(spsr & 1);
        _pc = _elr;
        _exclusiveValid = false;
        InvalidateFetch();
    }
}
