using XenSharp.Hypervisor.Time;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// RDMSR/WRMSR of the MSRs the interpreter keeps: TSC (read; a write goes to the caller), APIC_BASE
/// (<see cref="Hypervisor.Cpu.X86SpecialRegisters.ApicBase"/>), MTRRcap (reads 0, writes ignored),
/// MTRR default type, PAT, MISC_ENABLE, SYSENTER_CS/ESP/EIP, EFER, STAR/LSTAR/CSTAR/SFMASK,
/// FS_BASE/GS_BASE (segment bases), KERNEL_GS_BASE, TSC_AUX. Everything else stops Run.
/// Bad values → #GP(0): EFER reserved bits or LME changed while paging is on, non-canonical
/// bases and entry points, PAT entries with reserved memory types.
/// </summary>
public sealed partial class X86Interpreter
{
    private const ulong EferAllowed = X86Flags.EferSce | X86Flags.EferLme | X86Flags.EferLma | X86Flags.EferNxe;

    private bool TryReadMsr(uint index, out ulong value)
    {
        ref var sr = ref _state.Special;
        switch (index)
        {
            case InterpreterMsrs.Tsc: value = HostTsc.Read(); return true;
            case InterpreterMsrs.ApicBase: value = sr.ApicBase; return true;
            case InterpreterMsrs.MtrrCap: value = 0; return true;
            case InterpreterMsrs.MtrrDefTypeIndex: value = _msrs.MtrrDefType; return true;
            case InterpreterMsrs.PatIndex: value = _msrs.Pat; return true;
            case InterpreterMsrs.MiscEnableIndex: value = _msrs.MiscEnable; return true;
            case InterpreterMsrs.SysenterCsIndex: value = _msrs.SysenterCs; return true;
            case InterpreterMsrs.SysenterEspIndex: value = _msrs.SysenterEsp; return true;
            case InterpreterMsrs.SysenterEipIndex: value = _msrs.SysenterEip; return true;
            case InterpreterMsrs.Efer: value = sr.Efer; return true;
            case InterpreterMsrs.StarIndex: value = _msrs.Star; return true;
            case InterpreterMsrs.LstarIndex: value = _msrs.Lstar; return true;
            case InterpreterMsrs.CstarIndex: value = _msrs.Cstar; return true;
            case InterpreterMsrs.SfmaskIndex: value = _msrs.Sfmask; return true;
            case InterpreterMsrs.FsBase: value = sr.Fs.Base; return true;
            case InterpreterMsrs.GsBase: value = sr.Gs.Base; return true;
            case InterpreterMsrs.KernelGsBaseIndex: value = _msrs.KernelGsBase; return true;
            case InterpreterMsrs.TscAuxIndex: value = _msrs.TscAux; return true;
            default: value = 0; return false;
        }
    }

    private static ulong Canonical(ulong value) => IsCanonical(value) ? value : throw GuestFaultException.Gp(0);

    private bool TryWriteMsr(uint index, ulong value)
    {
        ref var sr = ref _state.Special;
        switch (index)
        {
            case InterpreterMsrs.ApicBase: sr.ApicBase = value; return true;
            case InterpreterMsrs.MtrrCap: return true;
            case InterpreterMsrs.MtrrDefTypeIndex: _msrs.MtrrDefType = value; return true;
            case InterpreterMsrs.PatIndex:
                for (int k = 0; k < 8; k++)
                    if (((value >> (8 * k)) & 0xFF) is not (0 or 1 or 4 or 5 or 6 or 7)) throw GuestFaultException.Gp(0);
                _msrs.Pat = value;
                return true;
            case InterpreterMsrs.MiscEnableIndex: _msrs.MiscEnable = value; return true;
            case InterpreterMsrs.SysenterCsIndex: _msrs.SysenterCs = value & 0xFFFF; return true;
            case InterpreterMsrs.SysenterEspIndex: _msrs.SysenterEsp = Canonical(value); return true;
            case InterpreterMsrs.SysenterEipIndex: _msrs.SysenterEip = Canonical(value); return true;
            case InterpreterMsrs.Efer:
            {
                if ((value & ~EferAllowed) != 0) throw GuestFaultException.Gp(0);
                if ((sr.Cr0 & X86Flags.Cr0Pg) != 0 && ((value ^ sr.Efer) & X86Flags.EferLme) != 0) throw GuestFaultException.Gp(0);
                ulong lma = (value & X86Flags.EferLme) != 0 && (sr.Cr0 & X86Flags.Cr0Pg) != 0 ? X86Flags.EferLma : 0;
                sr.Efer = (value & ~X86Flags.EferLma) | lma;
                FlushTlb();
                return true;
            }
            case InterpreterMsrs.StarIndex: _msrs.Star = value; return true;
            case InterpreterMsrs.LstarIndex: _msrs.Lstar = Canonical(value); return true;
            case InterpreterMsrs.CstarIndex: _msrs.Cstar = Canonical(value); return true;
            case InterpreterMsrs.SfmaskIndex: _msrs.Sfmask = value & 0xFFFF_FFFF; return true;
            case InterpreterMsrs.FsBase: sr.Fs.Base = Canonical(value); return true;
            case InterpreterMsrs.GsBase: sr.Gs.Base = Canonical(value); return true;
            case InterpreterMsrs.KernelGsBaseIndex: _msrs.KernelGsBase = Canonical(value); return true;
            case InterpreterMsrs.TscAuxIndex: _msrs.TscAux = value & 0xFFFF_FFFF; return true;
            default: return false;
        }
    }
}
