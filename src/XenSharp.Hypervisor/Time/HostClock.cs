using System.Runtime.Intrinsics.X86;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// The hypervisor's monotonic clock in nanoseconds, counted by the host TSC from the first use
/// with the same multiplier and shift the guests get in vcpu_time_info, so host and guest
/// compute the same time from the same counter. A domain's system time is this clock minus
/// its value when the domain was created.
/// </summary>
public static class HostClock
{
    private static readonly ulong s_startTsc = HostTsc.Read();
    private static readonly (uint Mul, sbyte Shift) s_scale = PvClock.Scale(HostTsc.FrequencyHz);

    public static uint Mul => s_scale.Mul;
    public static sbyte Shift => s_scale.Shift;

    /// <summary>XEN_PVCLOCK_TSC_STABLE_BIT when the host TSC is invariant (CPUID 0x80000007 EDX bit 8).</summary>
    public static byte Flags { get; } =
        X86Base.IsSupported && (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax >= 0x80000007 &&
        (X86Base.CpuId(unchecked((int)0x80000007), 0).Edx & (1 << 8)) != 0
            ? PvClock.TscStableBit : (byte)0;

    /// <summary>Nanoseconds at host TSC value <paramref name="tsc"/>.</summary>
    public static long NsAt(ulong tsc)
    {
        // Signed: a CPU whose TSC lags the one that read s_startTsc by a few ticks must not wrap.
        long delta = (long)(tsc - s_startTsc);
        return delta >= 0 ? (long)PvClock.TicksToNs((ulong)delta, Mul, Shift) : -(long)PvClock.TicksToNs((ulong)-delta, Mul, Shift);
    }

    /// <summary>Nanoseconds now.</summary>
    public static long NowNs() => NsAt(HostTsc.Read());
}
