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
///   far CALL/JMP (ptr16:16/32, m16:16/32/64), RETF, RETF imm16  real and virtual-8086 mode; protected
///                     and long mode (incl. compatibility mode) through code segments (conforming /
///                     non-conforming) and call gates (16/32-bit legacy, 64-bit in long mode): same
///                     privilege, CALL to an inner level with the TSS stack switch and parameter copy,
///                     RETF to an outer level (SS:ESP popped, data segments nulled) (Instructions/FarTransfer.cs).
///   SYSCALL, SYSRET, SYSENTER, SYSEXIT  with the MSRs from <see cref="X86EmulationState.Msrs"/>
///                     (Unsupported without it); Intel rules by default, AMD rules with
///                     <see cref="X86EmulationState.AmdFastSystemCalls"/> (Instructions/FastSystemCall.cs).
///
/// Not implemented (reported <see cref="EmulationOutcome.Unsupported"/> with the mnemonic):
///   task switches (IRET with NT=1, far CALL/JMP to task gates or TSS descriptors); SYSCALL in real mode
///   (AMD rules); CR4.VME virtual-interrupt IRET/INT in virtual-8086 mode; 5-level paging; protection keys;
///   operands in MMIO. <see cref="VcpuInstructionCompleter"/> sets no <see cref="IMsrReader"/> (the
///   accelerator interface exposes no MSR reads), so through it the fast system calls are Unsupported.
/// </summary>
public static class InstructionCatalog
{
    public static IReadOnlyList<string> RefusedByHost { get; } = ["IRET", "IRETD", "IRETQ", "INT", "CMPXCHG16B"];

    public static IReadOnlyList<string> Implemented { get; } =
        ["IRET", "IRETD", "IRETQ", "INT", "INT3", "INTO", "INT1", "CMPXCHG8B", "CMPXCHG16B", "LAR", "LSL", "VERR", "VERW",
         "CALL far", "JMP far", "RETF", "SYSCALL", "SYSRET", "SYSENTER", "SYSEXIT"];

    public static IReadOnlyList<string> NotImplemented { get; } =
        ["task switch", "VME"];
}
