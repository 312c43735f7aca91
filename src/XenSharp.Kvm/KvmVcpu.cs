using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>
/// A KVM vCPU. Its kvm_run page is mapped once; with KVM_CAP_SYNC_REGS the general and special
/// registers travel inside that page, so an exit that reads and writes registers (a hypercall)
/// costs no extra ioctl. Kick sets immediate_exit and sends a signal to the thread in KVM_RUN,
/// whose handler does nothing (it only makes KVM_RUN return EINTR).
/// </summary>
internal sealed unsafe class KvmVcpu : IVcpu
{
    private readonly KvmAccelerator _kvm;
    private readonly int _fd;
    private readonly byte* _run;
    private readonly bool _sync;
    private readonly bool _syncEvents;
    private VcpuExit _exit;
    private X86Registers _regsFallback;
    private X86SpecialRegisters _sregsFallback;
    private X86VcpuEvents _eventsFallback;
    private int _queuedVector = -1;
    private volatile int _threadId;
    private volatile bool _kickPending;
    /// <summary>1 while the vCPU thread is inside (or about to enter) KVM_RUN: only then does a kick need a signal.</summary>
    private int _inRun;
    private int _disposed;

    public KvmVcpu(KvmAccelerator kvm, int fd, ReadOnlySpan<CpuidEntry> cpuid)
    {
        _kvm = kvm;
        _fd = fd;
        _sync = kvm.HasSyncRegs;
        _syncEvents = kvm.HasSyncEvents;
        void* run = LibC.mmap(null, (nuint)kvm.VcpuMmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (run == (void*)-1)
            throw new KvmUnavailableException($"mmap of kvm_run failed: {Marshal.GetLastPInvokeErrorMessage()}");
        _run = (byte*)run;
        SetCpuid(cpuid);
        // Start with the vCPU's reset state in the copies we hand out.
        Ioctl(KvmApi.GetRegs, ref Registers, "KVM_GET_REGS");
        Ioctl(KvmApi.GetSregs, ref Unsafe.AsRef(in SpecialRegisters), "KVM_GET_SREGS");
        Ioctl(KvmApi.GetVcpuEvents, ref Unsafe.AsRef(in Events), "KVM_GET_VCPU_EVENTS");
        KickSignal.EnsureInstalled();
        TscOffset = ReadTscOffset();
    }

    /// <inheritdoc/>
    public long TscOffset { get; }

    /// <summary>
    /// Reads the guest's IA32_TSC (KVM_GET_MSRS) between two host TSC reads: the difference is
    /// the constant offset KVM applies (up to the ioctl's duration).
    /// </summary>
    private long ReadTscOffset()
    {
        // struct kvm_msrs { u32 nmsrs; u32 pad; struct kvm_msr_entry { u32 index; u32 reserved; u64 data; } entries[1]; }
        byte* buffer = stackalloc byte[24];
        new Span<byte>(buffer, 24).Clear();
        *(uint*)buffer = 1;
        *(uint*)(buffer + 8) = KvmApi.MsrIa32Tsc;
        ulong before = XenSharp.Hypervisor.Time.HostTsc.Read();
        int rc = LibC.ioctl(_fd, KvmApi.GetMsrs, (nint)buffer);
        ulong after = XenSharp.Hypervisor.Time.HostTsc.Read();
        if (rc != 1) return 0;
        ulong guest = *(ulong*)(buffer + 16);
        return (long)(guest - (before + (after - before) / 2));
    }

    private void SetCpuid(ReadOnlySpan<CpuidEntry> cpuid)
    {
        int bytes = 8 + cpuid.Length * sizeof(CpuidEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)cpuid.Length;
            cpuid.CopyTo(new Span<CpuidEntry>(buffer + 8, cpuid.Length));
            if (LibC.ioctl(_fd, KvmApi.SetCpuid2, (nint)buffer) < 0)
                throw new KvmUnavailableException($"KVM_SET_CPUID2 failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public ref VcpuExit Exit => ref _exit;

    public ref X86Registers Registers =>
        ref _sync ? ref Unsafe.AsRef<X86Registers>(_run + KvmApi.RunSyncRegs) : ref _regsFallback;

    public ref readonly X86SpecialRegisters SpecialRegisters =>
        ref _sync ? ref Unsafe.AsRef<X86SpecialRegisters>(_run + KvmApi.RunSyncSregs) : ref _sregsFallback;

    public ref readonly X86VcpuEvents Events =>
        ref _syncEvents ? ref Unsafe.AsRef<X86VcpuEvents>(_run + KvmApi.RunSyncEvents) : ref _eventsFallback;

    public void SetEvents(in X86VcpuEvents events)
    {
        if (_syncEvents)
        {
            Unsafe.AsRef<X86VcpuEvents>(_run + KvmApi.RunSyncEvents) = events;
            *(ulong*)(_run + KvmApi.RunDirtyRegs) |= KvmApi.SyncX86Events;
        }
        else
        {
            _eventsFallback = events;
            Ioctl(KvmApi.SetVcpuEvents, ref _eventsFallback, "KVM_SET_VCPU_EVENTS");
        }
    }

    public void InjectException(byte vector, uint? errorCode)
    {
        var e = Events;
        e.ExceptionInjected = 1;
        e.ExceptionPending = 0;
        e.ExceptionNumber = vector;
        e.ExceptionHasErrorCode = errorCode.HasValue ? (byte)1 : (byte)0;
        e.ExceptionErrorCode = errorCode ?? 0;
        e.Flags = 0;
        SetEvents(e);
    }

    public void QueueInterrupt(byte vector) => _queuedVector = vector;

    public bool InterruptQueued => _queuedVector >= 0;

    public void CancelQueuedInterrupt() => _queuedVector = -1;

    /// <summary>
    /// Injects the queued interrupt when the guest can take it (as of the last exit: IF set and
    /// KVM ready), else asks KVM for an exit as soon as it can (request_interrupt_window).
    /// </summary>
    private void InjectQueuedInterrupt()
    {
        if (_queuedVector < 0)
        {
            _run[KvmApi.RunRequestInterruptWindow] = 0;
            return;
        }
        if (_run[KvmApi.RunReadyForInterruptInjection] != 0 && _run[KvmApi.RunIfFlag] != 0)
        {
            uint vector = (uint)_queuedVector;
            if (LibC.ioctl(_fd, KvmApi.Interrupt, (nint)(&vector)) == 0)
            {
                _queuedVector = -1;
                _run[KvmApi.RunRequestInterruptWindow] = 0;
                return;
            }
        }
        _run[KvmApi.RunRequestInterruptWindow] = 1;
    }

    public void MarkRegistersDirty()
    {
        if (_sync) *(ulong*)(_run + KvmApi.RunDirtyRegs) |= KvmApi.SyncX86Regs;
        else Ioctl(KvmApi.SetRegs, ref _regsFallback, "KVM_SET_REGS");
    }

    public void SetRegisters(in X86Registers regs)
    {
        Registers = regs;
        MarkRegistersDirty();
    }

    public void SetSpecialRegisters(in X86SpecialRegisters sregs)
    {
        if (_sync)
        {
            Unsafe.AsRef<X86SpecialRegisters>(_run + KvmApi.RunSyncSregs) = sregs;
            *(ulong*)(_run + KvmApi.RunDirtyRegs) |= KvmApi.SyncX86Sregs;
        }
        else
        {
            _sregsFallback = sregs;
            Ioctl(KvmApi.SetSregs, ref _sregsFallback, "KVM_SET_SREGS");
        }
    }

    private void Ioctl<T>(nuint request, ref T value, string what) where T : unmanaged
    {
        fixed (T* p = &value)
        {
            if (LibC.ioctl(_fd, request, (nint)p) < 0)
                throw new InvalidOperationException($"{what} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    public void Run()
    {
        if (_threadId == 0) _threadId = LibC.gettid();
        if (_sync) *(ulong*)(_run + KvmApi.RunValidRegs) = KvmApi.SyncX86Regs | KvmApi.SyncX86Sregs | (_syncEvents ? KvmApi.SyncX86Events : 0);
        if (_kickPending)
        {
            // Consume the kick without entering: clear immediate_exit first, so a kick that races
            // with this is either consumed here or left armed for the next entry, never lost.
            _run[KvmApi.RunImmediateExit] = 0;
            _kickPending = false;
            _exit.Kind = VcpuExitKind.Interrupted;
            return;
        }

        InjectQueuedInterrupt();
        // Dekker with Kick: publish "in KVM_RUN" before KVM reads immediate_exit; Kick writes
        // immediate_exit before reading this flag. Either the kicker sees the flag and signals,
        // or KVM sees immediate_exit and returns at once.
        Interlocked.Exchange(ref _inRun, 1);
        int rc = LibC.ioctl(_fd, KvmApi.Run, 0);
        Volatile.Write(ref _inRun, 0);
        _run[KvmApi.RunImmediateExit] = 0;
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is LibC.EINTR or LibC.EAGAIN)
            {
                _kickPending = false;
                _exit.Kind = VcpuExitKind.Interrupted;
                RefreshFallbackRegisters();
                return;
            }
            _exit.Kind = VcpuExitKind.FailEntry;
            _exit.RawReason = (uint)errno;
            return;
        }
        RefreshFallbackRegisters();
        DecodeExit();
    }

    private void RefreshFallbackRegisters()
    {
        if (!_syncEvents && _needEvents) Ioctl(KvmApi.GetVcpuEvents, ref _eventsFallback, "KVM_GET_VCPU_EVENTS");
        if (_sync) return;
        Ioctl(KvmApi.GetRegs, ref _regsFallback, "KVM_GET_REGS");
        Ioctl(KvmApi.GetSregs, ref _sregsFallback, "KVM_GET_SREGS");
    }

    /// <summary>Without sync'd events, they are read by ioctl only after exits that need them.</summary>
    private bool _needEvents => *(uint*)(_run + KvmApi.RunExitReason) == KvmApi.ExitInternalError;

    private void DecodeExit()
    {
        uint reason = *(uint*)(_run + KvmApi.RunExitReason);
        byte* u = _run + KvmApi.RunExitUnion;
        _exit.RawReason = reason;
        _exit.RawSubReason = 0;
        _exit.InstructionLength = 0;
        switch (reason)
        {
            case KvmApi.ExitIo:
            {
                // struct { u8 direction; u8 size; u16 port; u32 count; u64 data_offset; }
                _exit.Kind = VcpuExitKind.Io;
                _exit.IsWrite = u[0] == 1;
                _exit.Size = u[1];
                _exit.Port = *(ushort*)(u + 2);
                uint count = *(uint*)(u + 4);
                ulong dataOffset = *(ulong*)(u + 8);
                _exit.RawSubReason = count;
                _exit.Address = dataOffset;
                _exit.Data = 0;
                if (_exit.IsWrite)
                    Buffer.MemoryCopy(_run + dataOffset, Unsafe.AsPointer(ref _exit.Data), 8, Math.Min(_exit.Size, 8));
                break;
            }
            case KvmApi.ExitMmio:
            {
                // struct { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; }
                _exit.Kind = VcpuExitKind.Mmio;
                _exit.Address = *(ulong*)u;
                _exit.Data = *(ulong*)(u + 8);
                _exit.Size = (int)*(uint*)(u + 16);
                _exit.IsWrite = u[20] != 0;
                break;
            }
            case KvmApi.ExitHlt:
                _exit.Kind = VcpuExitKind.Halt;
                break;
            case KvmApi.ExitShutdown:
                _exit.Kind = VcpuExitKind.Shutdown;
                break;
            case KvmApi.ExitIrqWindowOpen:
                _exit.Kind = VcpuExitKind.InterruptWindow;
                break;
            case KvmApi.ExitIntr:
                _exit.Kind = VcpuExitKind.Interrupted;
                break;
            case KvmApi.ExitFailEntry:
                _exit.Kind = VcpuExitKind.FailEntry;
                _exit.Data = *(ulong*)u; // hardware_entry_failure_reason
                break;
            case KvmApi.ExitInternalError:
            {
                // struct { u32 suberror; u32 ndata; u64 data[16]; }
                _exit.Kind = VcpuExitKind.InternalError;
                _exit.RawSubReason = *(uint*)u;
                uint ndata = *(uint*)(u + 4);
                ulong* data = (ulong*)(u + 8);
                // With KVM_CAP_EXIT_ON_EMULATION_FAILURE: data[0] flags, data[1..2] = u8 insn_size, u8 insn_bytes[15].
                if (_exit.RawSubReason == KvmApi.InternalErrorEmulation && ndata >= 3 &&
                    (data[0] & KvmApi.EmulationFailureInstructionBytes) != 0)
                {
                    uint size = Math.Min((uint)*(byte*)(data + 1), 15u); // u8 insn_size; u8 insn_bytes[15]
                    byte* bytes = (byte*)(data + 1) + 1;
                    Span<byte> dest = _exit.Instruction;
                    new ReadOnlySpan<byte>(bytes, (int)size).CopyTo(dest);
                    _exit.InstructionLength = (int)size;
                }
                break;
            }
            case KvmApi.ExitX86Rdmsr:
            case KvmApi.ExitX86Wrmsr:
            {
                // struct { u8 error; u8 pad[7]; u32 reason; u32 index; u64 data; }
                _exit.Kind = reason == KvmApi.ExitX86Rdmsr ? VcpuExitKind.MsrRead : VcpuExitKind.MsrWrite;
                _exit.MsrIndex = *(uint*)(u + 12);
                _exit.MsrData = *(ulong*)(u + 16);
                break;
            }
            default:
                _exit.Kind = VcpuExitKind.Other;
                break;
        }
    }

    public void CompleteMsrRead(ulong value, bool fault)
    {
        byte* u = _run + KvmApi.RunExitUnion;
        u[0] = fault ? (byte)1 : (byte)0;
        *(ulong*)(u + 16) = value;
    }

    public void CompleteMsrWrite(bool fault) => (_run + KvmApi.RunExitUnion)[0] = fault ? (byte)1 : (byte)0;

    public void CompleteIoRead(ulong value)
    {
        ulong dataOffset = _exit.Address;
        Buffer.MemoryCopy(&value, _run + dataOffset, 8, Math.Min(_exit.Size, 8));
    }

    /// <summary>Fills kvm_run's mmio.data (u8 data[8] at offset 8); KVM copies mmio.len bytes of it to the guest at the next KVM_RUN.</summary>
    public void CompleteMmioRead(ulong value) => *(ulong*)(_run + KvmApi.RunExitUnion + 8) = value;

    /// <summary>
    /// Makes a Run in progress return (a signal interrupts KVM_RUN; its handler is a bare ret) or
    /// the next one return at once (immediate_exit and the pending flag). A thread that is not
    /// in KVM_RUN — blocked on an event, say — gets no signal: it would only be woken for nothing.
    /// </summary>
    public void Kick()
    {
        _kickPending = true;
        _run[KvmApi.RunImmediateExit] = 1;
        Interlocked.MemoryBarrier();
        int tid = _threadId;
        if (tid != 0 && Volatile.Read(ref _inRun) != 0) LibC.tgkill(LibC.getpid(), tid, KickSignal.Number);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        LibC.munmap(_run, (nuint)_kvm.VcpuMmapSize);
        LibC.close(_fd);
    }
}
