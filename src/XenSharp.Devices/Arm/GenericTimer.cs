using XenSharp.Abi.Arm;
namespace XenSharp.Devices.Arm;

/// <summary>
/// One vCPU's ARM generic timer (ARM DDI 0487, chapter D11): the system counter as CNTPCT_EL0
/// (from the clock it is given) and CNTVCT_EL0 (minus CNTVOFF), and the EL1 physical and virtual
/// timers, each with CTL (ENABLE bit 0, IMASK bit 1, ISTATUS bit 2 read-only), CVAL and TVAL.
/// A timer's condition holds when ENABLE is set and the counter has reached CVAL (unsigned 64-bit
/// compare); its output — condition and not IMASK — drives a level-sensitive PPI (virtual 27,
/// physical 30 on Xen/ARM). Outputs are re-evaluated on every register access and on
/// <see cref="Update"/>, which the vCPU loop calls before deciding whether an IRQ is pending and
/// when it wakes; <see cref="NextDeadline"/> says when to wake from WFI.
/// </summary>
public sealed class GenericTimer : IArmSysRegDevice
{
    /// <summary>62.5 MHz: what QEMU's virt machine and many SBSA systems report; Xen passes the host's CNTFRQ through.</summary>
    public const ulong DefaultFrequency = 62_500_000;

    private readonly object _lock = new();
    private readonly Func<ulong> _counter;
    private readonly IInterruptLine _virtualLine, _physicalLine;
    private Timer _virt, _phys;
    private ulong _cntkctl;

    private struct Timer
    {
        public ulong Ctl;     // ENABLE, IMASK (ISTATUS computed)
        public ulong Cval;
        public bool Output;
    }

    public ulong Frequency { get; }

    /// <summary>CNTVOFF_EL2: the virtual counter is the physical count minus this.</summary>
    public ulong VirtualOffset
    {
        get { lock (_lock) return _voff; }
        set { lock (_lock) _voff = value; Update(); }
    }
    private ulong _voff;

    /// <param name="counter">The system counter in ticks of <paramref name="frequency"/> (monotonic).</param>
    public GenericTimer(Func<ulong> counter, IInterruptLine virtualTimerLine, IInterruptLine physicalTimerLine, ulong frequency = DefaultFrequency)
    {
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentOutOfRangeException.ThrowIfZero(frequency);
        _counter = counter;
        _virtualLine = virtualTimerLine;
        _physicalLine = physicalTimerLine;
        Frequency = frequency;
    }

    /// <summary>Wires a vCPU's timers to its PPIs 27 (virtual) and 30 (physical) on the GIC.</summary>
    public static GenericTimer ForVcpu(GicV3 gic, int vcpu, Func<ulong> counter, ulong frequency = DefaultFrequency) =>
        new(counter, gic.PpiLine(vcpu, ArmGuestLayout.TimerVirtualPpi), gic.PpiLine(vcpu, ArmGuestLayout.TimerPhysicalNonSecurePpi), frequency);

    public ulong PhysicalCount => _counter();
    public ulong VirtualCount { get { lock (_lock) return _counter() - _voff; } }

    private static bool Condition(in Timer t, ulong now) => (t.Ctl & 1) != 0 && now >= t.Cval;

    private static ulong ReadCtl(in Timer t, ulong now) => (t.Ctl & 3) | (Condition(t, now) ? 4UL : 0);

    /// <summary>Re-evaluates both timers' outputs against the counter and drives the PPIs on a change.</summary>
    public void Update()
    {
        // Lines are driven under the lock so that two callers cannot deliver levels out of order
        // (the GIC never calls back into a timer).
        lock (_lock)
        {
            var (v, p) = Evaluate();
            Drive(v, p);
        }
    }

    private (bool?, bool?) Evaluate()
    {
        ulong pnow = _counter(), vnow = pnow - _voff;
        return (Refresh(ref _virt, vnow), Refresh(ref _phys, pnow));
    }

    private static bool? Refresh(ref Timer t, ulong now)
    {
        bool output = Condition(t, now) && (t.Ctl & 2) == 0;
        if (output == t.Output) return null;
        t.Output = output;
        return output;
    }

    private void Drive(bool? v, bool? p)
    {
        if (v is { } vl) _virtualLine.SetLevel(vl);
        if (p is { } pl) _physicalLine.SetLevel(pl);
    }

    /// <summary>
    /// The physical counter value at which the next enabled, unmasked timer fires, or null when
    /// none will (the vCPU may sleep in WFI until an interrupt). A deadline already passed is
    /// returned as is (≤ now).
    /// </summary>
    public ulong? NextDeadline
    {
        get
        {
            lock (_lock)
            {
                ulong? best = null;
                if ((_virt.Ctl & 3) == 1)
                {
                    // Virtual CVAL in physical terms; a CVAL below the offset has already passed.
                    ulong d = _virt.Cval > ulong.MaxValue - _voff ? ulong.MaxValue : _virt.Cval + _voff;
                    best = d;
                }
                if ((_phys.Ctl & 3) == 1 && (best is null || _phys.Cval < best)) best = _phys.Cval;
                return best;
            }
        }
    }

    /// <summary>Time from now to <see cref="NextDeadline"/> (zero if passed), or null.</summary>
    public TimeSpan? TimeUntilNextDeadline
    {
        get
        {
            if (NextDeadline is not { } d) return null;
            ulong now = _counter();
            if (d <= now) return TimeSpan.Zero;
            double seconds = (double)(d - now) / Frequency;
            return seconds >= TimeSpan.MaxValue.TotalSeconds ? TimeSpan.MaxValue : TimeSpan.FromSeconds(seconds);
        }
    }

    public bool TryReadSysReg(uint encoding, out ulong value)
    {
        lock (_lock)
        {
            ulong pnow = _counter(), vnow = pnow - _voff;
            if (encoding == ArmSysReg.CNTFRQ_EL0) value = Frequency;
            else if (encoding == ArmSysReg.CNTPCT_EL0 || encoding == ArmSysReg.CNTPCTSS_EL0) value = pnow;
            else if (encoding == ArmSysReg.CNTVCT_EL0 || encoding == ArmSysReg.CNTVCTSS_EL0) value = vnow;
            else if (encoding == ArmSysReg.CNTKCTL_EL1) value = _cntkctl;
            else if (encoding == ArmSysReg.CNTV_CTL_EL0) value = ReadCtl(_virt, vnow);
            else if (encoding == ArmSysReg.CNTV_CVAL_EL0) value = _virt.Cval;
            else if (encoding == ArmSysReg.CNTV_TVAL_EL0) value = (uint)(_virt.Cval - vnow);
            else if (encoding == ArmSysReg.CNTP_CTL_EL0) value = ReadCtl(_phys, pnow);
            else if (encoding == ArmSysReg.CNTP_CVAL_EL0) value = _phys.Cval;
            else if (encoding == ArmSysReg.CNTP_TVAL_EL0) value = (uint)(_phys.Cval - pnow);
            else { value = 0; return false; }
        }
        Update();
        return true;
    }

    public bool TryWriteSysReg(uint encoding, ulong value)
    {
        lock (_lock)
        {
            ulong pnow = _counter(), vnow = pnow - _voff;
            // TVAL is a signed 32-bit offset from now.
            ulong tval = (ulong)(long)(int)(uint)value;
            if (encoding == ArmSysReg.CNTV_CTL_EL0) _virt.Ctl = value & 3;
            else if (encoding == ArmSysReg.CNTV_CVAL_EL0) _virt.Cval = value;
            else if (encoding == ArmSysReg.CNTV_TVAL_EL0) _virt.Cval = vnow + tval;
            else if (encoding == ArmSysReg.CNTP_CTL_EL0) _phys.Ctl = value & 3;
            else if (encoding == ArmSysReg.CNTP_CVAL_EL0) _phys.Cval = value;
            else if (encoding == ArmSysReg.CNTP_TVAL_EL0) _phys.Cval = pnow + tval;
            else if (encoding == ArmSysReg.CNTKCTL_EL1) _cntkctl = value & 0x2_03FF;
            else if (encoding == ArmSysReg.CNTFRQ_EL0) { }                     // writable only at the highest EL: ignored
            else return false;
            var (v, p) = Evaluate();
            Drive(v, p);
        }
        return true;
    }
}
