namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// INT n, INT3, INTO and INT1 (ICEBP): a software event delivered by <see cref="InterruptDelivery"/>
/// with the return address after the instruction. INTO does nothing unless OF = 1, and is #UD in
/// 64-bit mode. INT n in virtual-8086 mode with IOPL &lt; 3 raises #GP(0) (no VME).
/// </summary>
internal static class SoftwareInterrupt
{
    public static void Execute(X86EmulationState state, byte vector, InterruptSource source, ulong nextRip)
    {
        InterruptDelivery.Deliver(state, vector, null, source, nextRip);
    }

    public static void Into(X86EmulationState state, ulong nextRip)
    {
        if (state.Is64BitMode) throw GuestFaultException.Ud();
        if ((state.Registers.Rflags & X86Flags.OF) == 0) { state.Registers.Rip = nextRip; return; }
        InterruptDelivery.Deliver(state, X86Vectors.Overflow, null, InterruptSource.SoftwareException, nextRip);
    }
}
