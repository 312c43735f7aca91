using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>
/// Logical (segment:offset) → linear address with the architectural checks of a data or stack
/// access (Intel SDM vol. 3 §5.3, §3.4.5.1; AMD APM vol. 2 §4.12):
/// <list type="bullet">
/// <item>64-bit mode: base is 0 except for FS/GS; the whole access must be canonical, else
///   #SS(0) for stack accesses and #GP(0) otherwise.</item>
/// <item>Real and virtual-8086 mode: base + offset, offset range checked against the cached limit.</item>
/// <item>Protected mode: an unusable (null) segment → #GP(0) (#SS(0) for SS); a write to a code or
///   read-only data segment, or a read of an execute-only code segment → #GP(0); expand-up: the last
///   byte must be ≤ limit; expand-down (data type bit 2): the first byte must be &gt; limit and the last
///   ≤ 0xFFFF or 0xFFFFFFFF (by the B bit). Violations → #GP(0), or #SS(0) for SS.</item>
/// </list>
/// </summary>
public static class SegmentedAccess
{
    public static ulong Linear(X86EmulationState state, SegmentRegister register, ulong offset, int size, bool write) =>
        Linear(state, in state.Special.Get(register), register is SegmentRegister.Fs or SegmentRegister.Gs,
               register == SegmentRegister.Ss, offset, size, write, 0);

    /// <summary>General form: <paramref name="stackFaultCode"/> is the #SS error code for stack accesses.</summary>
    public static ulong Linear(X86EmulationState state, in X86Segment seg, bool baseAppliesIn64, bool isStack,
        ulong offset, int size, bool write, uint stackFaultCode)
    {
        GuestFaultException Fault() => isStack ? GuestFaultException.Ss(stackFaultCode) : GuestFaultException.Gp(0);

        if (state.Is64BitMode)
        {
            ulong linear = (baseAppliesIn64 ? seg.Base : 0) + offset;
            if (!IsCanonical(linear) || !IsCanonical(linear + (ulong)size - 1)) throw Fault();
            return linear;
        }
        if (state.ProtectedMode && !state.Virtual8086)
        {
            if (seg.Unusable != 0 || seg.Present == 0) throw Fault();
            bool code = (seg.Type & 8) != 0;
            if (write && (code || (seg.Type & 2) == 0)) throw Fault();
            if (!write && code && (seg.Type & 2) == 0) throw Fault();
        }
        ulong last = offset + (ulong)size - 1;
        bool expandDown = (seg.Type & 0xC) == 4 && seg.S != 0;
        if (expandDown)
        {
            ulong upper = seg.Db != 0 ? 0xFFFF_FFFF : 0xFFFF;
            if (offset <= seg.Limit || last > upper) throw Fault();
        }
        else if (last > seg.Limit)
        {
            throw Fault();
        }
        return (seg.Base + offset) & 0xFFFF_FFFF;
    }

    public static bool IsCanonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;

    public static PageAccess DataAccess(X86EmulationState state, bool write) =>
        LinearMemory.ForCpl(state.Cpl, write ? PageAccess.Write : PageAccess.Read);

    public static ulong ReadUInt(X86EmulationState state, SegmentRegister register, ulong offset, int size)
    {
        ulong linear = Linear(state, register, offset, size, false);
        return LinearMemory.ReadUInt(state, linear, size, DataAccess(state, false));
    }

    public static void WriteUInt(X86EmulationState state, SegmentRegister register, ulong offset, int size, ulong value)
    {
        ulong linear = Linear(state, register, offset, size, true);
        LinearMemory.WriteUInt(state, linear, size, value, DataAccess(state, true));
    }
}
