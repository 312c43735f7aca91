using System.Diagnostics;
using XenSharp.Abi.X86;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// One virtual CPU of a domain and the thread that runs it.
///
/// The run loop enters the guest through the accelerator and handles each exit: hypercalls
/// (an OUT to <see cref="HypercallPage.Port"/> from a stub in the hypercall page), the
/// hypercall-page MSR, the 0xE9 debug port, HLT (the vCPU blocks until woken), triple faults
/// and emulation failures (the domain crashes). Exit handling allocates nothing.
/// Each online vCPU has a host thread of its own (with a scheduler, it runs while it holds a pCPU).
/// The architecture-neutral part (thread, scheduling, pause, timers, poll, block) is here with the
/// x86 exits; an AArch64 vCPU's entry and exits are in <c>Vcpu.Arm.cs</c>.
/// </summary>
public sealed partial class Vcpu : IDisposable
{
    private readonly IVcpu? _x86;

    /// <summary>The x86 accelerator vCPU (every caller is on an x86 path).</summary>
    private IVcpu _cpu => _x86 ?? throw new InvalidOperationException($"vCPU {Index} of d{Domain.Id} is not an x86 vCPU");
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly ManualResetEventSlim _resume = new(true);
    private Thread? _thread;
    private volatile bool _stopRequested;
    private volatile bool _pauseRequested;
    private volatile bool _parked;
    private volatile int _lastHostCpu = -1;
    private long _runTicks;
    private long _runStartedAt; // timestamp of the KVM_RUN in progress, 0 when not in the guest
    private readonly byte[] _debugPortLine = new byte[256];
    private int _debugPortLength;

    public Domain Domain { get; }
    public int Index { get; }
    public volatile VcpuState State = VcpuState.Offline;

    /// <summary>Guest-physical address of this vCPU's vcpu_info (VCPUOP_register_vcpu_info), 0 if none.</summary>
    public ulong VcpuInfoAddress { get; set; }

    /// <summary>Guest address of the runstate area (VCPUOP_register_runstate_memory_area), 0 if none;
    /// rewritten at this vCPU's runstate changes (<see cref="VcpuOpHypercall.UpdateRunstateArea"/>).</summary>
    public ulong RunstateAreaAddress { get; set; }

    /// <summary>Layout of the runstate area: 64-bit (48 bytes) or compat (44 bytes).</summary>
    public bool RunstateArea64 { get; set; }

    /// <summary>The vector of HVMOP_set_evtchn_upcall_vector for this vCPU, if set (takes precedence over the domain's callback).</summary>
    public byte? UpcallVector { get; set; }

    /// <summary>Where this vCPU's vcpu_info is: the registered area, else its shared_info slot, else 0.</summary>
    public ulong VcpuInfoGuestAddress =>
        VcpuInfoAddress != 0 ? VcpuInfoAddress
        : Domain.SharedInfoAddress != 0 && Index < Hypercalls.SharedInfoPage.MaxLegacyVcpus
            ? Domain.SharedInfoAddress + (ulong)(Index * Hypercalls.SharedInfoPage.VcpuInfoSizeOf(Domain.Architecture)) : 0;

    /// <summary>An event became pending for this vCPU: wake it if blocked, and make a running one look.</summary>
    public void NotifyEvent()
    {
        _wake.Set();
        KickCpu();
    }

    /// <summary>Makes the accelerator return from the guest promptly (any thread).</summary>
    private void KickCpu()
    {
        if (_arm is not null) _arm.Kick();
        else _x86!.Kick();
    }

    /// <summary>This vCPU's emulated local APIC (xAPIC page at its base, x2APIC and TSC-deadline MSRs, APIC timer).</summary>
    public Apic.LocalApic Apic { get; }

    /// <summary>The APIC vector queued in the accelerator and not yet injected, or -1.</summary>
    private int _apicQueuedVector = -1;

    /// <summary>
    /// Interrupt arbitration before each entry. The accelerator holds at most one queued vector
    /// (injected as soon as the guest's IF allows). Two sources feed it:
    /// <list type="bullet">
    /// <item>the Xen upcall: while vcpu_info says an upcall is pending and the guest set a
    /// callback vector, keep it queued (level-like, as Xen re-asserts the callback while
    /// evtchn_upcall_pending is set); drop it if the guest cleared the flag before injection;</item>
    /// <item>the local APIC: its highest deliverable IRR vector, queued when nothing else is,
    /// and requeued if a higher one arrives or TPR now masks it. It moves IRR→ISR only once the
    /// accelerator injected it (<see cref="AcknowledgeInjectedApicVector"/>), as a CPU
    /// acknowledges an interrupt when it takes it.</item>
    /// </list>
    /// </summary>
    private void UpdateInterrupts()
    {
        if (_apicQueuedVector >= 0)
        {
            if (Apic.TryGetDeliverable(out byte best) && best == _apicQueuedVector) return;
            _cpu.CancelQueuedInterrupt(); // TPR rose, the vector went away, or a higher one came
            _apicQueuedVector = -1;
        }
        byte? upcall = UpcallVector ?? Domain.CallbackVector;
        if (upcall is not null)
        {
            bool pending = UpcallPending;
            if (pending && !_cpu.InterruptQueued) _cpu.QueueInterrupt(upcall.Value);
            else if (!pending && _cpu.InterruptQueued) _cpu.CancelQueuedInterrupt();
        }
        if (!_cpu.InterruptQueued && Apic.TryGetDeliverable(out byte vector))
        {
            _cpu.QueueInterrupt(vector);
            _apicQueuedVector = vector;
        }
    }

    /// <summary>After an entry: if the queued APIC vector was injected, the guest took it (IRR→ISR) — before any exit handling, so its EOI finds it in service.</summary>
    private void AcknowledgeInjectedApicVector()
    {
        if (_apicQueuedVector < 0 || _cpu.InterruptQueued) return;
        Apic.Acknowledge((byte)_apicQueuedVector);
        _apicQueuedVector = -1;
    }

    /// <summary>The accelerator owns IA32_APIC_BASE when it reports one (KVM keeps it in sregs): the APIC follows it.</summary>
    private void SyncApicBase()
    {
        ulong b = _cpu.SpecialRegisters.ApicBase;
        if (b != 0 && ((b ^ Apic.ApicBase) & ~XenSharp.Hypervisor.Apic.ApicRegisters.BaseBsp) != 0) Apic.TrySetApicBase(b, hostInitiated: true);
    }

    private bool HasPendingUpcall() =>
        (UpcallVector ?? Domain.CallbackVector) is not null && UpcallPending;

    /// <summary>Whether this vCPU's vcpu_info says an upcall is pending (evtchn_upcall_pending).</summary>
    public bool UpcallPending =>
        VcpuInfoGuestAddress is var a and not 0 && Domain.Memory.TryRead(a + SharedInfoPage.UpcallPendingOffset, out byte p) && p != 0;

    /// <summary>
    /// An event ABI found a newly pending event for this vCPU: sets evtchn_upcall_pending in its
    /// vcpu_info and notifies it (it takes the callback vector when it can, or wakes from block/poll).
    /// </summary>
    public void RaiseUpcall()
    {
        ulong info = VcpuInfoGuestAddress;
        if (info != 0) Domain.Memory.TryWrite(info + SharedInfoPage.UpcallPendingOffset, (byte)1);
        NotifyEvent();
    }

    private readonly object _timeLock = new();
    private long _timeWrittenAt = long.MinValue / 2; // long ago, without overflowing the age computation

    /// <summary>How often, at most, the run loop rewrites vcpu_time_info before entering the guest.</summary>
    public const long TimeRefreshNs = 100_000_000;

    /// <summary>
    /// Writes this vCPU's vcpu_time_info (in its vcpu_info) from the host TSC: the guest TSC at
    /// this moment, the domain's system time, and the TSC-to-ns scale. Does nothing while the
    /// vCPU has no vcpu_info, and on ARM (whose guests read the generic timer's counter).
    /// </summary>
    public void UpdateTime()
    {
        if (_arm is not null) return; // ARM guests keep time with the generic timer
        ulong info = VcpuInfoGuestAddress;
        if (info == 0 || !Domain.Memory.TryGetSpan(info + Time.PvClock.VcpuInfoTimeOffset, Time.PvClock.Size, out var time)) return;
        lock (_timeLock)
        {
            ulong host = Time.HostTsc.Read();
            long now = Time.HostClock.NsAt(host);
            Time.PvClock.Write(time, host + (ulong)_cpu.TscOffset, (ulong)Math.Max(0, now - Domain.CreatedNs),
                               Time.HostClock.Mul, Time.HostClock.Shift, Time.HostClock.Flags);
            _timeWrittenAt = now;
        }
    }

    /// <summary>Before entering the guest: rewrites vcpu_time_info when it is older than <see cref="TimeRefreshNs"/>.</summary>
    private void RefreshTime()
    {
        if (Time.HostClock.NowNs() - Volatile.Read(ref _timeWrittenAt) >= TimeRefreshNs) UpdateTime();
    }

    /// <summary>The singleshot timer (VCPUOP_set_singleshot_timer, set_timer_op) that raises VIRQ_TIMER.</summary>
    public Time.VcpuTimer SingleshotTimer { get; }

    /// <summary>The periodic timer (VCPUOP_set_periodic_timer) that raises VIRQ_TIMER every <see cref="PeriodicPeriodNs"/>.</summary>
    public Time.VcpuTimer PeriodicTimer { get; }

    /// <summary>The period of <see cref="PeriodicTimer"/> in ns, 0 when stopped.</summary>
    public long PeriodicPeriodNs { get; private set; }

    /// <summary>Wakes the vCPU when a SCHEDOP_poll times out.</summary>
    private readonly Time.VcpuTimer _pollTimer;
    private volatile bool _polling;
    private volatile bool _pollTimedOut;

    /// <summary>A timer expired: raise VIRQ_TIMER on this vCPU (which wakes it if blocked or polling).</summary>
    private void OnTimerExpired() => Domain.EventChannels?.RaiseVirq(Abi.Hypercalls.Virq.Timer, Index);

    private long _periodicLastEvent;

    /// <summary>A periodic tick: raise VIRQ_TIMER and re-arm one period from now (Xen: no catch-up bursts after a late tick).</summary>
    private void OnPeriodicTimerExpired()
    {
        long period = PeriodicPeriodNs;
        if (period <= 0) return;
        long now = Time.HostClock.NowNs();
        _periodicLastEvent = now;
        PeriodicTimer.Set(now + period);
        OnTimerExpired();
    }

    /// <summary>
    /// VCPUOP_set_periodic_timer / stop_periodic_timer (period 0). As in Xen, if a period has
    /// passed since the last tick (always so for the first), a tick is raised at once; the
    /// next comes one period after the last.
    /// </summary>
    public void SetPeriodicTimer(long periodNs)
    {
        PeriodicPeriodNs = periodNs;
        if (periodNs <= 0)
        {
            PeriodicTimer.Stop();
            return;
        }
        long now = Time.HostClock.NowNs();
        if (now - Volatile.Read(ref _periodicLastEvent) >= periodNs)
        {
            _periodicLastEvent = now;
            OnTimerExpired();
        }
        PeriodicTimer.Set(_periodicLastEvent + periodNs);
    }

    /// <summary>Whether the vCPU is inside SCHEDOP_poll.</summary>
    public bool IsPolling => _polling;

    /// <summary>
    /// SCHEDOP_poll after its arguments were checked: blocks until <paramref name="anyPending"/>
    /// says one of the polled ports is pending, an event needs delivery (upcall pending and
    /// not masked), the absolute system-time <paramref name="timeoutNs"/> passes (0 = none),
    /// or the vCPU is stopped. <see cref="Domain.WakePollers"/> makes it look again after any
    /// event; the check runs after each wake-up reset, so no wake-up is lost.
    /// </summary>
    internal void Poll<TState>(TState state, Func<TState, bool> anyPending, ulong timeoutNs)
    {
        _pollTimedOut = false;
        _polling = true;
        try
        {
            if (timeoutNs != 0)
            {
                long deadline = timeoutNs >= (ulong)(long.MaxValue - Domain.CreatedNs) ? long.MaxValue : Domain.CreatedNs + (long)timeoutNs;
                _pollTimer.Set(deadline);
            }
            State = VcpuState.Blocked;
            while (!_stopRequested && !_pollTimedOut && !anyPending(state) && !EventsNeedDelivery())
            {
                ReleasePcpuToWait();
                _wake.Wait();
                _wake.Reset();
                ReacquirePcpu();
            }
        }
        finally
        {
            _polling = false;
            _pollTimer.Stop();
            if (!_stopRequested) State = VcpuState.Running;
            if (Scheduler is null) VcpuOpHypercall.UpdateRunstateArea(this);
        }
    }

    /// <summary>Xen's local_events_need_delivery: an upcall is pending and the vCPU has not masked it.</summary>
    internal bool EventsNeedDelivery()
    {
        ulong info = VcpuInfoGuestAddress;
        return info != 0 && Domain.Memory.TryRead(info, out ushort pendingAndMask) && (pendingAndMask & 0xFF) != 0
            && ((pendingAndMask >> 8) == 0 || !SharedInfoPage.HasUpcallMask(Domain.Architecture));
    }

    /// <summary>State to load at the next bring-up (builder or VCPUOP_initialise).</summary>
    public InitialVcpuState? PendingInitialState { get; set; }

    /// <summary>Whether VCPUOP_initialise (or the builder) gave this vCPU a context.</summary>
    public bool Initialised { get; set; }

    internal Vcpu(Domain domain, int index, IVcpu cpu) : this(domain, index, cpu.TscOffset)
    {
        _x86 = cpu;
    }

    private Vcpu(Domain domain, int index, long tscOffset)
    {
        Domain = domain;
        Index = index;
        if (domain.Sched is { } sd) Sched = new XenSharp.Scheduling.SchedVcpu(sd, index, Time.HostClock.NowNs()) { Owner = this }; // affinity: all
        SingleshotTimer = new Time.VcpuTimer(domain.Hypervisor.Timers, OnTimerExpired);
        PeriodicTimer = new Time.VcpuTimer(domain.Hypervisor.Timers, OnPeriodicTimerExpired);
        _pollTimer = new Time.VcpuTimer(domain.Hypervisor.Timers, () => { _pollTimedOut = true; _wake.Set(); });
        Apic = new XenSharp.Hypervisor.Apic.LocalApic(index, domain.Hypervisor.Timers,
            i => i < Domain.Vcpus.Count ? Domain.Vcpus[i]?.Apic : null, () => Domain.Vcpus.Count, NotifyEvent) { TscOffset = tscOffset };
    }

    /// <summary>The x86 accelerator vCPU (registers, kicks); throws for an ARM vCPU (see <see cref="ArmCpu"/>).</summary>
    public IVcpu Cpu => _cpu;

    /// <summary>Whether the guest translates addresses (x86 CR0.PG, ARM SCTLR_EL1.M): hypercall addresses are then virtual.</summary>
    public bool GuestPagingEnabled => _arm is not null ? _arm.MmuEnabled : (_cpu.SpecialRegisters.Cr0 & X86SpecialRegisters.Cr0Pg) != 0;

    /// <summary>Guest time this vCPU has spent running.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            long ticks = Interlocked.Read(ref _runTicks);
            long started = Interlocked.Read(ref _runStartedAt);
            if (started != 0) ticks += Math.Max(0, Stopwatch.GetTimestamp() - started);
            return Stopwatch.GetElapsedTime(0, ticks);
        }
    }

    /// <summary>Starts the vCPU thread (VCPUOP_up, or the boot vCPU at domain start).</summary>
    public void Start()
    {
        lock (this)
        {
            if (_thread is not null || _stopRequested) return;
            State = VcpuState.Running;
            _thread = new Thread(RunLoop) { IsBackground = true, Name = $"d{Domain.Id}v{Index}" };
            _thread.Start();
        }
    }

    /// <summary>Asks the vCPU to stop and waits for its thread to end.</summary>
    public void Stop()
    {
        RequestStop();
        Thread? t;
        lock (this) t = _thread;
        if (t is not null && t != Thread.CurrentThread) t.Join();
    }

    /// <summary>Asks the vCPU to stop without waiting (safe from its own thread).</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        KickCpu();
        _wake.Set();
        _resume.Set();
        _grant.Set();
    }

    /// <summary>
    /// Pauses the vCPU (xl pause): a running vCPU is kicked out of the guest and its thread
    /// parks at the next exit, keeping all its state; a blocked vCPU stays blocked (and parks
    /// if woken while paused); an offline vCPU brought up while paused parks before its first
    /// instruction. Does not wait for the thread to park (see <see cref="IsParked"/>).
    /// </summary>
    public void Pause()
    {
        _resume.Reset();
        _pauseRequested = true;
        KickCpu();
    }

    /// <summary>Lets a paused vCPU run again from where it stopped.</summary>
    public void Resume()
    {
        _pauseRequested = false;
        _resume.Set();
    }

    /// <summary>Whether a pause was requested and not yet lifted.</summary>
    public bool IsPaused => _pauseRequested;

    /// <summary>Whether the vCPU's thread is parked by <see cref="Pause"/> right now.</summary>
    public bool IsParked => _parked;

    /// <summary>The host CPU the vCPU's thread last ran on (after its latest exit), -1 when unknown.</summary>
    public int LastHostCpu => _lastHostCpu;

    // ------------------------------------------------------------------ scheduling

    /// <summary>The scheduler's view of this vCPU (runstate, affinity, pCPU), or null when the hypervisor runs without a scheduler.</summary>
    public XenSharp.Scheduling.SchedVcpu? Sched { get; }

    private Hypervisor.Scheduling.VcpuScheduler? Scheduler => Domain.Hypervisor.Scheduler;
    private readonly ManualResetEventSlim _grant = new(false);
    private volatile int _grantedPcpu = -1;
    private int _pinnedHostCpu = -1;
    private volatile bool _rescheduleRequested;

    /// <summary>The scheduler gives this vCPU pCPU <paramref name="pcpu"/> (called under the scheduler's lock).</summary>
    internal void GrantPcpu(int pcpu)
    {
        _grantedPcpu = pcpu;
        _grant.Set();
    }

    /// <summary>The scheduler took this vCPU's pCPU away (under its lock): the thread waits for a new grant before entering the guest.</summary>
    internal void RevokePcpu() => _grantedPcpu = -1;

    /// <summary>The slice ended or the pCPU was tickled: at its next exit the vCPU asks the scheduler again.</summary>
    internal void RequestReschedule()
    {
        _rescheduleRequested = true;
        KickCpu();
    }

    /// <summary>Waits (without a scheduler: returns at once) until this vCPU holds a pCPU, and pins the thread to it.</summary>
    private void WaitForPcpu()
    {
        if (Scheduler is null) return;
        while (_grantedPcpu < 0 && !_stopRequested)
        {
            _grant.Wait();
            _grant.Reset();
        }
        int p = _grantedPcpu;
        if (p >= 0 && p != _pinnedHostCpu)
        {
            Hypervisor.Scheduling.VcpuScheduler.PinCurrentThread(p);
            _pinnedHostCpu = p;
        }
        VcpuOpHypercall.UpdateRunstateArea(this); // running
    }

    /// <summary>Before waiting for an event: give the pCPU up (the scheduler runs something else).</summary>
    private void ReleasePcpuToWait()
    {
        if (Scheduler is { } s) s.Block(this);
        VcpuOpHypercall.UpdateRunstateArea(this); // blocked
    }

    /// <summary>After an event woke the thread: runnable again, then wait for a pCPU.</summary>
    private void ReacquirePcpu()
    {
        if (Scheduler is not { } s || _stopRequested) return;
        s.Wake(this);
        WaitForPcpu();
    }

    /// <summary>SCHEDOP_yield: let the scheduler pick again (without one: a host thread yield).</summary>
    internal void YieldPcpu()
    {
        if (Scheduler is not { } s)
        {
            Thread.Yield();
            return;
        }
        s.Yield(this);
        WaitForPcpu();
    }

    private void ParkWhilePaused()
    {
        _parked = true;
        ReleasePcpuToWait();
        try
        {
            while (_pauseRequested && !_stopRequested) _resume.Wait();
        }
        finally
        {
            _parked = false;
            ReacquirePcpu();
        }
    }

    /// <summary>Wakes a blocked vCPU.</summary>
    public void Wake() => _wake.Set();

    /// <summary>Blocks this vCPU's thread until woken or stopped (HLT, SCHEDOP_block).</summary>
    internal void Block()
    {
        if (_arm is not null)
        {
            WaitForInterrupt();
            return;
        }
        if ((HasPendingUpcall() || _cpu.InterruptQueued || Apic.HasDeliverableInterrupt) && (_cpu.Registers.Rflags & (1 << 9)) != 0)
            return; // an event or interrupt is already waiting
        State = VcpuState.Blocked;
        ReleasePcpuToWait();
        _wake.Wait();
        _wake.Reset();
        ReacquirePcpu();
        if (!_stopRequested) State = VcpuState.Running;
        if (Scheduler is null) VcpuOpHypercall.UpdateRunstateArea(this); // running (with one: WaitForPcpu did)
    }

    /// <summary>
    /// Takes the vCPU offline from its own thread (VCPUOP_down on itself, PSCI CPU_OFF): the loop
    /// ends, and a later <see cref="Start"/> brings it up again.
    /// </summary>
    internal void GoOffline() => _goOffline = true;

    private volatile bool _goOffline;

    private void RunLoop()
    {
        try
        {
            if (_arm is not null) LoadArmEntryState();
            else if (PendingInitialState is { } init)
            {
                var sregs = init.SpecialRegisters;
                if (sregs.ApicBase == 0) sregs.ApicBase = Apic.ApicBase; // KVM without an in-kernel APIC starts it at 0
                _cpu.SetSpecialRegisters(sregs);
                _cpu.SetRegisters(init.Registers);
                PendingInitialState = null;
            }
            if (Scheduler is { } scheduler)
            {
                scheduler.Insert(this);
                WaitForPcpu();
            }
            while (!_stopRequested && !_goOffline)
            {
                if (_pauseRequested)
                {
                    ParkWhilePaused();
                    continue;
                }
                if (_rescheduleRequested)
                {
                    _rescheduleRequested = false;
                    Scheduler?.Reschedule(this);
                    VcpuOpHypercall.UpdateRunstateArea(this); // runnable when preempted
                    WaitForPcpu();
                    continue;
                }
                if (_arm is not null)
                {
                    RunArmOnce();
                    continue;
                }
                RefreshTime();
                UpdateInterrupts();
                long start = EnterGuest();
                _cpu.Run();
                LeaveGuest(start);
                AcknowledgeInjectedApicVector();
                HandleExit(ref _cpu.Exit);
            }
        }
        catch (Exception e)
        {
            Domain.Crash($"vCPU {Index}: internal error in the hypervisor: {e.Message}");
        }
        finally
        {
            if (Scheduler is { } scheduler && Sched!.State != XenSharp.Scheduling.VcpuRunstate.Offline) scheduler.Remove(this);
            lock (this)
            {
                State = VcpuState.Offline;
                _goOffline = false;
                _thread = null;
            }
        }
    }

    /// <summary>Accounts the start of a run in the guest; returns its timestamp for <see cref="LeaveGuest"/>.</summary>
    private long EnterGuest()
    {
        long start = Stopwatch.GetTimestamp();
        Interlocked.Exchange(ref _runStartedAt, start);
        return start;
    }

    private void LeaveGuest(long start)
    {
        Interlocked.Exchange(ref _runStartedAt, 0);
        Interlocked.Add(ref _runTicks, Stopwatch.GetTimestamp() - start);
        _lastHostCpu = Thread.GetCurrentProcessorId();
    }

    private void HandleExit(ref VcpuExit exit)
    {
        switch (exit.Kind)
        {
            case VcpuExitKind.Io:
                if (exit.Port == HypercallPage.Port && exit.IsWrite)
                    HypercallDispatcher.Dispatch(this, _cpu);
                else if (exit.Port == DebugPort && exit.IsWrite)
                    WriteDebugPort((byte)exit.Data);
                else if (!exit.IsWrite)
                    _cpu.CompleteIoRead(ulong.MaxValue); // no device: reads float high
                break;
            case VcpuExitKind.Mmio:
                // The local APIC's page; no other emulated MMIO devices yet: reads see all-ones, writes are dropped.
                SyncApicBase();
                if (Apic.ClaimsMmio(exit.Address))
                {
                    if (exit.IsWrite) Apic.WriteMmio(exit.Address, exit.Size, exit.Data);
                    else _cpu.CompleteMmioRead(Apic.ReadMmio(exit.Address, exit.Size));
                }
                else if (!exit.IsWrite) _cpu.CompleteMmioRead(ulong.MaxValue);
                break;
            case VcpuExitKind.MsrWrite:
                _cpu.CompleteMsrWrite(fault: !WriteMsr(exit.MsrIndex, exit.MsrData));
                break;
            case VcpuExitKind.MsrRead:
                ulong msrValue = 0;
                bool msrOk = XenSharp.Hypervisor.Apic.LocalApic.IsApicMsr(exit.MsrIndex) && ReadApicMsr(exit.MsrIndex, out msrValue);
                _cpu.CompleteMsrRead(msrValue, fault: !msrOk);
                break;
            case VcpuExitKind.Halt:
                FlushDebugPort();
                Block();
                break;
            case VcpuExitKind.Interrupted:
            case VcpuExitKind.InterruptWindow:
                break;
            case VcpuExitKind.Shutdown:
                Domain.Crash($"vCPU {Index} triple fault at rip 0x{_cpu.Registers.Rip:x}");
                break;
            case VcpuExitKind.InternalError when exit.Detail is not null:
                Domain.Crash($"vCPU {Index}: {exit.Detail}");
                break;
            case VcpuExitKind.InternalError:
                if (!TryCompleteInstruction(ref exit, out string? reason))
                    Domain.Crash(DescribeInternalError(ref exit) + (reason is null ? "" : ": " + reason));
                break;
            case VcpuExitKind.FailEntry:
                Domain.Crash($"vCPU {Index}: the accelerator refused to enter the guest (reason 0x{exit.RawReason:x}, 0x{exit.Data:x})");
                break;
            default:
                Domain.Crash($"vCPU {Index}: unexpected exit (accelerator reason {exit.RawReason})");
                break;
        }
    }

    /// <summary>KVM's emulator gave up on an instruction: complete it in XenSharp when it can.</summary>
    private bool TryCompleteInstruction(ref VcpuExit exit, out string? reason)
    {
        reason = null;
        const uint emulationSuberror = 1;
        if (exit.RawSubReason != emulationSuberror || Domain.Hypervisor.InstructionEmulator is not { } emulator) return false;
        reason = emulator.Complete(_cpu, Domain.Memory, ((ReadOnlySpan<byte>)exit.Instruction)[..exit.InstructionLength]);
        return reason is null;
    }

    private string DescribeInternalError(ref VcpuExit exit)
    {
        string bytes = exit.InstructionLength > 0
            ? Convert.ToHexString(((ReadOnlySpan<byte>)exit.Instruction)[..exit.InstructionLength])
            : "unknown";
        return $"vCPU {Index}: instruction at rip 0x{_cpu.Registers.Rip:x} could not be emulated " +
               $"(suberror {exit.RawSubReason}, bytes {bytes})";
    }

    /// <summary>Handles a WRMSR the accelerator left to us; false means #GP.</summary>
    private bool WriteMsr(uint index, ulong value)
    {
        if (XenSharp.Hypervisor.Apic.LocalApic.IsApicMsr(index))
        {
            SyncApicBase();
            return Apic.TryWriteMsr(index, value);
        }
        if (index != XenCpuid.HypercallPageMsr) return false;
        // value = guest-physical address of the page | page index (only page 0 exists).
        if ((value & 0xFFF) != 0) return false;
        return HypercallPage.Fill(Domain.Memory, value & ~0xFFFUL);
    }

    private bool ReadApicMsr(uint index, out ulong value)
    {
        SyncApicBase();
        return Apic.TryReadMsr(index, out value);
    }

    /// <summary>Port 0xE9: Bochs/Xen HVM debug console; lines go to the hypervisor log.</summary>
    public const ushort DebugPort = 0xE9;

    private void WriteDebugPort(byte b)
    {
        Domain.DebugPortObserver?.Invoke(b);
        if (b == '\n' || _debugPortLength == _debugPortLine.Length)
        {
            FlushDebugPort();
            if (b == '\n') return;
        }
        _debugPortLine[_debugPortLength++] = b;
    }

    private void FlushDebugPort()
    {
        if (_debugPortLength == 0) return;
        Domain.ConsoleIo.Write(_debugPortLine.AsSpan(0, _debugPortLength));
        Domain.ConsoleIo.Write("\n"u8);
        _debugPortLength = 0;
    }

    public void Dispose()
    {
        SingleshotTimer.Stop();
        PeriodicTimer.Stop();
        _pollTimer.Stop();
        Stop();
        Apic.StopTimer(); // after the thread ended: nothing re-arms it, and no expiry kicks a disposed vCPU
        _wfiTimer?.Stop();
        _x86?.Dispose();
        _arm?.Dispose();
        _wake.Dispose();
        _resume.Dispose();
        _grant.Dispose();
    }
}
