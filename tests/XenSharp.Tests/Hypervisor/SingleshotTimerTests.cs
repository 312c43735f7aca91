using System.Collections.Concurrent;
using System.Diagnostics;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Tests.Hypervisor;

/// <summary>The timer queue, EVTCHNOP_bind_virq(VIRQ_TIMER) and VCPUOP_{set,stop}_singleshot_timer.</summary>
public class SingleshotTimerTests
{
    private const ulong Arg = TestDomain.Arg;
    private const long Ms = 1_000_000;

    private static bool WaitFor(Func<bool> condition, int timeoutMs = 3000)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    [Fact]
    public void Timers_expire_in_deadline_order_and_not_before_their_deadline()
    {
        using var queue = new TimerQueue();
        var fired = new ConcurrentQueue<(string Name, long At)>();
        long now = HostClock.NowNs();
        var a = new VcpuTimer(queue, () => fired.Enqueue(("a", HostClock.NowNs())));
        var b = new VcpuTimer(queue, () => fired.Enqueue(("b", HostClock.NowNs())));
        var c = new VcpuTimer(queue, () => fired.Enqueue(("c", HostClock.NowNs())));
        a.Set(now + 60 * Ms);
        b.Set(now + 20 * Ms);
        c.Set(now + 40 * Ms);
        Assert.True(WaitFor(() => fired.Count == 3));
        var order = fired.ToArray();
        Assert.Equal(["b", "c", "a"], order.Select(f => f.Name));
        Assert.True(order[0].At >= now + 20 * Ms && order[1].At >= now + 40 * Ms && order[2].At >= now + 60 * Ms);
        Assert.False(a.IsArmed);
    }

    [Fact]
    public void A_stopped_timer_does_not_fire_and_rearming_replaces_the_deadline()
    {
        using var queue = new TimerQueue();
        int stoppedFired = 0, rearmedFired = 0;
        long rearmedAt = 0;
        var stopped = new VcpuTimer(queue, () => Interlocked.Increment(ref stoppedFired));
        var rearmed = new VcpuTimer(queue, () => { rearmedAt = HostClock.NowNs(); Interlocked.Increment(ref rearmedFired); });
        long now = HostClock.NowNs();
        stopped.Set(now + 10 * Ms);
        rearmed.Set(now + 10 * Ms);
        rearmed.Set(now + 50 * Ms);
        stopped.Stop();
        Assert.False(stopped.IsArmed);
        Assert.True(WaitFor(() => Volatile.Read(ref rearmedFired) == 1));
        Thread.Sleep(30);
        Assert.Equal(0, Volatile.Read(ref stoppedFired));
        Assert.Equal(1, Volatile.Read(ref rearmedFired));
        Assert.True(rearmedAt >= now + 50 * Ms);
    }

    // --- hypercalls -------------------------------------------------------------------------

    private static void PlaceSharedInfo(TestDomain t)
    {
        t.Poke(TestDomain.Buffer, (ushort)0x7FF0);
        t.Poke(TestDomain.Buffer + 4, 0u);
        t.Poke(TestDomain.Buffer + 8, 0UL);
        t.Poke(TestDomain.Buffer + 16, 0x30UL);
        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryOp.AddToPhysmap, TestDomain.Buffer));
    }

    private static long BindVirq(TestDomain t, uint virq, uint vcpu, out uint port)
    {
        t.Poke(Arg, virq);
        t.Poke(Arg + 4, vcpu);
        t.Poke(Arg + 8, 0xFFFFFFFFu);
        long rc = t.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindVirq, Arg);
        port = t.Peek<uint>(Arg + 8);
        return rc;
    }

    private static long SetTimer(TestDomain t, ulong timeout, uint flags = 0, int vcpu = 0, ulong target = 0)
    {
        t.Poke(Arg + 0x100, timeout);
        t.Poke(Arg + 0x108, flags);
        return t.Call(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, target, Arg + 0x100, vcpu: vcpu);
    }

    private static bool Pending(TestDomain t, uint port) =>
        (t.Peek<ulong>(0x30000 + 2048 + port / 64 * 8) & (1UL << (int)(port % 64))) != 0;

    [Fact]
    public void Bind_virq_timer_gives_a_port_per_vcpu_and_rejects_the_rest()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(0, BindVirq(t, 0, 0, out uint p0));
        Assert.Equal(0, BindVirq(t, 0, 1, out uint p1));
        Assert.True(p0 != 0 && p1 != 0 && p0 != p1);
        Assert.Equal((int)p0, t.Domain.EventChannels.VirqPort(Virq.Timer, 0));
        Assert.Equal(-XenErrno.EEXIST, BindVirq(t, 0, 0, out _));
        Assert.Equal(-XenErrno.EINVAL, BindVirq(t, (uint)Virq.Console, 1, out _)); // global VIRQs bind on vCPU 0 only
        Assert.Equal(-XenErrno.EINVAL, BindVirq(t, 1000, 0, out _));
        Assert.Equal(-XenErrno.ENOENT, BindVirq(t, 0, 2, out _));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindVirq, TestDomain.Unmapped));

        // Closing frees the binding; the VIRQ can be bound again.
        t.Poke(Arg, p0);
        Assert.Equal(0, t.Call(HypercallNumber.EventChannelOp, EventChannelOp.Close, Arg));
        Assert.Equal(0, t.Domain.EventChannels.VirqPort(Virq.Timer, 0));
        Assert.Equal(0, BindVirq(t, 0, 0, out _));
    }

    [Fact]
    public void The_singleshot_timer_raises_virq_timer_after_its_timeout()
    {
        using var t = new TestDomain();
        PlaceSharedInfo(t);
        Assert.Equal(0, BindVirq(t, 0, 0, out uint port));
        int kicks = t.FakeCpu().KickCount;
        long start = t.Domain.SystemTimeNs;
        Assert.Equal(0, SetTimer(t, (ulong)(start + 20 * Ms), flags: 1));
        Assert.True(t.Domain.Vcpus[0].SingleshotTimer.IsArmed);
        Assert.True(WaitFor(() => Pending(t, port) && t.Peek<byte>(0x30000) == 1), // evtchn_upcall_pending
                    "VIRQ_TIMER never became pending");
        Assert.True(t.Domain.SystemTimeNs - start >= 20 * Ms);
        Assert.True(t.FakeCpu().KickCount > kicks);
        Assert.False(t.Domain.Vcpus[0].SingleshotTimer.IsArmed);
    }

    [Fact]
    public void A_past_timeout_gets_etime_with_the_future_flag_and_fires_at_once_without()
    {
        using var t = new TestDomain();
        PlaceSharedInfo(t);
        Assert.Equal(0, BindVirq(t, 0, 0, out uint port));
        Thread.Sleep(2);
        Assert.Equal(-XenErrno.ETIME, SetTimer(t, 1, flags: 1));
        Assert.False(t.Domain.Vcpus[0].SingleshotTimer.IsArmed);
        Thread.Sleep(20);
        Assert.False(Pending(t, port));
        Assert.Equal(0, SetTimer(t, 1, flags: 0));
        Assert.True(WaitFor(() => Pending(t, port), 1000));
    }

    [Fact]
    public void Stop_singleshot_timer_cancels_it()
    {
        using var t = new TestDomain();
        PlaceSharedInfo(t);
        Assert.Equal(0, BindVirq(t, 0, 0, out uint port));
        Assert.Equal(0, SetTimer(t, (ulong)(t.Domain.SystemTimeNs + 20 * Ms)));
        Assert.Equal(0, t.Call(HypercallNumber.VcpuOp, VcpuOp.StopSingleshotTimer, 0, 0));
        Thread.Sleep(60);
        Assert.False(Pending(t, port));
        Assert.False(t.Domain.Vcpus[0].SingleshotTimer.IsArmed);
    }

    [Fact]
    public void Only_a_vcpus_own_timer_can_be_set_and_a_bad_argument_gets_efault()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.EINVAL, SetTimer(t, 1_000_000_000, vcpu: 0, target: 1));
        Assert.Equal(-XenErrno.EINVAL, t.Call(HypercallNumber.VcpuOp, VcpuOp.StopSingleshotTimer, 1, 0));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, 0, TestDomain.Unmapped));
        Assert.Equal(0, t.Call(HypercallNumber.VcpuOp, VcpuOp.StopPeriodicTimer, 0, 0));
    }

    [Fact]
    public void Schedop_block_returns_when_the_timer_fires()
    {
        using var t = new TestDomain();
        PlaceSharedInfo(t);
        Assert.Equal(0, BindVirq(t, 0, 0, out uint port));
        long start = t.Domain.SystemTimeNs;
        Assert.Equal(0, SetTimer(t, (ulong)(start + 20 * Ms), flags: 1));
        long result = -1;
        var block = new Thread(() => result = t.Call(HypercallNumber.SchedOp, SchedOp.Block, 0));
        block.Start();
        Assert.True(block.Join(3000), "SCHEDOP_block did not return");
        Assert.Equal(0, result);
        Assert.True(t.Domain.SystemTimeNs - start >= 20 * Ms);
        Assert.True(Pending(t, port));
    }
}
