using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Accelerator;

/// <summary>
/// What runs guest code: KVM, or XenSharp's own x86 and AArch64 CPUs. The hypervisor core speaks
/// only to these interfaces. An accelerator runs guests of one <see cref="Architecture"/>; its
/// virtual machines are <see cref="IX86VirtualMachine"/> or <see cref="IArmVirtualMachine"/>.
/// </summary>
public interface IAccelerator
{
    /// <summary>Short name for logs and `xl info` ("kvm").</summary>
    string Name { get; }

    /// <summary>The guests' instruction set.</summary>
    GuestArchitecture Architecture => GuestArchitecture.X86;

    /// <summary>The CPUID leaves this accelerator can give a guest (the host's, filtered).</summary>
    ReadOnlySpan<CpuidEntry> SupportedCpuid { get; }

    /// <summary>Creates a VM whose guest-physical memory is <paramref name="memory"/>.</summary>
    IVirtualMachine CreateVirtualMachine(GuestMemory memory);
}

/// <summary>One guest's address space and its vCPUs.</summary>
public interface IVirtualMachine : IDisposable
{
}

/// <summary>An x86 guest's address space; its vCPUs are created one by one with their CPUID.</summary>
public interface IX86VirtualMachine : IVirtualMachine
{
    /// <summary>Creates vCPU number <paramref name="index"/> with the given CPUID table.</summary>
    IVcpu CreateVcpu(int index, ReadOnlySpan<CpuidEntry> cpuid);
}

/// <summary>
/// One virtual CPU. Run, register access and Complete* are called from the one thread that runs
/// this vCPU; Kick may be called from any thread.
/// </summary>
public interface IVcpu : IDisposable
{
    /// <summary>Enters the guest until the next exit, described in <see cref="Exit"/>.</summary>
    void Run();

    /// <summary>The last exit (valid after Run returns).</summary>
    ref VcpuExit Exit { get; }

    /// <summary>The general registers: a live copy, valid after Run; call MarkRegistersDirty after changing it.</summary>
    ref X86Registers Registers { get; }

    /// <summary>The special registers as of the last exit (read-only view).</summary>
    ref readonly X86SpecialRegisters SpecialRegisters { get; }

    /// <summary>Makes changes to <see cref="Registers"/> take effect at the next Run.</summary>
    void MarkRegistersDirty();

    /// <summary>Replaces the special registers (takes effect at the next Run).</summary>
    void SetSpecialRegisters(in X86SpecialRegisters sregs);

    /// <summary>Replaces the general registers.</summary>
    void SetRegisters(in X86Registers regs);

    /// <summary>Answers an MsrRead exit: <paramref name="fault"/> injects #GP instead.</summary>
    void CompleteMsrRead(ulong value, bool fault);

    /// <summary>Answers an MsrWrite exit: <paramref name="fault"/> injects #GP instead.</summary>
    void CompleteMsrWrite(bool fault);

    /// <summary>For an I/O read exit, the value the guest reads.</summary>
    void CompleteIoRead(ulong value);

    /// <summary>For an MMIO read exit, the value the guest reads (its low Exit.Size bytes).</summary>
    void CompleteMmioRead(ulong value);

    /// <summary>Makes a Run in progress (or the next one) return promptly with Interrupted. Thread-safe.</summary>
    void Kick();

    /// <summary>
    /// The guest's TSC minus the host's (KVM starts a vCPU's TSC near 0 at creation); constant
    /// while the TSC is not written. Accelerators whose guests see the host TSC return 0.
    /// </summary>
    long TscOffset => 0;

    /// <summary>
    /// Delivers external interrupt <paramref name="vector"/> through the guest's IDT as soon as
    /// the guest can take it (IF set, no interrupt shadow); until then the vCPU asks to exit
    /// when it can. Called from the vCPU's own thread before Run.
    /// </summary>
    void QueueInterrupt(byte vector);

    /// <summary>Whether an interrupt queued with QueueInterrupt is still waiting to be injected.</summary>
    bool InterruptQueued { get; }

    /// <summary>Drops a queued interrupt that has not been injected yet (its cause went away).</summary>
    void CancelQueuedInterrupt();

    /// <summary>Injects exception <paramref name="vector"/> (with an error code when given) at the next Run.</summary>
    void InjectException(byte vector, uint? errorCode);

    /// <summary>The vCPU's event state as of the last exit; writable with SetEvents.</summary>
    ref readonly X86VcpuEvents Events { get; }

    /// <summary>Replaces the event state (takes effect at the next Run).</summary>
    void SetEvents(in X86VcpuEvents events);
}
