namespace XenSharp.Arm64;

/// <summary>Why <see cref="Arm64Cpu.Run"/> returned.</summary>
public enum Arm64Stop
{
    /// <summary>The instruction budget is used up; nothing is pending.</summary>
    Budget,
    /// <summary>
    /// HVC at EL1: <see cref="Arm64Exit.Immediate"/> is the 16-bit immediate (Xen: 0xEA1 with
    /// x16 = hypercall number, x0–x4 arguments; PSCI: 0 with x0 = function id). PC is already past
    /// the HVC: the caller writes x0 (and whatever else) and calls Run again.
    /// </summary>
    Hvc,
    /// <summary>SMC at EL1, handled like <see cref="Hvc"/> (as Xen traps it with HCR_EL2.TSC); PC is past it.</summary>
    Smc,
    /// <summary>
    /// A data access to a guest-physical address outside RAM: Address, Size, IsWrite, Data.
    /// A read left the CPU before the instruction (nothing changed): answer with
    /// <see cref="Arm64Cpu.CompleteMmioRead"/> and Run again, which re-executes it with the value.
    /// A write has completed (the instruction retired) and needs no answer.
    /// </summary>
    Mmio,
    /// <summary>WFI with no interrupt line raised; PC is past the WFI. Run again when a line goes up.</summary>
    Wfi,
    /// <summary>Something the CPU does not implement; <see cref="Arm64Exit.Reason"/> says what. State is as before the instruction.</summary>
    Unsupported,
}

/// <summary>Details of the last stop (only the fields that stop kind names are meaningful).</summary>
public struct Arm64Exit
{
    /// <summary>HVC/SMC immediate.</summary>
    public ushort Immediate;
    /// <summary>Guest-physical address of an MMIO access.</summary>
    public ulong Address;
    /// <summary>Access size in bytes (1, 2, 4 or 8).</summary>
    public int Size;
    public bool IsWrite;
    /// <summary>The value written by an MMIO write, zero-extended.</summary>
    public ulong Data;
    /// <summary>The virtual address of an MMIO access (what the guest used).</summary>
    public ulong VirtualAddress;
    public string? Reason;
}
