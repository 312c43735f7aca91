using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// SCHEDOP_poll (sched.h, struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports; unsigned
/// int nr_ports; uint64_t timeout; }): 64-bit layout @0/@8/@16, 32-bit @0/@4/@8. Xen's
/// do_poll returns at once when an event needs delivery or a polled port is pending (even if
/// masked), else blocks until one is, or until the absolute system time <c>timeout</c>.
/// Blocking polls run on a thread-pool thread; the test thread sends the events.
/// </summary>
public class SchedPollTests
{
    private const ulong PollArg = 0x40000, PortsAt = 0x40100;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    /// <summary>Writes the sched_poll structure (and the port list, unless <paramref name="portsGpa"/> points elsewhere).</summary>
    private static void Prepare(EventGuest g, uint[] ports, ulong timeout = 0, bool is64 = true, ulong? portsGpa = null, uint? nrPorts = null)
    {
        ulong at = portsGpa ?? PortsAt;
        if (portsGpa is null)
            for (int i = 0; i < ports.Length; i++) g.Poke(PortsAt + (ulong)(i * 4), ports[i]);
        uint nr = nrPorts ?? (uint)ports.Length;
        if (is64)
        {
            g.Poke(PollArg, at);
            g.Poke(PollArg + 8, nr);
            g.Poke(PollArg + 12, 0u);
            g.Poke(PollArg + 16, timeout);
        }
        else
        {
            g.Poke(PollArg, (uint)at);
            g.Poke(PollArg + 4, nr);
            g.Poke(PollArg + 8, timeout);
        }
    }

    private static long CallPoll(EventGuest g, bool is64 = true, ulong arg = PollArg) =>
        g.Call(HypercallNumber.SchedOp, SchedOp.Poll, arg, is64: is64);

    /// <summary>Runs the poll as vCPU 0 on another thread (a test never hangs on a poll that should not block).</summary>
    private static Task<long> StartPoll(EventGuest g, bool is64 = true) => Task.Run(() => CallPoll(g, is64));

    /// <summary>Waits until the poll is blocked in the hypervisor, then a little longer, and checks it has not returned.</summary>
    private static void AssertBlocked(EventGuest g, Task<long> poll)
    {
        Assert.True(EventGuest.WaitFor(() => g.Domain.Vcpus[0].IsPolling || poll.IsCompleted), "the poll never started");
        Thread.Sleep(100);
        Assert.False(poll.IsCompleted, $"the poll returned {(poll.IsCompletedSuccessfully ? poll.Result.ToString() : "?")} before any event");
        Assert.True(g.Domain.Vcpus[0].IsPolling);
    }

    private static long Completes(Task<long> poll)
    {
        Assert.True(poll.Wait(Generous), "the poll did not return");
        return poll.Result;
    }

    // ------------------------------------------------------------------ argument checks

    [Fact]
    public void More_than_128_ports_is_einval()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Assert.Equal(0, a.Send(ipi));

        Prepare(a, Enumerable.Repeat(ipi, 129).ToArray());
        Assert.Equal(-XenErrno.EINVAL, Completes(StartPoll(a)));

        // 128 is still fine (and the pending port ends the poll at once).
        Prepare(a, Enumerable.Repeat(ipi, 128).ToArray());
        Assert.Equal(0, Completes(StartPoll(a)));
    }

    [Theory]
    [InlineData(TestDomain.Unmapped, 1u)]
    [InlineData(TestDomain.RamSize - 4, 2u)] // the second port is outside RAM
    public void A_ports_array_outside_ram_is_efault(ulong portsGpa, uint nr)
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        if (portsGpa < TestDomain.RamSize) a.Poke(portsGpa, ipi);
        Prepare(a, [], portsGpa: portsGpa, nrPorts: nr);
        Assert.Equal(-XenErrno.EFAULT, Completes(StartPoll(a)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_sched_poll_structure_outside_ram_is_efault(bool is64)
    {
        using var two = new TwoDomains();
        Assert.Equal(-XenErrno.EFAULT, Completes(Task.Run(() => CallPoll(two.A, is64, TestDomain.Unmapped))));
    }

    [Theory]
    [InlineData(5000u)]
    [InlineData(0xFFFFFFFFu)]
    public void An_invalid_port_is_einval(uint bad)
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Prepare(a, [bad]);
        Assert.Equal(-XenErrno.EINVAL, Completes(StartPoll(a)));
        Prepare(a, [ipi, bad]);
        Assert.Equal(-XenErrno.EINVAL, Completes(StartPoll(a)));
        Assert.False(a.Domain.Vcpus[0].IsPolling);
    }

    // ------------------------------------------------------------------ immediate returns

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_port_already_pending_returns_at_once(bool is64)
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint idle));
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Assert.Equal(0, a.Send(ipi));

        Prepare(a, [idle, ipi], is64: is64);
        Assert.Equal(0, Completes(StartPoll(a, is64)));
        Assert.True(a.Pending(ipi)); // poll does not consume the event
        Assert.False(a.Domain.Vcpus[0].IsPolling);
    }

    [Fact]
    public void A_masked_but_pending_port_counts_as_pending()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        a.Mask(ipi);
        Assert.Equal(0, a.Send(ipi));
        Assert.True(a.Pending(ipi));
        Assert.False(a.UpcallPending(0));

        Prepare(a, [ipi]);
        Assert.Equal(0, Completes(StartPoll(a)));
    }

    [Fact]
    public void An_upcall_pending_with_upcalls_unmasked_returns_at_once()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        a.SetUpcallPending(0, true);
        a.SetUpcallMask(0, false);

        Prepare(a, [ipi]);
        Assert.Equal(0, Completes(StartPoll(a)));
        Assert.False(a.Pending(ipi));
    }

    [Fact]
    public void A_timeout_already_past_returns_at_once()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Prepare(a, [ipi], timeout: 1);
        Assert.Equal(0, Completes(StartPoll(a)));
        Assert.False(a.Pending(ipi));
    }

    // ------------------------------------------------------------------ blocking

    [Fact]
    public void Poll_blocks_until_the_polled_ipi_port_is_sent_to()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint idle));
        Assert.Equal(0, a.BindIpi(0, out uint ipi));

        Prepare(a, [idle, ipi]);
        var poll = StartPoll(a);
        AssertBlocked(a, poll);

        Assert.Equal(0, a.Send(ipi, vcpu: 1));
        Assert.Equal(0, Completes(poll));
        Assert.True(a.Pending(ipi));
        Assert.False(a.Domain.Vcpus[0].IsPolling);
    }

    [Fact]
    public void Poll_blocks_until_another_domain_sends_on_the_interdomain_channel()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (pa, pb) = two.Connect();

        Prepare(a, [pa]);
        var poll = StartPoll(a);
        AssertBlocked(a, poll);

        Assert.Equal(0, b.Send(pb));
        Assert.Equal(0, Completes(poll));
        Assert.True(a.Pending(pa));
    }

    [Fact]
    public void A_masked_port_becoming_pending_ends_the_poll()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        a.Mask(ipi);

        Prepare(a, [ipi]);
        var poll = StartPoll(a);
        AssertBlocked(a, poll);

        Assert.Equal(0, a.Send(ipi, vcpu: 1));
        Assert.Equal(0, Completes(poll));
        Assert.True(a.Pending(ipi));
        Assert.False(a.UpcallPending(0)); // masked: no upcall, but the poll saw it
    }

    [Fact]
    public void A_pending_upcall_does_not_end_the_poll_while_upcalls_are_masked()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        a.SetUpcallPending(0, true);
        a.SetUpcallMask(0, true);

        Prepare(a, [ipi]);
        var poll = StartPoll(a);
        AssertBlocked(a, poll);

        Assert.Equal(0, a.Send(ipi, vcpu: 1));
        Assert.Equal(0, Completes(poll));
    }

    [Fact]
    public void An_event_on_another_port_ends_the_poll_when_upcalls_are_unmasked()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint polled));
        Assert.Equal(0, a.BindIpi(0, out uint other));
        a.SetUpcallMask(0, false);

        Prepare(a, [polled]);
        var poll = StartPoll(a);
        AssertBlocked(a, poll);

        Assert.Equal(0, a.Send(other, vcpu: 1));
        Assert.Equal(0, Completes(poll));
        Assert.False(a.Pending(polled));
        Assert.True(a.Pending(other));
        Assert.True(a.UpcallPending(0));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_timeout_ends_the_poll_without_any_event(bool is64)
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));

        ulong timeout = (ulong)(a.Domain.SystemTimeNs + 50_000_000);
        Prepare(a, [ipi], timeout: timeout, is64: is64);
        Assert.Equal(0, Completes(StartPoll(a, is64)));
        Assert.True((ulong)a.Domain.SystemTimeNs >= timeout, "the poll returned before its timeout");
        Assert.False(a.Pending(ipi));
        Assert.False(a.AnyPending());
    }

    [Fact]
    public void Polling_no_ports_waits_for_the_timeout()
    {
        using var two = new TwoDomains();
        var a = two.A;
        ulong timeout = (ulong)(a.Domain.SystemTimeNs + 50_000_000);
        Prepare(a, [], timeout: timeout);
        Assert.Equal(0, Completes(StartPoll(a)));
        Assert.True((ulong)a.Domain.SystemTimeNs >= timeout);
    }
}
