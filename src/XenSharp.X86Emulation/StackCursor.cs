using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>
/// Pushes and pops on a stack that may not be SS yet (a new stack during interrupt delivery or a
/// call gate is written before SS:RSP are committed). The stack-pointer width is 64 bits in 64-bit
/// mode, else 32 or 16 by the stack segment's B bit; only those bits of RSP change. Every access
/// is checked by <see cref="SegmentedAccess"/> (#SS(<see cref="FaultCode"/>)) and translated with
/// the privilege <see cref="Cpl"/> (user-mode paging checks at 3).
/// Instructions build a cursor, push/pop, and commit <see cref="Rsp"/> only when nothing faulted.
/// </summary>
public struct StackCursor
{
    public X86Segment Segment;
    public ulong Rsp;
    public int AddressSize;
    public int Cpl;
    public uint FaultCode;
    public bool Is64;

    /// <summary>The current SS:RSP of the vCPU.</summary>
    public static StackCursor Current(X86EmulationState state) => new()
    {
        Segment = state.Special.Ss,
        Rsp = state.Registers.Rsp,
        Is64 = state.Is64BitMode,
        AddressSize = state.Is64BitMode ? 8 : state.Special.Ss.Db != 0 && state.ProtectedMode && !state.Virtual8086 ? 4 : 2,
        Cpl = state.Cpl,
    };

    /// <summary>A new stack (not yet loaded into SS).</summary>
    public static StackCursor For(X86EmulationState state, X86Segment segment, ulong rsp, int cpl, bool is64, uint faultCode) => new()
    {
        Segment = segment, Rsp = rsp, Is64 = is64, AddressSize = is64 ? 8 : segment.Db != 0 ? 4 : 2, Cpl = cpl, FaultCode = faultCode,
    };

    private readonly ulong Mask => AddressSize switch { 8 => ulong.MaxValue, 4 => 0xFFFF_FFFF, _ => 0xFFFF };

    public void Push(X86EmulationState state, ulong value, int size)
    {
        ulong sp = (Rsp - (ulong)size) & Mask;
        ulong linear = LinearOf(state, sp, size, true);
        LinearMemory.WriteUInt(state, linear, size, value, LinearMemory.ForCpl(Cpl, PageAccess.Write));
        Rsp = (Rsp & ~Mask) | sp;
    }

    public ulong Pop(X86EmulationState state, int size)
    {
        ulong sp = Rsp & Mask;
        ulong linear = LinearOf(state, sp, size, false);
        ulong value = LinearMemory.ReadUInt(state, linear, size, LinearMemory.ForCpl(Cpl, PageAccess.Read));
        Rsp = (Rsp & ~Mask) | ((sp + (ulong)size) & Mask);
        return value;
    }

    /// <summary>Reads at RSP + <paramref name="offset"/> without popping (call-gate parameter copy).</summary>
    public readonly ulong Peek(X86EmulationState state, ulong offset, int size)
    {
        ulong sp = (Rsp + offset) & Mask;
        ulong linear = LinearOf(state, sp, size, false);
        return LinearMemory.ReadUInt(state, linear, size, LinearMemory.ForCpl(Cpl, PageAccess.Read));
    }

    public void Adjust(ulong bytes) => Rsp = (Rsp & ~Mask) | ((Rsp + bytes) & Mask);

    private readonly ulong LinearOf(X86EmulationState state, ulong sp, int size, bool write)
    {
        if (Is64)
        {
            if (!SegmentedAccess.IsCanonical(sp) || !SegmentedAccess.IsCanonical(sp + (ulong)size - 1))
                throw GuestFaultException.Ss(FaultCode);
            return sp;
        }
        return SegmentedAccess.Linear(state, in Segment, false, true, sp, size, write, FaultCode);
    }
}
