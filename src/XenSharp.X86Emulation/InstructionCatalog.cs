namespace XenSharp.X86Emulation;

/// <summary>
/// The instructions this host's KVM refused to emulate for guest CPL0 code (exit
/// KVM_EXIT_INTERNAL_ERROR / emulation, RIP at the instruction), and what this emulator does.
///
/// Seen refused by the host:
///   IRET/IRETD/IRETQ in protected and long mode, INT n in protected and long mode, CMPXCHG16B.
///
/// Implemented (and tested):
///   IRET/IRETD/IRETQ  real mode; virtual-8086 (IOPL 3); protected same and outer privilege; return
///                     to virtual-8086 mode; IRETQ in 64-bit mode (always SS:RSP, null SS at RPL&lt;3,
///                     compatibility-mode targets, canonical RIP); EFLAGS rules; NMI unblocking.
///   INT n, INT3, INTO, INT1 (ICEBP)  real mode (IVT), protected mode (16/32-bit interrupt and trap
///                     gates, TSS stack switch, from virtual-8086 mode), long mode (64-bit gates,
///                     RSPn and IST stacks); shared with exception delivery (<see cref="InterruptDelivery"/>).
///   CMPXCHG8B, CMPXCHG16B (alignment #GP, write-permission #PF, atomic as documented in CompareExchange).
///   LAR, LSL, VERR, VERW.
///
/// Not implemented (reported <see cref="EmulationOutcome.Unsupported"/> with the mnemonic):
///   far CALL/JMP/RET (RETF) and call gates; SYSCALL/SYSRET/SYSENTER/SYSEXIT (<see cref="IMsrReader"/>
///   is defined for them); task switches (IRET with NT=1, task gates); CR4.VME virtual-interrupt
///   IRET/INT in virtual-8086 mode; 5-level paging; protection keys; operands in MMIO.
/// </summary>
public static class InstructionCatalog
{
    public static IReadOnlyList<string> RefusedByHost { get; } = ["IRET", "IRETD", "IRETQ", "INT", "CMPXCHG16B"];

    public static IReadOnlyList<string> Implemented { get; } =
        ["IRET", "IRETD", "IRETQ", "INT", "INT3", "INTO", "INT1", "CMPXCHG8B", "CMPXCHG16B", "LAR", "LSL", "VERR", "VERW"];

    public static IReadOnlyList<string> NotImplemented { get; } =
        ["CALL far", "JMP far", "RETF", "SYSCALL", "SYSRET", "SYSENTER", "SYSEXIT", "task switch", "VME"];
}
