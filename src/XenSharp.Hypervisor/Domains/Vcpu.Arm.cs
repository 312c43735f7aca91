using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Arm;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// The AArch64 side of a vCPU. The accelerator keeps the platform next to the CPU (GICv3, ITS,
/// generic timers, MMIO devices); this loop hands it the event-channel interrupt level before
/// each entry and decides what only the hypervisor can:
/// <list type="bullet">
/// <item>HVC #0xEA1 — a Xen hypercall (<see cref="HypercallDispatcher.DispatchArm"/>);</item>
/// <item>HVC/SMC #0 — PSCI (<see cref="Psci"/>: CPU_ON starts another vCPU of the domain, SYSTEM_OFF
/// shuts the domain down);</item>
/// <item>WFI — the vCPU blocks until an interrupt is pending for it, an event arrives, or its next
/// generic-timer deadline passes;</item>
/// <item>an access to an address that is neither RAM nor a device — a synchronous external abort
/// for the guest (as Xen injects a data abort for an unhandled MMIO access), logged once per vCPU;</item>
/// <item>an instruction the CPU does not implement — the domain crashes with the CPU's own words.</item>
/// </list>
/// </summary>
public sealed partial class Vcpu
{
    private readonly IArmVcpu? _arm;
    private readonly Time.VcpuTimer? _wfiTimer;
    private bool _reportedUnhandledMmio;

    internal Vcpu(Domain domain, int index, IArmVcpu cpu) : this(domain, index, tscOffset: 0)
    {
        _arm = cpu;
        _wfiTimer = new Time.VcpuTimer(domain.Hypervisor.Timers, () => _wake.Set());
        cpu.Wakeup = () => _wake.Set();
    }

    /// <summary>The AArch64 accelerator vCPU, or null for an x86 vCPU.</summary>
    public IArmVcpu? ArmCpu => _arm;

    /// <summary>Where an ARM vCPU starts at its next bring-up (the builder for vCPU 0, PSCI CPU_ON for the others): PC and x0.</summary>
    public (ulong Entry, ulong X0)? PendingArmEntry { get; set; }

    /// <summary>
    /// PSCI CPU_ON: starts this (offline) vCPU at <paramref name="entry"/> with x0 =
    /// <paramref name="x0"/>. False when it is not offline (already on, or still going off).
    /// </summary>
    internal bool TryBringUpArm(ulong entry, ulong x0)
    {
        lock (this)
        {
            if (_thread is not null || State != VcpuState.Offline || _stopRequested) return false;
            PendingArmEntry = (entry, x0);
            Initialised = true;
            Start(); // under the same lock: a second CPU_ON sees it on
        }
        return true;
    }

    private void LoadArmEntryState()
    {
        if (PendingArmEntry is not { } e) return;
        _arm!.Reset(e.Entry, e.X0);
        PendingArmEntry = null;
    }

    private void RunArmOnce()
    {
        var cpu = _arm!;
        cpu.SetEventUpcall(UpcallPending);
        long start = EnterGuest();
        cpu.Run();
        LeaveGuest(start);
        ref VcpuExit exit = ref cpu.Exit;
        switch (exit.Kind)
        {
            case VcpuExitKind.Hypercall:
                HypercallDispatcher.DispatchArm(this, cpu);
                break;
            case VcpuExitKind.Psci:
                Psci.Handle(this, cpu);
                break;
            case VcpuExitKind.Halt:
                WaitForInterrupt();
                break;
            case VcpuExitKind.Mmio:
                if (!_reportedUnhandledMmio)
                {
                    _reportedUnhandledMmio = true;
                    Domain.Hypervisor.Log.Xen($"d{Domain.Id}v{Index}: unhandled MMIO {(exit.IsWrite ? "write" : "read")} of {exit.Size} bytes at 0x{exit.Address:x} (pc 0x{cpu.Pc:x}): data abort injected");
                }
                cpu.InjectExternalAbort();
                break;
            case VcpuExitKind.Interrupted:
                break;
            case VcpuExitKind.InternalError:
                Domain.Crash($"vCPU {Index}: {exit.Detail ?? "the CPU stopped"} at pc 0x{cpu.Pc:x}");
                break;
            default:
                Domain.Crash($"vCPU {Index}: unexpected exit {exit.Kind} at pc 0x{cpu.Pc:x}");
                break;
        }
    }

    /// <summary>
    /// WFI (and SCHEDOP_block): blocks until an interrupt is pending for this vCPU, an event is
    /// pending for it, the generic timer's next deadline passes, or the vCPU is stopped. The
    /// accelerator's <see cref="IArmVcpu.Wakeup"/> and event notifications set the wake event; a
    /// wake that lands between the check and the wait is not lost (the event stays set).
    /// </summary>
    private void WaitForInterrupt()
    {
        var cpu = _arm!;
        if (cpu.WakeupPending || UpcallPending || _stopRequested) return;
        if (cpu.NextTimerEventNs is { } deadline) _wfiTimer!.Set(deadline);
        State = VcpuState.Blocked;
        ReleasePcpuToWait();
        _wake.Wait();
        _wake.Reset();
        _wfiTimer!.Stop();
        ReacquirePcpu();
        if (!_stopRequested) State = VcpuState.Running;
        if (Scheduler is null) VcpuOpHypercall.UpdateRunstateArea(this);
    }
}
