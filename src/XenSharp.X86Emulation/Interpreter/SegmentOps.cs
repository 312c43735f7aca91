using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Loading a data or stack segment register (MOV Sreg, POP Sreg, LDS…LSS), Intel SDM vol. 2 "MOV",
/// vol. 3 §5.10: real mode loads base = selector × 16 and keeps the cached limit and attributes
/// ("unreal" mode keeps working); virtual-8086 mode loads a 64 KiB data segment at DPL 3.
/// Protected mode:
/// <list type="bullet">
/// <item>SS: null → #GP(0) (64-bit mode allows a null SS at CPL &lt; 3 when RPL = CPL); beyond the
///   table → #GP(sel); RPL ≠ CPL, not writable data or DPL ≠ CPL → #GP(sel); not present → #SS(sel).</item>
/// <item>DS/ES/FS/GS: null → the register becomes unusable; beyond the table → #GP(sel); not data and
///   not readable code → #GP(sel); data or non-conforming code with DPL &lt; max(CPL, RPL) → #GP(sel);
///   not present → #NP(sel).</item>
/// </list>
/// The descriptor's Accessed bit is set; nothing changes when a check fails.
/// </summary>
public sealed partial class X86Interpreter
{
    private void LoadSegment(SegmentRegister seg, ushort selector)
    {
        ref var sr = ref _state.Special;
        ref X86Segment target = ref sr.Get(seg);
        bool pe = (sr.Cr0 & X86Flags.Cr0Pe) != 0;
        if (!pe)
        {
            target.Selector = selector;
            target.Base = (ulong)selector << 4;
            return;
        }
        if (Vm86)
        {
            target = SegmentRegisterExtensions.RealModeSegment(selector, false, 3);
            return;
        }
        int cpl = _cpl;
        int rpl = selector & 3;
        uint err = SegmentLoader.SelectorError(selector, false);
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == SegmentRegister.Ss)
            {
                if (_is64 && cpl < 3 && rpl == cpl) { target = SegmentLoader.NullStack(cpl) with { Selector = selector }; return; }
                throw GuestFaultException.Gp(0);
            }
            target = SegmentRegisterExtensions.NullSegment(selector);
            return;
        }
        var d = SegmentLoader.Read(_state, selector, X86Vectors.GeneralProtection, false);
        if (seg == SegmentRegister.Ss)
        {
            if (rpl != cpl || !d.IsWritableData || d.Dpl != cpl) throw GuestFaultException.Gp(err);
            if (!d.Present) throw GuestFaultException.Ss(err);
        }
        else
        {
            if (!d.IsData && !(d.IsCode && d.IsReadable)) throw GuestFaultException.Gp(err);
            if ((d.IsData || !d.IsConformingCode) && d.Dpl < Math.Max(cpl, rpl)) throw GuestFaultException.Gp(err);
            if (!d.Present) throw GuestFaultException.Np(err);
        }
        SegmentLoader.SetAccessed(_state, selector, d);
        var loaded = d.ToSegment(selector);
        loaded.Type |= 1;
        target = loaded;
    }
}
