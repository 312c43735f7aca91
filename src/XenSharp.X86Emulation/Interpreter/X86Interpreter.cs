using Iced.Intel;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// A software x86 CPU: executes guest code on an <see cref="X86EmulationState"/> until an
/// instruction needs the outside world (I/O, MMIO, an MSR it does not keep), the guest halts or
/// shuts down, or the instruction budget is spent.
///
/// Structure (one concept per file, all parts of this class):
/// <list type="bullet">
/// <item>X86Interpreter.cs — the public contract, the run loop, exception delivery.</item>
/// <item>DecodeCache.cs — instruction fetch and the decode cache keyed by guest-physical address.</item>
/// <item>Memory.cs — segmentation fast paths, the software TLB, guest RAM and MMIO accesses, atomics.</item>
/// <item>Operands.cs — register/immediate/memory operands, the stack.</item>
/// <item>Execute.cs — the dispatch over Iced mnemonics.</item>
/// <item>Arithmetic.cs, DataTransfer.cs, ControlTransfer.cs, StringOps.cs, IoOps.cs, SystemOps.cs,
///   SegmentOps.cs, Msrs.cs — the instruction classes; Flags.cs, Alu.cs, ShiftRotate.cs the pure maths.</item>
/// </list>
///
/// Faults raised by an instruction are <see cref="GuestFaultException"/>s: the run loop restores the
/// registers saved before the instruction and delivers the exception through the guest IDT
/// (<see cref="InterruptDelivery"/>); a fault while delivering becomes #DF, a fault while delivering
/// #DF shuts the vCPU down. Special registers are only changed by code that commits at its end.
/// One instance per vCPU; not thread-safe.
/// </summary>
public sealed partial class X86Interpreter
{
    private readonly X86EmulationState _state;
    private readonly CpuidEntry[] _cpuid;
    private readonly InterpreterMsrs _msrs = new();
    private InterpreterExit _exit;
    private long _retired;

    /// <summary>The stop the current instruction requested (Io, Mmio write, Halt, Msr*), acted on after it.</summary>
    private InterpreterStop? _stop;
    private bool _halted;
    private bool _shutdown;
    /// <summary>An Unsupported reason found outside Run (delivering an interrupt or a completion's #GP), reported by the next Run.</summary>
    private string? _pendingUnsupported;
    private string? _shutdownReason;

    // Pending completions.
    private int _pendingInSize;            // IN waiting for CompleteIoRead (0 = none)
    private bool _insValueReady;           // INS: value from CompleteIoRead, consumed by the re-execution
    private bool _awaitingIns;
    private ulong _insValue;
    private bool _mmioReady;               // MMIO read value for the re-execution (one-shot)
    private bool _awaitingMmio;
    private ulong _mmioAddress, _mmioValue;
    private int _mmioSize;
    private enum MsrPending : byte { None, Read, Write }
    private MsrPending _msrPending;
    private ulong _msrNextRip;
    private bool _injectPending;
    private byte _injectVector;
    private uint? _injectErrorCode;

    /// <summary>Registers as they were before the current instruction (restored when it faults or stops for an MMIO read).</summary>
    private X86Registers _saved;

    public X86Interpreter(X86EmulationState state, CpuidEntry[] cpuid)
    {
        ArgumentNullException.ThrowIfNull(state);
        _state = state;
        _cpuid = cpuid ?? [];
        state.Msrs = _msrs;
        InitDecodeCache();
        FlushTlb();
    }

    public X86EmulationState State => _state;

    /// <summary>The MSRs kept by the interpreter (SYSCALL/SYSENTER MSRs, PAT, …), e.g. for save/restore.</summary>
    public InterpreterMsrs Msrs => _msrs;

    public ref InterpreterExit Exit => ref _exit;

    public long InstructionsRetired => _retired;

    /// <summary>
    /// Drops every cached linear→physical translation (call after changing page tables or special
    /// registers from outside). Run already flushes when it finds CR0/CR3/CR4/EFER changed; the decode
    /// cache needs nothing (it checks the instruction bytes on every hit).
    /// </summary>
    public void FlushTranslations() => FlushTlb();

    /// <summary>Whether the vCPU is halted (HLT executed, no interrupt delivered since).</summary>
    public bool IsHalted => _halted;

    /// <summary>
    /// Leaves the halted state without an interrupt: the caller waited for the wake-up itself
    /// (as a hypervisor does after a HLT exit, where HLT counts as completed) and the next Run
    /// continues after the HLT.
    /// </summary>
    public void ResumeAfterHalt() => _halted = false;

    /// <summary>
    /// While set, Run stops with <see cref="InterpreterStop.InterruptWindow"/> at the first
    /// instruction boundary where the guest can take an interrupt — the caller has one to deliver,
    /// and it must arrive exactly there (right after the STI shadow, the IRET or POPF that set IF),
    /// as on a real CPU.
    /// </summary>
    public bool StopAtInterruptWindow { get; set; }

    public bool CanTakeInterrupt =>
        (_state.Registers.Rflags & X86Flags.IF) != 0 && !_state.InterruptShadow && !_shutdown
        && _pendingInSize == 0 && !_awaitingIns && !_insValueReady && !_awaitingMmio && !_mmioReady
        && _msrPending == MsrPending.None;

    /// <summary>Executes instructions until one needs the outside world, the guest halts or shuts down, or <paramref name="budget"/> instructions ran.</summary>
    public InterpreterStop Run(int budget)
    {
        if (_shutdown) return StopShutdown(_shutdownReason);
        if (_pendingUnsupported is string pending)
        {
            _pendingUnsupported = null;
            return StopUnsupported(pending);
        }
        CheckTlbContext();
        _stop = null;
        int remaining = budget;
        while (true)
        {
            try
            {
                return RunLoop(ref remaining);
            }
            catch (GuestFaultException fault)
            {
                _state.Registers = _saved;
                _stop = null;
                _mmioReady = false;
                remaining--;
                if (!DeliverException(fault.Fault, out string? reason))
                    return reason is null ? StopShutdown($"triple fault after {fault.Fault}") : StopUnsupported(reason);
            }
            catch (MmioReadStop)
            {
                _state.Registers = _saved;
                _stop = null;
                _mmioReady = false;
                _awaitingMmio = true;
                return InterpreterStop.Mmio;
            }
            catch (NotImplementedInstructionException notImplemented)
            {
                _state.Registers = _saved;
                _stop = null;
                _mmioReady = false;
                return StopUnsupported(notImplemented.Message);
            }
            catch (EmulationUnsupportedException unsupported)
            {
                _state.Registers = _saved;
                _stop = null;
                _mmioReady = false;
                return StopUnsupported($"{unsupported.Message} (at {Where()})");
            }
        }
    }

    private InterpreterStop RunLoop(ref int remaining)
    {
        while (remaining > 0)
        {
            if (_injectPending)
            {
                _injectPending = false;
                _saved = _state.Registers;
                byte vector = _injectVector;
                if (!DeliverException(new PendingException(vector, _injectErrorCode.HasValue, _injectErrorCode ?? 0,
                        vector == X86Vectors.PageFault ? _state.Special.Cr2 : 0), out string? reason, external: vector == X86Vectors.Nmi))
                    return reason is null ? StopShutdown($"triple fault delivering injected vector {vector}") : StopUnsupported(reason);
            }
            if (_halted) return InterpreterStop.Halt;
            if (StopAtInterruptWindow && CanTakeInterrupt) return InterpreterStop.InterruptWindow;
            Step();
            _mmioReady = false;
            _retired++;
            remaining--;
            if (_stop is InterpreterStop stop)
            {
                _stop = null;
                return stop;
            }
        }
        return InterpreterStop.Budget;
    }

    /// <summary>After an Io read stop: writes AL/AX/EAX (IN), or hands the value to the re-executed INS.</summary>
    public void CompleteIoRead(ulong value)
    {
        if (_pendingInSize != 0)
        {
            ref ulong rax = ref _state.Registers.Rax;
            switch (_pendingInSize)
            {
                case 1: rax = (rax & ~0xFFUL) | (value & 0xFF); break;
                case 2: rax = (rax & ~0xFFFFUL) | (value & 0xFFFF); break;
                default: rax = value & 0xFFFF_FFFF; break;
            }
            _pendingInSize = 0;
        }
        else if (_awaitingIns)
        {
            _awaitingIns = false;
            _insValueReady = true;
            _insValue = value;
        }
    }

    /// <summary>After an Mmio read stop: the next Run re-executes the instruction and its read of Exit.Address gets <paramref name="value"/>.</summary>
    public void CompleteMmioRead(ulong value)
    {
        _awaitingMmio = false;
        _mmioReady = true;
        _mmioAddress = _exit.Address;
        _mmioSize = _exit.Size;
        _mmioValue = value;
    }

    /// <summary>After MsrRead: EDX:EAX = value and RIP advanced, or #GP(0) delivered.</summary>
    public void CompleteMsrRead(ulong value, bool fault)
    {
        if (_msrPending != MsrPending.Read) throw new InvalidOperationException("no RDMSR is waiting for completion");
        _msrPending = MsrPending.None;
        if (fault) { DeliverAsync(PendingException.Gp(0)); return; }
        ref var regs = ref _state.Registers;
        regs.Rax = (uint)value;
        regs.Rdx = value >> 32;
        regs.Rip = _msrNextRip;
    }

    /// <summary>After MsrWrite: RIP advanced, or #GP(0) delivered.</summary>
    public void CompleteMsrWrite(bool fault)
    {
        if (_msrPending != MsrPending.Write) throw new InvalidOperationException("no WRMSR is waiting for completion");
        _msrPending = MsrPending.None;
        if (fault) { DeliverAsync(PendingException.Gp(0)); return; }
        _state.Registers.Rip = _msrNextRip;
    }

    /// <summary>Delivers an external interrupt through the guest IDT now (only when <see cref="CanTakeInterrupt"/>); ends the halted state.</summary>
    public void DeliverExternalInterrupt(byte vector)
    {
        if (!CanTakeInterrupt) throw new InvalidOperationException("the vCPU cannot take an interrupt now (IF = 0, interrupt shadow or an instruction half-done)");
        CheckTlbContext();
        _halted = false;
        _state.InterruptShadow = false;
        if (!DeliverException(new PendingException(vector, false, 0), out string? reason, external: true) && reason is not null)
            _pendingUnsupported = reason;
    }

    /// <summary>Queues an exception to be delivered through the IDT before the next instruction (CR2 as the caller left it for #PF).</summary>
    public void InjectException(byte vector, uint? errorCode)
    {
        _injectPending = true;
        _injectVector = vector;
        _injectErrorCode = errorCode;
        _halted = false;
    }

    private void DeliverAsync(PendingException fault)
    {
        CheckTlbContext();
        _saved = _state.Registers;
        if (!DeliverException(fault, out string? reason) && reason is not null) _pendingUnsupported = reason;
    }

    private void EnterShutdown(string reason)
    {
        _shutdown = true;
        _shutdownReason = reason;
    }

    /// <summary>
    /// Delivers an event with RIP as it is now (the faulting instruction, or the return address of an
    /// interrupted one). A fault raised while delivering follows the SDM's double-fault table (vol. 3
    /// table 6-5): a contributory fault (#DE, #TS, #NP, #SS, #GP) during a contributory one, or a
    /// contributory fault or #PF during a #PF, becomes #DF; otherwise the new fault is delivered
    /// instead. A fault while delivering #DF is a triple fault: false with reason null (the vCPU is
    /// shut down). Something unsupported during delivery → false with the reason.
    /// </summary>
    private bool DeliverException(PendingException fault, out string? reason, bool external = false)
    {
        reason = null;
        var savedRegs = _state.Registers;
        var savedSpecial = _state.Special;
        var current = fault;
        var source = external ? InterruptSource.External : InterruptSource.HardwareException;
        try
        {
            for (int attempt = 0; attempt < 4; attempt++)
            {
                try
                {
                    if (current.Vector == X86Vectors.PageFault) _state.Special.Cr2 = current.Cr2;
                    InterruptDelivery.Deliver(_state, current.Vector, current.HasErrorCode ? current.ErrorCode : null, source, _state.Registers.Rip);
                    _halted = false;
                    return true;
                }
                catch (GuestFaultException second)
                {
                    ulong cr2 = _state.Special.Cr2;
                    _state.Registers = savedRegs;
                    _state.Special = savedSpecial;
                    _state.Special.Cr2 = cr2;
                    if (current.Vector == X86Vectors.DoubleFault) break;
                    var next = second.Fault;
                    bool contributory = IsContributory(current.Vector) && !external;
                    bool pageFault = current.Vector == X86Vectors.PageFault && !external;
                    current = (contributory && IsContributory(next.Vector)) || (pageFault && (IsContributory(next.Vector) || next.Vector == X86Vectors.PageFault))
                        ? new PendingException(X86Vectors.DoubleFault, true, 0)
                        : next;
                    source = InterruptSource.HardwareException;
                    external = false;
                }
            }
            EnterShutdown($"triple fault after {fault}");
            return false;
        }
        catch (EmulationUnsupportedException e)
        {
            _state.Registers = savedRegs;
            _state.Special = savedSpecial;
            reason = $"delivering {fault}: {e.Message} (at {Where()})";
            return false;
        }
    }

    private static bool IsContributory(byte vector) => vector is X86Vectors.DivideError or X86Vectors.InvalidTss
        or X86Vectors.SegmentNotPresent or X86Vectors.StackFault or X86Vectors.GeneralProtection;

    private InterpreterStop StopShutdown(string? reason)
    {
        _shutdown = true;
        _shutdownReason ??= reason;
        _exit = default;
        _exit.Reason = _shutdownReason;
        return InterpreterStop.Shutdown;
    }

    private InterpreterStop StopUnsupported(string reason)
    {
        _exit = default;
        _exit.Reason = reason;
        return InterpreterStop.Unsupported;
    }

    private string Where() => $"{_state.Special.Cs.Selector:x4}:{_state.Registers.Rip:x}";

    /// <summary>Thrown (one cached instance) to abandon an instruction that reads MMIO; registers are restored.</summary>
    private sealed class MmioReadStop : Exception;

    private readonly MmioReadStop _mmioReadStop = new();
}

/// <summary>An instruction the interpreter does not implement; the message is the full reason.</summary>
internal sealed class NotImplementedInstructionException(string reason) : Exception(reason);
