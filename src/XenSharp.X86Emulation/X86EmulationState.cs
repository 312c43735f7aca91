using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.X86Emulation;

/// <summary>
/// Everything one emulated instruction may read or change. A class with public fields, so the
/// emulator passes <c>ref state.Registers</c> around and the caller copies the KVM register
/// blocks in before <see cref="X86InstructionEmulator.Emulate"/> and out after it:
/// <code>
/// state.Registers = regs; state.Special = sregs; state.NmiBlocked = nmiMasked;
/// var r = emulator.Emulate(state, bytes);
/// regs = state.Registers; sregs = state.Special; nmiMasked = state.NmiBlocked;
/// </code>
/// One instance per vCPU; not thread-safe.
/// </summary>
public sealed class X86EmulationState(GuestMemory memory)
{
    /// <summary>General-purpose registers, RIP and RFLAGS (struct kvm_regs).</summary>
    public X86Registers Registers;

    /// <summary>Segments, descriptor tables, control registers, EFER (struct kvm_sregs).</summary>
    public X86SpecialRegisters Special;

    /// <summary>Guest-physical memory; every access the emulator makes goes through it.</summary>
    public GuestMemory Memory = memory;

    /// <summary>In: NMIs are blocked (an NMI handler runs). Out: IRET clears it.</summary>
    public bool NmiBlocked;

    /// <summary>Out: the next instruction runs in an interrupt shadow (STI, MOV SS, POP SS). Never set by the instructions implemented now.</summary>
    public bool InterruptShadow;

    /// <summary>Out: the exception raised when the outcome is <see cref="EmulationOutcome.Fault"/>.</summary>
    public PendingException PendingException;

    /// <summary>MSRs for SYSCALL/SYSRET/SYSENTER/SYSEXIT; those instructions are Unsupported without it.</summary>
    public IMsrReader? Msrs;

    /// <summary>
    /// Follow AMD's rules for the fast system calls instead of Intel's (the default): SYSCALL/SYSRET
    /// also work outside 64-bit mode (compatibility mode through CSTAR, legacy protected mode through
    /// STAR[31:0]); SYSENTER/SYSEXIT raise #UD in long mode.
    /// </summary>
    public bool AmdFastSystemCalls;

    /// <summary>The physical-address width (CPUID 0x80000008 EAX[7:0]); entry bits above it are reserved (#PF RSVD).</summary>
    public int MaxPhysicalAddressBits = 52;

    public bool ProtectedMode => (Special.Cr0 & X86Flags.Cr0Pe) != 0;
    public bool LongModeActive => (Special.Efer & X86Flags.EferLma) != 0;
    public bool Is64BitMode => LongModeActive && Special.Cs.L != 0;
    public bool Virtual8086 => ProtectedMode && (Registers.Rflags & X86Flags.VM) != 0 && !LongModeActive;

    /// <summary>Current privilege level: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL (as KVM defines it).</summary>
    public int Cpl => !ProtectedMode ? 0 : Virtual8086 ? 3 : Special.Ss.Dpl;

    /// <summary>Operand/address width of the code segment: 16, 32 or 64.</summary>
    public int CodeBitness => Is64BitMode ? 64 : ProtectedMode && !Virtual8086 && Special.Cs.Db != 0 ? 32 : 16;
}
