using System.Diagnostics;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Tests.Hypervisor;

/// <summary>Time in shared_info/vcpu_info (struct vcpu_time_info, the wallclock) and the pvclock math.</summary>
public class PvClockTests
{
    [Theory]
    [InlineData(1_000_000UL)]
    [InlineData(100_000_000UL)]
    [InlineData(999_999_999UL)]
    [InlineData(1_000_000_000UL)]
    [InlineData(2_445_000_000UL)]
    [InlineData(3_000_000_000UL)]
    [InlineData(10_000_000_000UL)]
    public void The_scale_turns_one_second_of_ticks_into_one_second_of_ns(ulong hz)
    {
        var (mul, shift) = PvClock.Scale(hz);
        Assert.True(mul >= 1u << 31, $"mul {mul:x} keeps fewer than 32 significant bits");
        ulong ns = PvClock.TicksToNs(hz, mul, shift);
        Assert.InRange(ns, 999_999_000UL, 1_000_000_000UL);
        // Ten minutes of ticks stays within a few µs too.
        Assert.InRange(PvClock.TicksToNs(hz * 600, mul, shift), 599_999_000_000UL, 600_000_000_000UL);
    }

    [Fact]
    public void The_guest_formula_tracks_elapsed_time_within_one_percent()
    {
        Span<byte> info = stackalloc byte[32];
        ulong tsc0 = HostTsc.Read();
        long sw0 = Stopwatch.GetTimestamp();
        PvClock.Write(info, tsc0, 5_000_000_000, HostClock.Mul, HostClock.Shift, HostClock.Flags);
        Thread.Sleep(60);
        ulong t = PvClock.GuestSystemTime(info, HostTsc.Read());
        double elapsed = Stopwatch.GetElapsedTime(sw0).TotalNanoseconds;
        double got = t - 5_000_000_000.0;
        Assert.InRange(got, elapsed * 0.99 - 200_000, elapsed * 1.01 + 200_000);
    }

    [Fact]
    public void The_host_clock_runs_at_the_stopwatch_rate()
    {
        long h0 = HostClock.NowNs();
        long sw0 = Stopwatch.GetTimestamp();
        Thread.Sleep(80);
        long h = HostClock.NowNs() - h0;
        double elapsed = Stopwatch.GetElapsedTime(sw0).TotalNanoseconds;
        Assert.InRange(h, elapsed * 0.99 - 200_000, elapsed * 1.01 + 200_000);
    }

    [Theory]
    [InlineData(0u, 2u)]
    [InlineData(4u, 6u)]
    [InlineData(7u, 10u)]   // an odd leftover still ends even and higher
    public void Write_moves_the_version_through_odd_to_a_higher_even_value(uint before, uint after)
    {
        byte[] info = new byte[32];
        BitConverter.TryWriteBytes(info, before);
        PvClock.Write(info, 0x1122334455667788, 42, 0x80000000, -1, PvClock.TscStableBit);
        Assert.Equal(after, BitConverter.ToUInt32(info));
        Assert.Equal(0x1122334455667788UL, BitConverter.ToUInt64(info, 8));
        Assert.Equal(42UL, BitConverter.ToUInt64(info, 16));
        Assert.Equal(0x80000000u, BitConverter.ToUInt32(info, 24));
        Assert.Equal(unchecked((byte)-1), info[28]);
        Assert.Equal(PvClock.TscStableBit, info[29]);
    }

    [Fact]
    public void A_reader_never_sees_an_even_version_with_torn_fields()
    {
        byte[] info = new byte[32];
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            for (ulong i = 1; !stop.IsCancellationRequested; i++)
                PvClock.Write(info, i, i, 0x80000000, 0, 0);
        });
        writer.Start();
        int consistent = 0;
        var sw = Stopwatch.StartNew();
        while (consistent < 10_000 && sw.ElapsedMilliseconds < 2000)
        {
            uint v1 = Volatile.Read(ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(info.AsSpan())[0]);
            if ((v1 & 1) != 0) continue;
            Interlocked.MemoryBarrier();
            ulong a = BitConverter.ToUInt64(info, 8), b = BitConverter.ToUInt64(info, 16);
            Interlocked.MemoryBarrier();
            uint v2 = Volatile.Read(ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(info.AsSpan())[0]);
            if (v1 != v2) continue;
            Assert.Equal(a, b);
            consistent++;
        }
        stop.Cancel();
        writer.Join();
        Assert.True(consistent > 0);
    }

    [Fact]
    public void Offsets_match_the_32_and_64_bit_shared_info_layouts()
    {
        // vcpu_info: u8, u8, xen_ulong_t pending_sel, arch_vcpu_info (cr2 + pad[5] on i386,
        // cr2 + pad on x86-64), then vcpu_time_info: 32 in both.
        Assert.Equal(4 + 4 + 6 * 4, PvClock.VcpuInfoTimeOffset);
        Assert.Equal(8 + 8 + 2 * 8, PvClock.VcpuInfoTimeOffset);
        // shared_info: 32 * 64 bytes of vcpu_info, pending and mask of 64 words, wc_*.
        Assert.Equal((2048 + 2 * 32 * 4, 2048 + 2 * 32 * 4 + 4, 2048 + 2 * 32 * 4 + 8, 2048 + 256 + 12 + 6 * 4),
                     PvClock.WallclockOffsets(is32Bit: true));
        Assert.Equal((2048 + 2 * 64 * 8, 2048 + 2 * 64 * 8 + 4, 2048 + 2 * 64 * 8 + 8, 2048 + 2 * 64 * 8 + 12),
                     PvClock.WallclockOffsets(is32Bit: false));
    }

    [Fact]
    public void The_wallclock_is_the_utc_time_of_system_time_zero()
    {
        byte[] page = new byte[4096];
        var boot = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234567);
        PvClock.WriteWallclock(page, is32Bit: false, boot);
        long unix = (long)(boot - DateTime.UnixEpoch).TotalSeconds;
        Assert.Equal(2u, BitConverter.ToUInt32(page, 3072));
        Assert.Equal((uint)unix, BitConverter.ToUInt32(page, 3076));
        Assert.Equal(123456700u, BitConverter.ToUInt32(page, 3080));
        Assert.Equal(0u, BitConverter.ToUInt32(page, 3084));
    }

    private static void PlaceSharedInfo(TestDomain t, ulong gpfn, bool is64)
    {
        t.Poke(TestDomain.Buffer, (ushort)0x7FF0);
        t.Poke(TestDomain.Buffer + 4, 0u);
        if (is64)
        {
            t.Poke(TestDomain.Buffer + 8, 0UL);
            t.Poke(TestDomain.Buffer + 16, gpfn);
        }
        else
        {
            t.Poke(TestDomain.Buffer + 8, 0u);
            t.Poke(TestDomain.Buffer + 12, (uint)gpfn);
        }
        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryOp.AddToPhysmap, TestDomain.Buffer, is64: is64));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Placing_shared_info_writes_every_vcpus_time_and_it_reads_as_domain_system_time(bool is64)
    {
        using var t = new TestDomain(vcpus: 2);
        PlaceSharedInfo(t, 0x30, is64);
        for (int v = 0; v < 2; v++)
        {
            var info = t.Peek(0x30000 + (ulong)(v * 64 + 32), 32);
            Assert.Equal(2u, BitConverter.ToUInt32(info));
            Assert.Equal(HostClock.Mul, BitConverter.ToUInt32(info, 24));
            Assert.Equal(HostClock.Shift, (sbyte)info[28]);
            // The fake accelerator's guest TSC is the host TSC.
            long host0 = t.Domain.SystemTimeNs;
            ulong guest = PvClock.GuestSystemTime(info, HostTsc.Read());
            long host1 = t.Domain.SystemTimeNs;
            Assert.InRange((long)guest, host0 - 1000, host1 + 1000);
        }
        var (ver, sec, _, _) = PvClock.WallclockOffsets(!is64);
        Assert.Equal(2u, t.Peek<uint>(0x30000 + (ulong)ver));
        uint wcSec = t.Peek<uint>(0x30000 + (ulong)sec);
        long expect = (long)(DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds - t.Domain.SystemTimeNs / 1_000_000_000;
        Assert.InRange(wcSec, expect - 2, expect + 2);
    }

    [Fact]
    public void Registering_vcpu_info_writes_time_there_and_later_updates_bump_the_version()
    {
        using var t = new TestDomain(vcpus: 2);
        t.Poke(TestDomain.Arg, 0x40UL);
        t.Poke(TestDomain.Arg + 8, 0x80u);
        t.Poke(TestDomain.Arg + 12, 0u);
        Assert.Equal(0, t.Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 1, TestDomain.Arg));
        Assert.Equal(2u, t.Peek<uint>(0x40080 + 32));
        ulong first = t.Peek<ulong>(0x40080 + 32 + 16);
        Thread.Sleep(5);
        t.Domain.Vcpus[1].UpdateTime();
        Assert.Equal(4u, t.Peek<uint>(0x40080 + 32));
        Assert.True(t.Peek<ulong>(0x40080 + 32 + 16) > first, "system_time advances");
        Assert.Equal(0u, t.Peek<uint>(0x40000 + 32)); // nothing written where no vcpu_info is
    }
}
