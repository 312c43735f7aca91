using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// Xen's paravirtual clock (struct vcpu_time_info in xen.h, 32 bytes, the same in 32- and
/// 64-bit guests):
/// <code>
///   u32 version @0   odd while an update is in progress
///   u32 pad0    @4
///   u64 tsc_timestamp @8, u64 system_time @16
///   u32 tsc_to_system_mul @24, s8 tsc_shift @28, u8 flags @29
/// </code>
/// The guest computes system time as
/// <c>system_time + ((((tsc - tsc_timestamp) &lt;&lt; tsc_shift) * tsc_to_system_mul) &gt;&gt; 32)</c>
/// (a negative shift shifts right).
/// </summary>
public static class PvClock
{
    public const int Size = 32;
    public const int VersionOffset = 0;
    public const int TscTimestampOffset = 8;
    public const int SystemTimeOffset = 16;
    public const int MulOffset = 24;
    public const int ShiftOffset = 28;
    public const int FlagsOffset = 29;

    /// <summary>XEN_PVCLOCK_TSC_STABLE_BIT: the TSC is synchronised across vCPUs and constant-rate.</summary>
    public const byte TscStableBit = 1 << 0;

    /// <summary>Where vcpu_time_info sits in struct vcpu_info (after the flags, pending_sel and arch_vcpu_info), both layouts.</summary>
    public const int VcpuInfoTimeOffset = 32;

    /// <summary>
    /// The multiplier and shift that turn TSC ticks at <paramref name="tscHz"/> into
    /// nanoseconds: the smallest shift whose multiplier fits in 32 bits, for the most precision.
    /// </summary>
    public static (uint Mul, sbyte Shift) Scale(ulong tscHz)
    {
        if (tscHz == 0) throw new ArgumentOutOfRangeException(nameof(tscHz));
        for (int shift = -32; shift <= 31; shift++)
        {
            UInt128 num = (UInt128)1_000_000_000UL << 32;
            UInt128 den = tscHz;
            if (shift < 0) num <<= -shift; else den <<= shift;
            UInt128 mul = num / den;
            if (mul <= uint.MaxValue) return ((uint)mul, (sbyte)shift);
        }
        throw new ArgumentOutOfRangeException(nameof(tscHz), "TSC frequency out of range");
    }

    /// <summary>The guest's formula: nanoseconds in <paramref name="ticks"/> TSC ticks.</summary>
    public static ulong TicksToNs(ulong ticks, uint mul, sbyte shift)
    {
        ulong shifted = shift >= 0 ? ticks << shift : ticks >> -shift;
        return (ulong)(((UInt128)shifted * mul) >> 32);
    }

    /// <summary>What a guest reading <paramref name="info"/> at guest TSC <paramref name="tsc"/> gets.</summary>
    public static ulong GuestSystemTime(ReadOnlySpan<byte> info, ulong tsc)
    {
        ulong stamp = BinaryPrimitives.ReadUInt64LittleEndian(info[TscTimestampOffset..]);
        ulong system = BinaryPrimitives.ReadUInt64LittleEndian(info[SystemTimeOffset..]);
        uint mul = BinaryPrimitives.ReadUInt32LittleEndian(info[MulOffset..]);
        sbyte shift = (sbyte)info[ShiftOffset];
        return system + TicksToNs(tsc - stamp, mul, shift);
    }

    /// <summary>
    /// Writes a vcpu_time_info with the version protocol: version becomes odd, the fields are
    /// written, version becomes even (one more than the previous even value's successor).
    /// </summary>
    public static void Write(Span<byte> info, ulong tscTimestamp, ulong systemTime, uint mul, sbyte shift, byte flags)
    {
        ref uint version = ref MemoryMarshal.Cast<byte, uint>(info[..4])[0];
        uint v = Volatile.Read(ref version);
        Volatile.Write(ref version, (v | 1) == v ? v + 2 : v + 1); // odd: update in progress
        Interlocked.MemoryBarrier();
        BinaryPrimitives.WriteUInt64LittleEndian(info[TscTimestampOffset..], tscTimestamp);
        BinaryPrimitives.WriteUInt64LittleEndian(info[SystemTimeOffset..], systemTime);
        BinaryPrimitives.WriteUInt32LittleEndian(info[MulOffset..], mul);
        info[ShiftOffset] = (byte)shift;
        info[FlagsOffset] = flags;
        Interlocked.MemoryBarrier();
        Volatile.Write(ref version, (Volatile.Read(ref version) | 1) + 1); // even: done
    }

    /// <summary>
    /// Offsets of wc_version, wc_sec, wc_nsec and wc_sec_hi in struct shared_info: after 32
    /// vcpu_infos and the pending/mask bitmaps (64 xen_ulong_t words each); a 64-bit guest has
    /// wc_sec_hi right after wc_nsec, a 32-bit one at the end of arch_shared_info. On ARM
    /// (48-byte vcpu_info, 64-bit words always) they start at 1536 + 2 × 512.
    /// </summary>
    public static (int Version, int Sec, int Nsec, int SecHi) WallclockOffsets(bool is32Bit, GuestArchitecture arch = GuestArchitecture.X86) =>
        arch == GuestArchitecture.Arm64 ? (2560, 2564, 2568, 2572)
        : is32Bit ? (2304, 2308, 2312, 2340) : (3072, 3076, 3080, 3084);

    /// <summary>Writes the wallclock (the UTC time at system time 0) with the same version protocol.</summary>
    public static void WriteWallclock(Span<byte> sharedInfo, bool is32Bit, DateTime bootUtc) =>
        WriteWallclock(sharedInfo, is32Bit, GuestArchitecture.X86, bootUtc);

    /// <inheritdoc cref="WriteWallclock(Span{byte}, bool, DateTime)"/>
    public static void WriteWallclock(Span<byte> sharedInfo, bool is32Bit, GuestArchitecture arch, DateTime bootUtc)
    {
        var (ver, sec, nsec, secHi) = WallclockOffsets(is32Bit, arch);
        long ticks = bootUtc.ToUniversalTime().Ticks - DateTime.UnixEpoch.Ticks;
        ulong seconds = (ulong)Math.Max(0, ticks / TimeSpan.TicksPerSecond);
        uint nanos = (uint)(Math.Max(0, ticks % TimeSpan.TicksPerSecond) * 100);
        ref uint version = ref MemoryMarshal.Cast<byte, uint>(sharedInfo.Slice(ver, 4))[0];
        uint v = Volatile.Read(ref version);
        Volatile.Write(ref version, (v & 1) != 0 ? v + 2 : v + 1);
        Interlocked.MemoryBarrier();
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[sec..], (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[nsec..], nanos);
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[secHi..], (uint)(seconds >> 32));
        Interlocked.MemoryBarrier();
        Volatile.Write(ref version, (Volatile.Read(ref version) | 1) + 1);
    }
}
