using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// VCPUOP_set_periodic_timer / VCPUOP_stop_periodic_timer (vcpu.h: struct
/// vcpu_set_periodic_timer { uint64_t period_ns; }) and set_timer_op (hypercall 15, the legacy
/// singleshot timer: an absolute system time, one register on 64-bit guests, EBX:ECX on 32-bit
/// ones). Both raise VIRQ_TIMER. Timing is only checked loosely: "happens within seconds",
/// "does not happen within 100 ms after being stopped".
/// </summary>
public class PeriodicTimerTests
{
    private const ulong PeriodArg = EventGuest.Arg + 0x200;
    private const long Ms = 1_000_000;
    private const int Seconds = 5_000;

    private static long SetPeriodic(EventGuest g, ulong periodNs, ulong vcpu = 0)
    {
        g.Poke(PeriodArg, periodNs);
        return g.Call(HypercallNumber.VcpuOp, VcpuOp.SetPeriodicTimer, vcpu, PeriodArg);
    }

    private static long StopPeriodic(EventGuest g, ulong vcpu = 0) =>
        g.Call(HypercallNumber.VcpuOp, VcpuOp.StopPeriodicTimer, vcpu, 0);

    private static long SetTimerOp64(EventGuest g, ulong timeout) =>
        g.Call(HypercallNumber.SetTimerOp, timeout);

    private static long SetTimerOp32(EventGuest g, ulong timeout) =>
        g.Call(HypercallNumber.SetTimerOp, timeout & 0xFFFF_FFFF, timeout >> 32, is64: false);

    private static (TwoDomains Two, EventGuest A, uint TimerPort) WithVirqTimer()
    {
        var two = new TwoDomains();
        Assert.Equal(0, two.A.BindVirq((uint)Virq.Timer, 0, out uint port));
        return (two, two.A, port);
    }

    // ------------------------------------------------------------------ VCPUOP_set_periodic_timer

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(999_999UL)]
    [InlineData((1UL << 62) + 1)] // beyond STIME_DELTA_MAX
    public void A_period_below_1ms_or_beyond_the_maximum_is_einval(ulong period)
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        Assert.Equal(-XenErrno.EINVAL, SetPeriodic(a, period));
        Assert.False(a.Domain.Vcpus[0].PeriodicTimer.IsArmed);
        Assert.Equal(0L, a.Domain.Vcpus[0].PeriodicPeriodNs);
        Assert.False(a.Pending(port));
    }

    [Fact]
    public void Set_periodic_timer_checks_its_vcpu_and_argument()
    {
        var (two, a, _) = WithVirqTimer();
        using var __ = two;
        Assert.Equal(-XenErrno.ENOENT, SetPeriodic(a, 10 * Ms, vcpu: 2));
        Assert.Equal(-XenErrno.ENOENT, StopPeriodic(a, vcpu: 2));
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.VcpuOp, VcpuOp.SetPeriodicTimer, 0, TestDomain.Unmapped));
        Assert.Equal(0, SetPeriodic(a, 1 * Ms)); // exactly 1 ms is allowed
        Assert.Equal(0, StopPeriodic(a));
    }

    [Fact]
    public void The_periodic_timer_raises_virq_timer_again_and_again()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        Assert.Equal(0, SetPeriodic(a, 5 * Ms));
        Assert.True(a.Domain.Vcpus[0].PeriodicTimer.IsArmed);

        for (int tick = 0; tick < 4; tick++)
        {
            Assert.True(EventGuest.WaitFor(() => a.Pending(port) && a.UpcallPending(0), Seconds), $"tick {tick} never came");
            Assert.True(a.SelectorHas(port));
            a.Acknowledge(port);
        }
        Assert.Equal(0, StopPeriodic(a));
    }

    [Fact]
    public void Stop_periodic_timer_stops_the_ticks()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        Assert.Equal(0, SetPeriodic(a, 5 * Ms));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port), Seconds), "the periodic timer never ticked");

        Assert.Equal(0, StopPeriodic(a));
        Assert.False(a.Domain.Vcpus[0].PeriodicTimer.IsArmed);
        a.Acknowledge(port);
        Thread.Sleep(100);
        Assert.False(a.Pending(port));
        Assert.False(a.UpcallPending(0));
    }

    [Fact]
    public void A_periodic_timer_set_for_another_vcpu_ticks_on_that_vcpu()
    {
        var (two, a, port0) = WithVirqTimer();
        using var _ = two;
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 1, out uint port1));

        Assert.Equal(0, SetPeriodic(a, 5 * Ms, vcpu: 1));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port1) && a.UpcallPending(1), Seconds), "vCPU 1's VIRQ_TIMER never came");
        Assert.True(a.SelectorHas(port1, 1));
        Assert.False(a.Pending(port0));
        Assert.False(a.UpcallPending(0));
        Assert.False(a.Domain.Vcpus[0].PeriodicTimer.IsArmed);

        Assert.Equal(0, StopPeriodic(a, vcpu: 1));
        Assert.False(a.Domain.Vcpus[1].PeriodicTimer.IsArmed);
    }

    [Fact]
    public void Without_virq_timer_bound_the_periodic_timer_marks_nothing()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, SetPeriodic(a, 1 * Ms));
        Thread.Sleep(50);
        Assert.Equal(0, StopPeriodic(a));
        Assert.False(a.AnyPending());
        Assert.False(a.UpcallPending(0));
    }

    // ------------------------------------------------------------------ set_timer_op

    [Fact]
    public void Set_timer_op_arms_the_singleshot_timer_which_raises_virq_timer()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        var v = a.Domain.Vcpus[0];
        ulong timeout = (ulong)(a.Domain.SystemTimeNs + 20 * Ms);

        Assert.Equal(0, SetTimerOp64(a, timeout));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port) && a.UpcallPending(0), Seconds), "VIRQ_TIMER never came");
        Assert.True((ulong)a.Domain.SystemTimeNs >= timeout, "the timer fired before its timeout");
        Assert.False(v.SingleshotTimer.IsArmed);
    }

    [Fact]
    public void Set_timer_op_for_32_bit_guests_takes_the_timeout_in_two_halves()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        var v = a.Domain.Vcpus[0];

        // More than 2^32 ns ahead, so the high half matters.
        ulong far = (ulong)a.Domain.SystemTimeNs + (1UL << 32) + 500 * (ulong)Ms;
        Assert.Equal(0, SetTimerOp32(a, far));
        Assert.True(v.SingleshotTimer.IsArmed);
        Assert.Equal(a.Domain.CreatedNs + (long)far, v.SingleshotTimer.Deadline);

        Assert.Equal(0, SetTimerOp32(a, 0));
        Assert.False(v.SingleshotTimer.IsArmed);

        ulong soon = (ulong)(a.Domain.SystemTimeNs + 20 * Ms);
        Assert.Equal(0, SetTimerOp32(a, soon));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port), Seconds), "VIRQ_TIMER never came");
    }

    [Fact]
    public void Set_timer_op_with_zero_stops_the_timer()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        var v = a.Domain.Vcpus[0];
        long deadline = a.Domain.SystemTimeNs + 300 * Ms;

        Assert.Equal(0, SetTimerOp64(a, (ulong)deadline));
        Assert.True(v.SingleshotTimer.IsArmed);
        Assert.Equal(0, SetTimerOp64(a, 0));
        bool stoppedInTime = a.Domain.SystemTimeNs < deadline;
        Assert.False(v.SingleshotTimer.IsArmed);

        // Only conclusive when the stop happened before the deadline (a stalled machine proves nothing).
        long wait = (deadline - a.Domain.SystemTimeNs) / Ms + 100;
        if (stoppedInTime && wait > 0) Thread.Sleep((int)wait);
        if (stoppedInTime) Assert.False(a.Pending(port), "the stopped timer fired");
    }

    [Fact]
    public void Set_timer_op_with_a_past_timeout_fires_at_once()
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        Thread.Sleep(2);
        Assert.Equal(0, SetTimerOp64(a, 1));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port), Seconds), "VIRQ_TIMER never came");
    }

    /// <summary>
    /// Xen's do_set_timer_op never fails: a timeout that is negative (wrapped) or more than 2^50
    /// ns (about 13 days) ahead is taken as Linux jiffy-wrap garbage and the timer is set for
    /// 100 ms from now instead (xen/common/sched/core.c).
    /// </summary>
    [Theory]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 51)]
    public void Set_timer_op_with_a_negative_or_absurdly_far_timeout_fires_soon_like_xen(ulong timeout)
    {
        var (two, a, port) = WithVirqTimer();
        using var _ = two;
        Assert.Equal(0, SetTimerOp64(a, timeout));
        Assert.True(EventGuest.WaitFor(() => a.Pending(port), Seconds), "VIRQ_TIMER never came");
    }
}
