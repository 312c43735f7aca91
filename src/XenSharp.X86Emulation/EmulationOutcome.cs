namespace XenSharp.X86Emulation;

public enum EmulationOutcome
{
    /// <summary>The instruction retired; registers, memory and RIP are updated.</summary>
    Completed,
    /// <summary>The instruction raised <see cref="X86EmulationState.PendingException"/>; registers are as before it (RIP at the instruction).</summary>
    Fault,
    /// <summary>The fault was delivered through the guest's IDT by <see cref="InterruptDelivery"/> (only with DeliverFaultsThroughIdt).</summary>
    FaultDelivered,
    /// <summary>The emulator cannot do this; <see cref="EmulationResult.Reason"/> says why. Registers are as before.</summary>
    Unsupported,
}

/// <summary>What <see cref="X86InstructionEmulator.Emulate"/> did.</summary>
public readonly record struct EmulationResult(EmulationOutcome Outcome, string Mnemonic, string? Reason = null)
{
    public override string ToString() => Reason is null ? $"{Outcome} {Mnemonic}" : $"{Outcome} {Mnemonic}: {Reason}";
}
