using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;
using XenSharp.X86Emulation;
using XenSharp.X86Emulation.Interpreter;

namespace XenSharp.SoftX86;

/// <summary>
/// One vCPU of the software CPU. <see cref="Run"/> executes guest instructions in the
/// interpreter, in slices of at most <see cref="SliceInstructions"/>, until one needs the
/// hypervisor (port I/O, MMIO, an MSR the interpreter leaves to us, HLT, a triple fault) or
/// <see cref="Kick"/> asks it to return (checked between slices). An interrupt queued with
/// <see cref="QueueInterrupt"/> is delivered at entry when the guest can take it, else the
/// interpreter stops at the instruction boundary where it becomes takeable and Run returns an
/// interrupt-window exit (see <see cref="Run"/>). The guest's TSC is the host's (offset 0).
/// Everything but Kick runs on the vCPU's own thread.
/// </summary>
public sealed class SoftX86Vcpu : IVcpu, ICountsInstructions
{
    /// <summary>Instructions per slice: bounds how long a Kick or a deliverable interrupt waits.</summary>
    public const int SliceInstructions = 8192;

    private readonly X86EmulationState _state;
    private readonly X86Interpreter _cpu;
    private VcpuExit _exit;
    private X86VcpuEvents _events;
    private int _queuedVector = -1;
    private int _kicked;

    private readonly SoftX86Accelerator? _owner;

    public SoftX86Vcpu(GuestMemory memory, CpuidEntry[] cpuid, SoftX86Accelerator? owner = null)
    {
        _state = new X86EmulationState(memory);
        _cpu = new X86Interpreter(_state, cpuid);
        _owner = owner;
        owner?.Retired.Track(this);
    }

    /// <summary>Guest instructions executed so far.</summary>
    public long InstructionsRetired => _cpu.InstructionsRetired;

    public ref VcpuExit Exit => ref _exit;

    public ref X86Registers Registers => ref _state.Registers;

    public ref readonly X86SpecialRegisters SpecialRegisters => ref _state.Special;

    public ref readonly X86VcpuEvents Events
    {
        get
        {
            _events.NmiMasked = _state.NmiBlocked ? (byte)1 : (byte)0;
            return ref _events;
        }
    }

    public void MarkRegistersDirty() { }

    public void SetRegisters(in X86Registers regs) => _state.Registers = regs;

    public void SetSpecialRegisters(in X86SpecialRegisters sregs)
    {
        _state.Special = sregs;
        _cpu.FlushTranslations();
    }

    public void SetEvents(in X86VcpuEvents events)
    {
        _events = events;
        _state.NmiBlocked = events.NmiMasked != 0;
        if (events.ExceptionInjected != 0 || events.ExceptionPending != 0)
            _cpu.InjectException(events.ExceptionNumber, events.ExceptionHasErrorCode != 0 ? events.ExceptionErrorCode : null);
    }

    /// <summary>
    /// Runs the guest. A queued interrupt is delivered at entry when the guest can take it, right
    /// after the hypervisor decided it (as KVM injects at entry); when the guest only becomes able
    /// to take it later (STI, IRET, POPF), Run returns an InterruptWindow exit first, so the
    /// hypervisor re-decides — the guest may have handled the event meanwhile (an upcall whose
    /// evtchn_upcall_pending it cleared must not be delivered twice).
    /// </summary>
    public void Run()
    {
        _exit.Kind = VcpuExitKind.Other;
        bool atEntry = true;
        while (true)
        {
            if (Interlocked.Exchange(ref _kicked, 0) != 0)
            {
                _exit.Kind = VcpuExitKind.Interrupted;
                return;
            }
            if (_queuedVector >= 0 && _cpu.CanTakeInterrupt)
            {
                if (!atEntry)
                {
                    _exit.Kind = VcpuExitKind.InterruptWindow;
                    return;
                }
                byte vector = (byte)_queuedVector;
                _queuedVector = -1;
                _cpu.DeliverExternalInterrupt(vector);
            }
            atEntry = false;
            _cpu.StopAtInterruptWindow = _queuedVector >= 0;
            var stop = _cpu.Run(SliceInstructions);
            if (stop == InterpreterStop.Budget) continue;
            if (stop == InterpreterStop.InterruptWindow)
            {
                _exit.Kind = VcpuExitKind.InterruptWindow;
                return;
            }
            TranslateStop(stop);
            return;
        }
    }

    private void TranslateStop(InterpreterStop stop)
    {
        ref var e = ref _cpu.Exit;
        _exit.RawReason = (uint)stop;
        _exit.InstructionLength = 0;
        _exit.Detail = null;
        switch (stop)
        {
            case InterpreterStop.Io:
                _exit.Kind = VcpuExitKind.Io;
                _exit.Port = e.Port; _exit.Size = e.Size; _exit.IsWrite = e.IsWrite; _exit.Data = e.Data;
                break;
            case InterpreterStop.Mmio:
                _exit.Kind = VcpuExitKind.Mmio;
                _exit.Address = e.Address; _exit.Size = e.Size; _exit.IsWrite = e.IsWrite; _exit.Data = e.Data;
                break;
            case InterpreterStop.Halt:
                // As with KVM, a HLT exit completes the instruction: the hypervisor blocks the vCPU
                // until a wake-up, and the next Run continues after HLT (delivering an interrupt first if one is queued).
                _cpu.ResumeAfterHalt();
                _exit.Kind = VcpuExitKind.Halt;
                break;
            case InterpreterStop.MsrRead:
                _exit.Kind = VcpuExitKind.MsrRead;
                _exit.MsrIndex = e.MsrIndex;
                break;
            case InterpreterStop.MsrWrite:
                _exit.Kind = VcpuExitKind.MsrWrite;
                _exit.MsrIndex = e.MsrIndex; _exit.MsrData = e.MsrData;
                break;
            case InterpreterStop.Shutdown:
                _exit.Kind = VcpuExitKind.Shutdown;
                break;
            default:
                // The hypervisor's instruction completer has nothing to add: the interpreter already is the emulator.
                _exit.Kind = VcpuExitKind.InternalError;
                _exit.RawSubReason = 0;
                _exit.Detail = "the software CPU stopped: " + (e.Reason ?? "unknown reason");
                break;
        }
    }

    public void CompleteMsrRead(ulong value, bool fault) => _cpu.CompleteMsrRead(value, fault);

    public void CompleteMsrWrite(bool fault) => _cpu.CompleteMsrWrite(fault);

    public void CompleteIoRead(ulong value) => _cpu.CompleteIoRead(value);

    public void CompleteMmioRead(ulong value) => _cpu.CompleteMmioRead(value);

    public void Kick() => Volatile.Write(ref _kicked, 1);

    public void QueueInterrupt(byte vector) => _queuedVector = vector;

    public bool InterruptQueued => _queuedVector >= 0;

    public void CancelQueuedInterrupt() => _queuedVector = -1;

    public void InjectException(byte vector, uint? errorCode) => _cpu.InjectException(vector, errorCode);

    public void Dispose() => _owner?.Retired.Untrack(this);
}
