using System.Numerics;
using XenSharp.Hypervisor.Time;
using static XenSharp.Hypervisor.Apic.ApicRegisters;

namespace XenSharp.Hypervisor.Apic;

/// <summary>
/// An emulated local APIC for one vCPU (Intel SDM vol. 3A ch. 11), in both interfaces: the
/// xAPIC page (MMIO at IA32_APIC_BASE, 4 KiB, 32-bit accesses at 16-byte register offsets) and
/// x2APIC (MSRs 0x800–0x8FF, once IA32_APIC_BASE.EXTD is set). KVM runs here without an
/// in-kernel irqchip, so this is the only local APIC a guest has.
///
/// <para><b>Registers.</b> ID (xAPIC: id &lt;&lt; 24; x2APIC: the vCPU index), version 0x50014
/// (6 LVTs: timer, thermal, perf, LINT0, LINT1, error), TPR, PPR (computed), EOI, LDR/DFR
/// (xAPIC; x2APIC's LDR is derived: cluster &lt;&lt; 16 | 1 &lt;&lt; (id &amp; 15)), SVR, the read-only
/// ISR/TMR/IRR banks, ESR (errors accumulate internally; a write latches them into the
/// readable register), ICR, the LVTs and the timer registers. Writes to read-only registers are
/// ignored, reserved offsets read 0; in x2APIC mode the same accesses through MSRs #GP instead
/// (<see cref="TryReadMsr"/>/<see cref="TryWriteMsr"/> return false). Clearing SVR bit 8
/// (software disable) masks every LVT and stops fixed interrupts being accepted; clearing
/// IA32_APIC_BASE.EN resets the APIC to its power-up state.</para>
///
/// <para><b>Interrupt flow.</b> A fixed interrupt (IPI, self-IPI, timer) sets its bit in IRR
/// (lock-free, from any thread) and calls the owner's <c>onPending</c> callback, which wakes a
/// halted vCPU and kicks a running one. Before each guest entry, when nothing else is queued,
/// the vCPU calls <see cref="TryAcknowledge"/>: the highest IRR vector whose priority class is
/// above PPR (max of TPR and the highest in-service class) moves IRR→ISR and is queued for
/// injection (KVM_INTERRUPT when the guest's IF allows). The acknowledge happens when the
/// vector is queued, not when the CPU takes it: a later TPR raise does not un-queue it. EOI
/// clears the highest ISR bit, after which lower vectors become deliverable. All interrupts are
/// edge-triggered (TMR stays 0; there is no I/O APIC).</para>
///
/// <para><b>Timer.</b> The APIC bus runs at <see cref="BusFrequencyHz"/> (1 GHz: one bus tick
/// per ns); the timer counts initial-count × divisor ticks. One-shot and periodic modes arm a
/// <see cref="VcpuTimer"/> on the hypervisor's <see cref="TimerQueue"/> (no thread per
/// timer); periodic re-arms on its grid from the expiry, with a floor of
/// <see cref="MinPeriodicNs"/>. The current count is computed from elapsed host time. In
/// TSC-deadline mode IA32_TSC_DEADLINE (0x6E0) is compared against the guest TSC (host TSC +
/// <see cref="TscOffset"/>); writing 0 disarms it, and it reads 0 once fired. A masked timer
/// LVT keeps counting but raises nothing. Changing the timer mode stops the timer.</para>
///
/// <para><b>IPIs.</b> Fixed and lowest-priority delivery (the latter goes to the first
/// matching vCPU) to a physical destination, to the logical destination (xAPIC flat or
/// cluster, x2APIC cluster), or by shorthand (self, all including self, all excluding self).
/// Delivery is instantaneous (delivery status always reads 0). NMI, SMI, INIT and SIPI are
/// ignored without a trace: vCPUs are brought up with VCPUOP_initialise/up, not INIT-SIPI.</para>
///
/// <para><b>Not modelled:</b> the LVT error interrupt (ESR bits are recorded, no interrupt
/// raised), LINT0/LINT1, thermal and performance LVT delivery (stored only), CR8 (KVM keeps
/// its own; guests here program TPR through the APIC), EOI-broadcast suppression, focus
/// checking, arbitration priority (reads 0), level-triggered interrupts.</para>
///
/// <para><b>Threads.</b> Register accesses come from the owning vCPU's thread and take a
/// lock; IRR and the pending ESR bits are changed with interlocked operations so that other
/// vCPUs (IPIs) and the timer thread never wait for that lock, and the timer callback never
/// takes it (the vCPU thread stops the timer while holding it).</para>
/// </summary>
public sealed class LocalApic
{
    /// <summary>APIC bus (timer input) frequency before the divider: one tick per nanosecond.</summary>
    public const long BusFrequencyHz = 1_000_000_000;

    /// <summary>The shortest periodic-timer period honoured (as KVM does), so a tiny count cannot flood the host.</summary>
    public const long MinPeriodicNs = 100_000;

    private const int LvtCount = 6;
    private const int LvtTimerIndex = 0, LvtThermalIndex = 1, LvtPerfIndex = 2, LvtLint0Index = 3, LvtLint1Index = 4, LvtErrorIndex = 5;

    private readonly Lock _lock = new();
    private readonly Func<int, LocalApic?> _peer;
    private readonly Func<int> _peerCount;
    private readonly Action? _onPending;
    private readonly VcpuTimer _timer;

    private readonly uint[] _irr = new uint[8];
    private readonly uint[] _isr = new uint[8];
    private readonly uint[] _lvt = new uint[LvtCount];

    private ulong _apicBase;
    private uint _tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh;
    private uint _timerInitial, _divideConfig, _timerDivisor;
    private long _timerStartNs, _timerPeriodNs;
    private ulong _tscDeadline;

    /// <summary>
    /// Creates the APIC of vCPU <paramref name="id"/> (its APIC id). <paramref name="peer"/> and
    /// <paramref name="peerCount"/> look up the domain's APICs by vCPU index for IPIs;
    /// <paramref name="onPending"/> runs (on any thread) when a new vector becomes pending.
    /// </summary>
    public LocalApic(int id, TimerQueue timers, Func<int, LocalApic?> peer, Func<int> peerCount, Action? onPending = null)
    {
        Id = id;
        _peer = peer;
        _peerCount = peerCount;
        _onPending = onPending;
        _timer = new VcpuTimer(timers, OnTimerExpired);
        _apicBase = DefaultBase | BaseEnable | (id == 0 ? BaseBsp : 0);
        ResetRegisters();
    }

    /// <summary>The APIC id: the vCPU index.</summary>
    public int Id { get; }

    /// <summary>Guest TSC minus host TSC (<see cref="Accelerator.IVcpu.TscOffset"/>), for IA32_TSC_DEADLINE.</summary>
    public long TscOffset { get; set; }

    /// <summary>IA32_APIC_BASE: base address, EN (bit 11), EXTD (bit 10), BSP (bit 8).</summary>
    public ulong ApicBase => Volatile.Read(ref _apicBase);

    /// <summary>Whether the APIC is globally enabled (IA32_APIC_BASE.EN).</summary>
    public bool IsEnabled => (ApicBase & BaseEnable) != 0;

    /// <summary>Whether the APIC is in x2APIC mode (IA32_APIC_BASE.EXTD).</summary>
    public bool IsX2ApicMode => (ApicBase & BaseExtd) != 0;

    /// <summary>Whether SVR bit 8 (APIC software enable) is set.</summary>
    public bool IsSoftwareEnabled => (Volatile.Read(ref _svr) & SvrEnable) != 0;

    /// <summary>Whether the APIC timer is counting (one-shot/periodic) or a TSC deadline is armed.</summary>
    public bool TimerArmed => _timer.IsArmed;

    private void ResetRegisters()
    {
        Array.Clear(_irr);
        Array.Clear(_isr);
        for (int i = 0; i < LvtCount; i++) _lvt[i] = LvtMasked;
        _tpr = _ldr = _esr = _esrPending = _icrLow = _icrHigh = 0;
        _dfr = 0xFFFF_FFFF;
        _svr = SvrReset;
        _timer.Stop();
        _timerInitial = _divideConfig = 0;
        _timerDivisor = 2;
        _timerStartNs = _timerPeriodNs = 0;
        _tscDeadline = 0;
    }

    /// <summary>Stops the timer (the vCPU is going away); waits for an expiry in progress.</summary>
    public void StopTimer() => _timer.Stop();

    // ---- IA32_APIC_BASE -------------------------------------------------------------------

    /// <summary>
    /// Writes IA32_APIC_BASE; false means #GP (reserved bits, EXTD without EN, and — unless
    /// <paramref name="hostInitiated"/> — x2APIC→xAPIC or disabled→x2APIC). Clearing EN resets
    /// the APIC. The BSP bit is fixed (set on vCPU 0).
    /// </summary>
    public bool TrySetApicBase(ulong value, bool hostInitiated = false)
    {
        if ((value & ~(BaseAddressMask | BaseExtd | BaseEnable | BaseBsp)) != 0) return false;
        bool en = (value & BaseEnable) != 0, x2 = (value & BaseExtd) != 0;
        if (x2 && !en) return false;
        lock (_lock)
        {
            bool wasEn = (_apicBase & BaseEnable) != 0, wasX2 = (_apicBase & BaseExtd) != 0;
            if (!hostInitiated && ((wasX2 && en && !x2) || (!wasEn && x2))) return false;
            if (wasEn && !en) ResetRegisters();
            Volatile.Write(ref _apicBase, (value & ~BaseBsp) | (_apicBase & BaseBsp));
        }
        return true;
    }

    // ---- xAPIC MMIO -----------------------------------------------------------------------

    /// <summary>Whether guest-physical <paramref name="gpa"/> lies in the APIC page (APIC globally enabled).</summary>
    public bool ClaimsMmio(ulong gpa)
    {
        ulong b = ApicBase;
        return (b & BaseEnable) != 0 && (gpa & ~0xFFFUL) == (b & BaseAddressMask);
    }

    /// <summary>An MMIO read in the APIC page: aligned 32-bit reads of registers; anything else (and x2APIC mode) reads 0.</summary>
    public ulong ReadMmio(ulong gpa, int size)
    {
        int offset = (int)(gpa & 0xFFF);
        if (size != 4 || (offset & 0xF) != 0 || IsX2ApicMode) return 0;
        lock (_lock) return ReadRegister(offset);
    }

    /// <summary>An MMIO write in the APIC page: aligned 32-bit writes of registers; anything else (and x2APIC mode) is ignored.</summary>
    public void WriteMmio(ulong gpa, int size, ulong value)
    {
        int offset = (int)(gpa & 0xFFF);
        if (size != 4 || (offset & 0xF) != 0 || IsX2ApicMode) return;
        lock (_lock) WriteRegister(offset, (uint)value, x2: false);
    }

    // ---- MSRs -----------------------------------------------------------------------------

    /// <summary>Whether <paramref name="index"/> is an MSR this APIC handles (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC).</summary>
    public static bool IsApicMsr(uint index) =>
        index is ApicBaseMsr or TscDeadlineMsr or (>= X2ApicMsrFirst and <= X2ApicMsrLast);

    /// <summary>RDMSR of an APIC MSR; false means #GP (x2APIC MSRs outside x2APIC mode, write-only or absent registers).</summary>
    public bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        switch (index)
        {
            case ApicBaseMsr:
                value = ApicBase;
                return true;
            case TscDeadlineMsr:
                lock (_lock) value = TimerMode == LvtTimerTscDeadline ? _tscDeadline : 0;
                return true;
            case >= X2ApicMsrFirst and <= X2ApicMsrLast:
                if (!IsX2ApicMode) return false;
                int offset = (int)(index - X2ApicMsrFirst) << 4;
                lock (_lock)
                {
                    switch (offset)
                    {
                        case ApicId or ApicVersion or Tpr or Ppr or Ldr or Svr or Esr or LvtTimer or LvtThermal or LvtPerf
                            or LvtLint0 or LvtLint1 or LvtError or TimerInitialCount or TimerCurrentCount or TimerDivide:
                        case >= IsrBase and < Esr:
                            value = ReadRegister(offset);
                            return true;
                        case IcrLow:
                            value = ((ulong)_icrHigh << 32) | _icrLow;
                            return true;
                        default:
                            return false; // EOI, self-IPI (write-only); APR, RRD, DFR, ICR high (absent in x2APIC)
                    }
                }
            default:
                return false;
        }
    }

    /// <summary>WRMSR of an APIC MSR; false means #GP.</summary>
    public bool TryWriteMsr(uint index, ulong value)
    {
        switch (index)
        {
            case ApicBaseMsr:
                return TrySetApicBase(value);
            case TscDeadlineMsr:
                lock (_lock) WriteTscDeadline(value);
                return true;
            case >= X2ApicMsrFirst and <= X2ApicMsrLast:
                if (!IsX2ApicMode) return false;
                int offset = (int)(index - X2ApicMsrFirst) << 4;
                switch (offset)
                {
                    case IcrLow:
                        lock (_lock)
                        {
                            _icrHigh = (uint)(value >> 32);
                            _icrLow = (uint)value & IcrLowWritable;
                            SendIpi(_icrLow, _icrHigh, x2: true);
                        }
                        return true;
                    case SelfIpi:
                        if ((value >> 8) != 0) return false;
                        Deliver((byte)value);
                        return true;
                    case Eoi or Esr:
                        if (value != 0) return false;
                        break;
                    case Tpr or Svr or LvtTimer or LvtThermal or LvtPerf or LvtLint0 or LvtLint1 or LvtError or TimerInitialCount or TimerDivide:
                        if ((value >> 32) != 0) return false;
                        break;
                    default:
                        return false; // read-only or absent
                }
                lock (_lock) WriteRegister(offset, (uint)value, x2: true);
                return true;
            default:
                return false;
        }
    }

    // ---- Registers (caller holds _lock) ------------------------------------------------------

    /// <summary>Reads a register by its xAPIC offset (as the guest would, in the current mode).</summary>
    public uint Read(int offset)
    {
        lock (_lock) return ReadRegister(offset);
    }

    /// <summary>Writes a register by its xAPIC offset (as the guest would, in the current mode).</summary>
    public void Write(int offset, uint value)
    {
        lock (_lock) WriteRegister(offset, value, IsX2ApicMode);
    }

    private uint ReadRegister(int offset)
    {
        bool x2 = IsX2ApicMode;
        switch (offset)
        {
            case ApicId: return x2 ? (uint)Id : (uint)Id << 24;
            case ApicVersion: return VersionValue;
            case Tpr: return _tpr;
            case Ppr: return ComputePpr();
            case Ldr: return x2 ? X2ApicLdr(Id) : _ldr;
            case Dfr: return x2 ? 0 : _dfr;
            case Svr: return _svr;
            case >= IsrBase and < TmrBase when (offset & 0xF) == 0: return _isr[(offset - IsrBase) >> 4];
            case >= TmrBase and < IrrBase when (offset & 0xF) == 0: return 0; // edge-triggered only
            case >= IrrBase and < Esr when (offset & 0xF) == 0: return Volatile.Read(ref _irr[(offset - IrrBase) >> 4]);
            case Esr: return _esr;
            case IcrLow: return _icrLow;
            case IcrHigh: return x2 ? 0 : _icrHigh;
            case LvtTimer: return _lvt[LvtTimerIndex];
            case LvtThermal: return _lvt[LvtThermalIndex];
            case LvtPerf: return _lvt[LvtPerfIndex];
            case LvtLint0: return _lvt[LvtLint0Index];
            case LvtLint1: return _lvt[LvtLint1Index];
            case LvtError: return _lvt[LvtErrorIndex];
            case TimerInitialCount: return _timerInitial;
            case TimerCurrentCount: return CurrentCount();
            case TimerDivide: return _divideConfig;
            default: return 0; // APR, RRD, EOI (write-only), reserved
        }
    }

    private void WriteRegister(int offset, uint value, bool x2)
    {
        switch (offset)
        {
            case Tpr:
                _tpr = value & 0xFF;
                break;
            case Eoi:
                int v = Highest(_isr);
                if (v >= 0) _isr[v >> 5] &= ~(1u << (v & 31));
                break;
            case Ldr when !x2:
                Volatile.Write(ref _ldr, value & 0xFF00_0000);
                break;
            case Dfr when !x2:
                Volatile.Write(ref _dfr, value | 0x0FFF_FFFF);
                break;
            case Svr:
                Volatile.Write(ref _svr, value & 0x1FF);
                if ((value & SvrEnable) == 0)
                    for (int i = 0; i < LvtCount; i++) _lvt[i] |= LvtMasked;
                break;
            case Esr:
                _esr = Interlocked.Exchange(ref _esrPending, 0);
                break;
            case IcrLow when !x2:
                _icrLow = value & IcrLowWritable;
                SendIpi(_icrLow, _icrHigh >> 24, x2: false);
                break;
            case IcrHigh when !x2:
                _icrHigh = value & 0xFF00_0000;
                break;
            case LvtTimer:
                WriteLvtTimer(value);
                break;
            case LvtThermal: WriteLvt(LvtThermalIndex, value, LvtThermalPerfWritable); break;
            case LvtPerf: WriteLvt(LvtPerfIndex, value, LvtThermalPerfWritable); break;
            case LvtLint0: WriteLvt(LvtLint0Index, value, LvtLintWritable); break;
            case LvtLint1: WriteLvt(LvtLint1Index, value, LvtLintWritable); break;
            case LvtError: WriteLvt(LvtErrorIndex, value, LvtErrorWritable); break;
            case TimerInitialCount:
                StartCountdown(value);
                break;
            case TimerDivide:
                _divideConfig = value & DivideWritable;
                break;
            case SelfIpi when x2:
                Deliver((byte)value);
                break;
            // ID, version, PPR, ISR/TMR/IRR, current count and reserved offsets: read-only, ignored.
        }
    }

    private void WriteLvt(int index, uint value, uint writable)
    {
        value &= writable;
        if (!IsSoftwareEnabled) value |= LvtMasked;
        _lvt[index] = value;
    }

    private uint TimerMode => _lvt[LvtTimerIndex] & LvtTimerModeMask;

    private void WriteLvtTimer(uint value)
    {
        uint oldMode = TimerMode;
        value &= LvtTimerWritable;
        if ((value & LvtTimerModeMask) == LvtTimerModeMask) value &= ~LvtTimerModeMask; // reserved mode: one-shot
        if (!IsSoftwareEnabled) value |= LvtMasked;
        Volatile.Write(ref _lvt[LvtTimerIndex], value);
        if ((value & LvtTimerModeMask) != oldMode)
        {
            // A mode change disarms whatever was counting (as KVM does).
            _timer.Stop();
            _timerInitial = 0;
            Volatile.Write(ref _timerPeriodNs, 0);
            Volatile.Write(ref _tscDeadline, 0);
        }
    }

    // ---- Timer ------------------------------------------------------------------------------

    /// <summary>The divisor of the divide configuration register: 2, 4, …, 128, or 1 (0b1011).</summary>
    public static uint Divisor(uint config)
    {
        uint v = ((config & 8) >> 1) | (config & 3);
        return v == 7 ? 1 : 2u << (int)v;
    }

    private void StartCountdown(uint count)
    {
        if (TimerMode == LvtTimerTscDeadline) return; // the initial count is ignored in TSC-deadline mode
        _timer.Stop();
        _timerInitial = count;
        _timerDivisor = Divisor(_divideConfig);
        if (count == 0)
        {
            Volatile.Write(ref _timerPeriodNs, 0);
            return;
        }
        long period = TicksToNs((long)count * _timerDivisor);
        if (TimerMode == LvtTimerPeriodic) period = Math.Max(period, MinPeriodicNs);
        long now = HostClock.NowNs();
        _timerStartNs = now;
        Volatile.Write(ref _timerPeriodNs, period);
        _timer.Set(now + period);
    }

    private static long TicksToNs(long ticks) => BusFrequencyHz == 1_000_000_000 ? ticks : (long)((Int128)ticks * 1_000_000_000 / BusFrequencyHz);

    private static long NsToTicks(long ns) => BusFrequencyHz == 1_000_000_000 ? ns : (long)((Int128)ns * BusFrequencyHz / 1_000_000_000);

    private uint CurrentCount()
    {
        uint initial = _timerInitial;
        if (initial == 0 || Volatile.Read(ref _timerPeriodNs) == 0 || TimerMode == LvtTimerTscDeadline) return 0;
        long elapsed = NsToTicks(Math.Max(0, HostClock.NowNs() - _timerStartNs)) / _timerDivisor;
        if (TimerMode == LvtTimerPeriodic) return initial - (uint)(elapsed % initial);
        return elapsed >= initial ? 0 : initial - (uint)elapsed;
    }

    private void WriteTscDeadline(ulong value)
    {
        if (TimerMode != LvtTimerTscDeadline) return; // ignored outside TSC-deadline mode
        _timer.Stop();
        Volatile.Write(ref _tscDeadline, value);
        if (value == 0) return;
        ulong hostTsc = unchecked(value - (ulong)TscOffset);
        _timer.Set(HostClock.NsAt(hostTsc));
    }

    /// <summary>On the timer thread (under the VcpuTimer's lock, never the APIC's).</summary>
    private void OnTimerExpired()
    {
        uint lvt = Volatile.Read(ref _lvt[LvtTimerIndex]);
        switch (lvt & LvtTimerModeMask)
        {
            case LvtTimerPeriodic:
                long period = Volatile.Read(ref _timerPeriodNs);
                if (period > 0)
                {
                    long deadline = _timer.Deadline, next = deadline + period, now = HostClock.NowNs();
                    if (next <= now) next = now + period - (now - deadline) % period; // late: stay on the grid, skip missed ticks
                    _timer.Set(next);
                }
                break;
            case LvtTimerTscDeadline:
                Volatile.Write(ref _tscDeadline, 0);
                break;
        }
        if ((lvt & LvtMasked) == 0 && IsSoftwareEnabled) Deliver((byte)lvt);
    }

    // ---- Delivery ---------------------------------------------------------------------------

    /// <summary>
    /// A fixed interrupt arrives at this APIC (from an IPI, the timer, or a device): sets its IRR
    /// bit unless the APIC is disabled; vectors 0–15 are illegal (ESR bit 6). Any thread.
    /// </summary>
    public void Deliver(byte vector)
    {
        if (vector < 16)
        {
            Interlocked.Or(ref _esrPending, EsrReceiveIllegalVector);
            return;
        }
        if (!IsEnabled || !IsSoftwareEnabled) return;
        uint bit = 1u << (vector & 31);
        uint old = Interlocked.Or(ref _irr[vector >> 5], bit);
        if ((old & bit) == 0) _onPending?.Invoke();
    }

    private void SendIpi(uint low, uint destination, bool x2)
    {
        uint mode = low & IcrDeliveryModeMask;
        if (mode != IcrDeliveryFixed && mode != IcrDeliveryLowestPriority) return; // NMI, SMI, INIT, SIPI: ignored
        byte vector = (byte)(low & IcrVectorMask);
        if (vector < 16)
        {
            Interlocked.Or(ref _esrPending, EsrSendIllegalVector);
            return;
        }
        uint shorthand = low & IcrShorthandMask;
        if (shorthand == IcrShorthandSelf)
        {
            Deliver(vector);
            return;
        }
        bool logical = (low & IcrDestLogical) != 0;
        int count = _peerCount();
        for (int i = 0; i < count; i++)
        {
            if (_peer(i) is not { } target) continue;
            bool match = shorthand switch
            {
                IcrShorthandAllIncludingSelf => true,
                IcrShorthandAllExcludingSelf => target != this,
                _ => Matches(target, destination, logical, x2),
            };
            if (!match) continue;
            target.Deliver(vector);
            if (mode == IcrDeliveryLowestPriority && shorthand == IcrShorthandNone) return; // the first match takes it
        }
    }

    private static bool Matches(LocalApic target, uint destination, bool logical, bool x2)
    {
        if (x2 ? destination == 0xFFFF_FFFF : destination == 0xFF) return true; // broadcast
        if (!logical) return (uint)target.Id == destination;
        if (x2)
        {
            uint ldr = X2ApicLdr(target.Id);
            return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xFFFF) != 0;
        }
        uint ldr8 = Volatile.Read(ref target._ldr) >> 24, dest8 = destination & 0xFF;
        bool flat = (Volatile.Read(ref target._dfr) >> 28) == 0xF;
        return flat ? (ldr8 & dest8) != 0 : (ldr8 >> 4) == (dest8 >> 4) && (ldr8 & dest8 & 0xF) != 0;
    }

    /// <summary>The x2APIC logical id of APIC id <paramref name="id"/>: cluster (id / 16) in bits 31:16, one bit for id % 16.</summary>
    public static uint X2ApicLdr(int id) => ((uint)id >> 4 << 16) | (1u << (id & 15));

    // ---- Priority and acknowledge --------------------------------------------------------------

    private static int Highest(uint[] bank)
    {
        for (int i = bank.Length - 1; i >= 0; i--)
        {
            uint w = Volatile.Read(ref bank[i]);
            if (w != 0) return i * 32 + 31 - BitOperations.LeadingZeroCount(w);
        }
        return -1;
    }

    private uint ComputePpr()
    {
        int isrv = Math.Max(0, Highest(_isr));
        return (_tpr & 0xF0) >= ((uint)isrv & 0xF0) ? _tpr : (uint)isrv & 0xF0;
    }

    /// <summary>The highest pending vector whose class is above PPR, or -1 (caller holds the lock).</summary>
    private int DeliverableVector()
    {
        if (!IsEnabled) return -1;
        int v = Highest(_irr);
        return v >= 0 && ((uint)v & 0xF0) > (ComputePpr() & 0xF0) ? v : -1;
    }

    /// <summary>Whether an IRR vector could be injected now (its priority class is above PPR).</summary>
    public bool HasDeliverableInterrupt
    {
        get { lock (_lock) return DeliverableVector() >= 0; }
    }

    /// <summary>The highest IRR vector the CPU could take now (above PPR, APIC enabled); false when none.</summary>
    public bool TryGetDeliverable(out byte vector)
    {
        lock (_lock)
        {
            int v = DeliverableVector();
            vector = (byte)Math.Max(0, v);
            return v >= 0;
        }
    }

    /// <summary>The CPU took <paramref name="vector"/> (it was injected): IRR→ISR. Nothing happens if it is no longer in IRR.</summary>
    public void Acknowledge(byte vector)
    {
        lock (_lock)
        {
            uint bit = 1u << (vector & 31);
            if ((Volatile.Read(ref _irr[vector >> 5]) & bit) == 0) return;
            Interlocked.And(ref _irr[vector >> 5], ~bit);
            _isr[vector >> 5] |= bit;
        }
    }

    /// <summary>
    /// The CPU takes an interrupt: the highest deliverable IRR vector moves to ISR and is
    /// returned; false when none is deliverable (<see cref="TryGetDeliverable"/> + <see cref="Acknowledge"/> in one step).
    /// </summary>
    public bool TryAcknowledge(out byte vector)
    {
        lock (_lock)
        {
            int v = DeliverableVector();
            if (v < 0)
            {
                vector = 0;
                return false;
            }
            uint bit = 1u << (v & 31);
            Interlocked.And(ref _irr[v >> 5], ~bit);
            _isr[v >> 5] |= bit;
            vector = (byte)v;
            return true;
        }
    }

    /// <summary>Whether <paramref name="vector"/> is set in IRR.</summary>
    public bool IsPending(byte vector) => (Volatile.Read(ref _irr[vector >> 5]) & (1u << (vector & 31))) != 0;

    /// <summary>Whether <paramref name="vector"/> is set in ISR.</summary>
    public bool IsInService(byte vector)
    {
        lock (_lock) return (_isr[vector >> 5] & (1u << (vector & 31))) != 0;
    }
}
