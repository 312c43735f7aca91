namespace XenSharp.X86Emulation;

/// <summary>
/// Thrown inside the emulator when the instruction raises an architectural exception. It never
/// escapes <see cref="X86InstructionEmulator.Emulate"/>, which turns it into
/// <see cref="EmulationOutcome.Fault"/>. Faults are rare, so an exception keeps the instruction
/// code readable without costing the common path anything.
/// </summary>
public sealed class GuestFaultException(PendingException fault) : Exception(fault.ToString())
{
    public PendingException Fault { get; } = fault;

    public static GuestFaultException Gp(uint code) => new(PendingException.Gp(code));
    public static GuestFaultException Ss(uint code) => new(PendingException.Ss(code));
    public static GuestFaultException Np(uint code) => new(PendingException.Np(code));
    public static GuestFaultException Ts(uint code) => new(PendingException.Ts(code));
    public static GuestFaultException Ud() => new(PendingException.Ud());
}

/// <summary>
/// Thrown when the emulator meets something it does not implement (task switches, MMIO operands,
/// page tables outside guest memory…). Turned into <see cref="EmulationOutcome.Unsupported"/>.
/// </summary>
public sealed class EmulationUnsupportedException(string reason) : Exception(reason);
