using XenSharp.Abi.Arm;
using XenSharp.Arm64;
using XenSharp.Devices.Arm;
using XenSharp.Hypervisor.Accelerator;

namespace XenSharp.SoftArm64;

/// <summary>
/// One AArch64 vCPU on XenSharp's CPU. <see cref="Run"/> runs the CPU in slices of
/// <see cref="SliceInstructions"/> instructions; between slices it re-evaluates the generic
/// timer, refreshes the IRQ input from the GIC and looks for a <see cref="Kick"/>, so a kick or a
/// timer interrupt is seen within one slice (~0.1 ms). Inside a slice:
/// <list type="bullet">
/// <item>MRS/MSR of the GIC CPU interface (ICC_*) and the timer (CNT*) are answered through
/// <see cref="IArm64SystemRegisterHost"/> on this thread, and the IRQ input is refreshed after
/// each, so an acknowledge or EOI lowers or raises it before the next instruction;</item>
/// <item>an MMIO access to a device window (GIC, ITS, UART) is served here and the CPU resumes;</item>
/// <item>HVC #0xEA1 ends Run with a Hypercall exit, HVC/SMC #0 with a Psci exit; other
/// immediates are UNDEFINED for the guest, as on Xen;</item>
/// <item>WFI ends Run with Halt unless an interrupt is already pending; an address nothing serves
/// ends it with Mmio; an instruction the CPU lacks, with InternalError.</item>
/// </list>
/// Other threads reach a vCPU only through the GIC (device interrupts, SGIs, LPIs), which raises
/// <see cref="GicV3.InterruptStateChanged"/>: the IRQ input follows and <see cref="Wakeup"/> wakes a
/// vCPU waiting in WFI.
/// </summary>
public sealed class SoftArm64Vcpu : IArmVcpu, IArm64SystemRegisterHost, ICountsInstructions
{
    public const int SliceInstructions = 8192;

    /// <summary>GUEST_EVTCHN_PPI: the event-channel upcall interrupt.</summary>
    private const uint EventChannelPpi = (uint)ArmGuestLayout.EventChannelPpi;

    private readonly SoftArm64VirtualMachine _vm;
    private readonly SoftArm64Accelerator _accelerator;
    private readonly Arm64Cpu _cpu;
    private readonly GicV3 _gic;
    private readonly GicV3CpuInterface _cpuInterface;
    private readonly GenericTimer _timer;
    private readonly int _index;
    private VcpuExit _exit;
    private volatile bool _kicked;
    private bool _upcall;

    internal SoftArm64Vcpu(SoftArm64VirtualMachine vm, SoftArm64Accelerator accelerator, int index)
    {
        _vm = vm;
        _accelerator = accelerator;
        _index = index;
        _gic = vm.Gic!;
        _cpuInterface = _gic.CpuInterface(index);
        _timer = GenericTimer.ForVcpu(_gic, index, vm.Counter);
        Affinity = GicV3.AffinityOf(index);
        _cpu = new Arm64Cpu(vm.Memory, this, mpidr: (1UL << 31) | Affinity);
        accelerator.Retired.Track(this);
    }

    public ref VcpuExit Exit => ref _exit;
    public ulong Affinity { get; }
    public ulong Pc => _cpu.Pc;
    public bool MmuEnabled => _cpu.MmuEnabled;
    public long InstructionsRetired => _cpu.InstructionsRetired;
    public Action? Wakeup { get; set; }

    /// <summary>The CPU itself (tests and diagnostics).</summary>
    public Arm64Cpu Cpu => _cpu;

    public ulong GetX(int n) => _cpu.GetX(n);
    public void SetX(int n, ulong value) => _cpu.SetX(n, value);

    public void Reset(ulong entry, ulong x0)
    {
        _cpu.Reset();
        _cpu.Pc = entry;
        _cpu.SetX(0, x0);
    }

    public void Kick() => _kicked = true;

    public void SetEventUpcall(bool asserted)
    {
        if (asserted == _upcall) return;
        _upcall = asserted;
        _gic.SetPpiLevel(_index, EventChannelPpi, asserted);
        RefreshIrqLine();
    }

    public bool WakeupPending
    {
        get
        {
            _timer.Update();
            return _gic.IsIrqAsserted(_index);
        }
    }

    public long? NextTimerEventNs => _timer.NextDeadline is { } ticks ? _vm.CounterToHostNs(ticks) : null;

    public void CompleteMmioRead(ulong value) => _cpu.CompleteMmioRead(value);

    public void InjectExternalAbort() => _cpu.InjectExternalDataAbort();

    public void InjectUndefined() => _cpu.InjectUndefinedAtPreviousInstruction();

    internal void OnInterruptStateChanged()
    {
        RefreshIrqLine();
        Wakeup?.Invoke();
    }

    private void RefreshIrqLine() => _cpu.SetIrqLine(_gic.IsIrqAsserted(_index));

    public void Run()
    {
        _exit.Detail = null;
        while (true)
        {
            if (_kicked)
            {
                _kicked = false;
                _exit.Kind = VcpuExitKind.Interrupted;
                return;
            }
            _timer.Update();
            RefreshIrqLine();
            switch (_cpu.Run(SliceInstructions))
            {
                case Arm64Stop.Budget:
                    continue;
                case Arm64Stop.Hvc:
                case Arm64Stop.Smc when _cpu.Exit.Immediate == 0:
                    if (ExitForCall(_cpu.Exit.Immediate)) return;
                    continue;
                case Arm64Stop.Smc:
                    _cpu.InjectUndefinedAtPreviousInstruction();
                    continue;
                case Arm64Stop.Mmio:
                    if (ServeMmio()) continue;
                    ref Arm64Exit e = ref _cpu.Exit;
                    _exit.Kind = VcpuExitKind.Mmio;
                    _exit.Address = e.Address;
                    _exit.Size = e.Size;
                    _exit.IsWrite = e.IsWrite;
                    _exit.Data = e.Data;
                    return;
                case Arm64Stop.Wfi:
                    if (WakeupPending) continue;
                    _exit.Kind = VcpuExitKind.Halt;
                    return;
                default:
                    _exit.Kind = VcpuExitKind.InternalError;
                    _exit.Detail = _cpu.Exit.Reason ?? "the CPU stopped";
                    return;
            }
        }
    }

    /// <summary>HVC #0xEA1 is a Xen hypercall, HVC #0 (and SMC #0) PSCI; any other immediate is UNDEFINED for the guest.</summary>
    private bool ExitForCall(ushort immediate)
    {
        switch (immediate)
        {
            case ArmHypercallConvention.HvcImmediate:
                _exit.Kind = VcpuExitKind.Hypercall;
                return true;
            case 0:
                _exit.Kind = VcpuExitKind.Psci;
                return true;
            default:
                _cpu.InjectUndefinedAtPreviousInstruction();
                return false;
        }
    }

    /// <summary>An access to a device window: served here (true), or nobody's (false).</summary>
    private bool ServeMmio()
    {
        ref Arm64Exit e = ref _cpu.Exit;
        if (_vm.DeviceAt(e.Address) is not { } device) return false;
        ulong offset = e.Address - device.BaseAddress;
        if (e.IsWrite) device.Write(offset, e.Size, e.Data);
        else _cpu.CompleteMmioRead(device.Read(offset, e.Size));
        RefreshIrqLine();
        return true;
    }

    public bool TryReadSystemRegister(Arm64Cpu cpu, uint encoding, out ulong value)
    {
        if (_cpuInterface.TryReadSysReg(encoding, out value))
        {
            RefreshIrqLine();
            return true;
        }
        return _timer.TryReadSysReg(encoding, out value);
    }

    public bool TryWriteSystemRegister(Arm64Cpu cpu, uint encoding, ulong value)
    {
        if (_cpuInterface.TryWriteSysReg(encoding, value))
        {
            RefreshIrqLine();
            return true;
        }
        if (!_timer.TryWriteSysReg(encoding, value)) return false;
        RefreshIrqLine();
        return true;
    }

    public void Dispose() => _accelerator.Retired.Untrack(this);
}
