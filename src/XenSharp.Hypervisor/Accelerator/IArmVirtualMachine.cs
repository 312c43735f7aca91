namespace XenSharp.Hypervisor.Accelerator;

/// <summary>
/// An AArch64 guest's machine: its memory, its vCPUs and the platform around them that an ARM
/// hypervisor keeps next to the CPU (as KVM/arm64 keeps the vGIC and the timers in the kernel):
/// the GICv3 with its ITS, the generic timers, and MMIO devices such as the SBSA UART. The core
/// sees only what needs a hypervisor decision: hypercalls, PSCI calls, WFI, accesses to addresses
/// no device claims, and faults of the CPU itself.
/// </summary>
public interface IArmVirtualMachine : IVirtualMachine
{
    /// <summary>Creates the machine's vCPUs 0..count-1 (once; the interrupt controller is sized by it).</summary>
    IReadOnlyList<IArmVcpu> CreateVcpus(int count);
}

/// <summary>
/// One AArch64 vCPU. Run, register access and the Complete/Inject calls happen on the thread
/// that runs this vCPU; Kick and the <see cref="Wakeup"/> callback may come from any thread.
///
/// Exits: <see cref="VcpuExitKind.Hypercall"/> (HVC #0xEA1: number in x16, arguments x0–x4,
/// the result goes to x0), <see cref="VcpuExitKind.Psci"/> (HVC #0 or SMC #0: SMCCC function id
/// in x0, arguments x1–x3, result x0), <see cref="VcpuExitKind.Halt"/> (WFI with no interrupt
/// pending), <see cref="VcpuExitKind.Mmio"/> (an address neither RAM nor a device: answer with
/// <see cref="InjectExternalAbort"/> or <see cref="CompleteMmioRead"/>), Interrupted (Kick),
/// InternalError (Detail says what the CPU could not do).
/// </summary>
public interface IArmVcpu : IDisposable
{
    /// <summary>Runs guest code until the next exit, described in <see cref="Exit"/>.</summary>
    void Run();

    ref VcpuExit Exit { get; }

    /// <summary>Makes a Run in progress (or the next one) return promptly with Interrupted. Thread-safe.</summary>
    void Kick();

    /// <summary>Xn (n = 0..30).</summary>
    ulong GetX(int n);
    void SetX(int n, ulong value);

    /// <summary>The program counter (for messages).</summary>
    ulong Pc { get; }

    /// <summary>SCTLR_EL1.M: the stage-1 MMU is on (addresses the guest passes are virtual).</summary>
    bool MmuEnabled { get; }

    /// <summary>The vCPU's MPIDR_EL1 affinity (Aff1:Aff0, as PSCI names CPUs).</summary>
    ulong Affinity { get; }

    /// <summary>
    /// Puts the vCPU in the state a CPU leaves reset with (booting.rst, and PSCI CPU_ON): EL1h,
    /// D/A/I/F masked, MMU and caches off, every register 0 except PC = <paramref name="entry"/>
    /// and x0 = <paramref name="x0"/>.
    /// </summary>
    void Reset(ulong entry, ulong x0);

    /// <summary>The level of the event-channel interrupt (GUEST_EVTCHN_PPI): high while evtchn_upcall_pending is set.</summary>
    void SetEventUpcall(bool asserted);

    /// <summary>Whether an interrupt is pending for this CPU — what ends a WFI, whatever PSTATE.I says.</summary>
    bool WakeupPending { get; }

    /// <summary>When this vCPU's next generic-timer interrupt fires, in <see cref="Time.HostClock"/> ns; null when no timer is armed.</summary>
    long? NextTimerEventNs { get; }

    /// <summary>Called, from any thread, when an interrupt may have become pending for this vCPU (wake it from WFI).</summary>
    Action? Wakeup { get; set; }

    /// <summary>Answers an MMIO read exit with a value (the instruction is re-executed with it).</summary>
    void CompleteMmioRead(ulong value);

    /// <summary>Answers an MMIO exit with a synchronous external abort (a data abort at the faulting instruction, FAR = its address).</summary>
    void InjectExternalAbort();

    /// <summary>Makes the instruction that caused the last exit UNDEFINED for the guest (an exception with EC 0 at it).</summary>
    void InjectUndefined();

    /// <summary>Guest instructions this vCPU has executed.</summary>
    long InstructionsRetired { get; }
}
