namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// set_timer_op(s_time_t timeout): the legacy way to arm the calling vCPU's singleshot timer.
/// The timeout is absolute system time in ns — one register on 64-bit guests, EBX (low) and
/// ECX (high) on 32-bit ones; 0 stops the timer; a time already past fires at once (VIRQ_TIMER).
/// Like Xen, a negative timeout or one more than 2^50 ns (~13 days) ahead — Linux's jiffies
/// wrapping — is taken as "in 100 ms" rather than refused or left to never fire.
/// </summary>
public static class SetTimerOpHypercall
{
    /// <summary>Where Xen puts a wrapped or absurd timeout: 100 ms from now.</summary>
    public const long WrappedTimeoutNs = 100_000_000;

    public static long Handle(in HypercallContext ctx)
    {
        ulong timeout = ctx.Is64 ? ctx.A1 : (ctx.A1 & 0xFFFF_FFFF) | (ctx.A2 << 32);
        var v = ctx.Vcpu;
        if (timeout == 0)
        {
            v.SingleshotTimer.Stop();
            return 0;
        }
        var d = ctx.Domain;
        long now = d.SystemTimeNs;
        long offset = (long)timeout - now;
        long deadline = (long)timeout < 0 || (offset > 0 && (offset >> 50) != 0)
            ? Time.HostClock.NowNs() + WrappedTimeoutNs
            : d.CreatedNs + (long)timeout;
        v.SingleshotTimer.Set(deadline);
        return 0;
    }
}
