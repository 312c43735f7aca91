using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// The event-channel state machine (event_channel.h; Xen's xen/common/event_channel.c) as a
/// guest sees it through event_channel_op: return codes, out fields, pending bits in
/// shared_info and evtchn_upcall_pending / evtchn_pending_sel in vcpu_info. Domain A is the
/// <see cref="TestDomain"/>, B a second domain in the same hypervisor; both 64-bit, 2 vCPUs.
/// </summary>
public class EventChannelStateTests
{
    private const ushort Self = DomId.Self;
    private const ushort NoSuchDomain = 1000;

    // ------------------------------------------------------------------ alloc_unbound / bind_interdomain

    [Fact]
    public void Alloc_unbound_for_self_gives_an_unbound_port_offered_to_the_remote_domain()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);

        Assert.Equal(0, a.AllocUnbound(Self, (ushort)b.Id, out uint port));
        Assert.InRange(port, 1u, 1023u);
        var s0 = a.Status(port);
        Assert.Equal((EventChannelStatus.Unbound, 0u, (ushort)b.Id), (s0.Status, s0.Vcpu, s0.Dom));
        Assert.False(a.Pending(port));

        // Naming itself by its own id is the same as DOMID_SELF; remote DOMID_SELF means "this domain".
        Assert.Equal(0, a.AllocUnbound((ushort)a.Id, Self, out uint own));
        Assert.NotEqual(port, own);
        var s = a.Status(own);
        Assert.Equal(EventChannelStatus.Unbound, s.Status);
        Assert.Equal((ushort)a.Id, s.Dom);
    }

    [Fact]
    public void Alloc_unbound_in_another_domain_is_eperm_and_in_a_missing_one_esrch()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);

        Assert.Equal(-XenErrno.EPERM, a.AllocUnbound((ushort)b.Id, Self, out uint port));
        Assert.Equal(0xDEADBEEFu, port);
        Assert.Equal(-XenErrno.ESRCH, a.AllocUnbound(NoSuchDomain, Self, out port));
        Assert.Equal(0xDEADBEEFu, port);

        // Nothing was allocated on either side.
        Assert.Equal(EventChannelStatus.Closed, b.Status(1).Status);
        Assert.Equal(EventChannelStatus.Closed, a.Status(1).Status);
    }

    [Fact]
    public void Bind_interdomain_connects_both_ends_and_marks_the_new_local_port_pending()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        uint pa = a.Offer(b.Id);

        Assert.Equal(0, b.BindInterdomain((ushort)a.Id, pa, out uint pb));
        Assert.InRange(pb, 1u, 1023u);

        // Xen sets the new local port pending at once (notifications sent before the bind were lost).
        Assert.True(b.Pending(pb));
        Assert.True(b.SelectorHas(pb));
        Assert.True(b.UpcallPending(0));
        Assert.False(a.Pending(pa));
        Assert.False(a.UpcallPending(0));

        var sa = a.Status(pa);
        Assert.Equal((EventChannelStatus.Interdomain, (ushort)b.Id, pb, 0u), (sa.Status, sa.Dom, sa.Port, sa.Vcpu));
        var sb = b.Status(pb);
        Assert.Equal((EventChannelStatus.Interdomain, (ushort)a.Id, pa, 0u), (sb.Status, sb.Dom, sb.Port, sb.Vcpu));
    }

    [Fact]
    public void Bind_interdomain_naming_the_peer_by_its_id_works_as_well()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        uint pb = b.Offer(a.Id);
        Assert.Equal(0, a.BindInterdomain((ushort)b.Id, pb, out uint pa));
        Assert.True(a.Pending(pa));
        Assert.Equal(EventChannelStatus.Interdomain, b.Status(pb).Status);
        Assert.Equal(pa, b.Status(pb).Port);
    }

    [Fact]
    public void Sends_each_way_set_the_peers_pending_bit_and_upcall()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (pa, pb) = two.Connect();

        Assert.Equal(0, a.Send(pa));
        Assert.True(b.Pending(pb));
        Assert.True(b.SelectorHas(pb));
        Assert.True(b.UpcallPending(0));
        Assert.False(a.Pending(pa));
        Assert.False(a.UpcallPending(0));
        Assert.False(a.AnyPending());

        b.AcknowledgeAll();
        Assert.Equal(0, b.Send(pb));
        Assert.True(a.Pending(pa));
        Assert.True(a.SelectorHas(pa));
        Assert.True(a.UpcallPending(0));
        Assert.False(b.Pending(pb));
        Assert.False(b.UpcallPending(0));
        Assert.False(b.AnyPending());
    }

    [Fact]
    public void Bind_interdomain_to_a_port_not_offered_to_the_binder_a_free_port_or_a_bound_port_is_einval()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var c = new EventGuest(two.CreateDomain("c"));
        uint toSelf = a.Offer(a.Id);
        uint toC = a.Offer(c.Id);
        uint toB = a.Offer(b.Id);

        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, toSelf, out uint local));
        Assert.Equal(0xDEADBEEFu, local);
        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, toC, out local));
        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, 50, out local));          // free
        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, 0, out local));           // never valid
        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, 0xFFFFFFFF, out local));  // outside the table
        Assert.Equal(0xDEADBEEFu, local);

        // The refused offers are untouched, and B allocated nothing.
        Assert.Equal((EventChannelStatus.Unbound, (ushort)a.Id), (a.Status(toSelf).Status, a.Status(toSelf).Dom));
        Assert.Equal((EventChannelStatus.Unbound, (ushort)c.Id), (a.Status(toC).Status, a.Status(toC).Dom));
        Assert.Equal(EventChannelStatus.Closed, b.Status(1).Status);

        // Once bound, the port is no longer on offer.
        Assert.Equal(0, b.BindInterdomain((ushort)a.Id, toB, out uint pb));
        Assert.Equal(-XenErrno.EINVAL, b.BindInterdomain((ushort)a.Id, toB, out local));
        Assert.Equal(-XenErrno.EINVAL, c.BindInterdomain((ushort)a.Id, toB, out local));
        Assert.Equal(pb, a.Status(toB).Port);
        Assert.Equal(EventChannelStatus.Closed, b.Status(pb + 1).Status);
    }

    [Fact]
    public void Bind_interdomain_to_a_missing_domain_is_esrch()
    {
        using var two = new TwoDomains();
        Assert.Equal(-XenErrno.ESRCH, two.B.BindInterdomain(NoSuchDomain, 1, out uint local));
        Assert.Equal(0xDEADBEEFu, local);
        Assert.Equal(EventChannelStatus.Closed, two.B.Status(1).Status);
    }

    [Fact]
    public void A_loopback_channel_within_one_domain_works_both_ways()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.AllocUnbound(Self, Self, out uint p1));
        Assert.Equal((ushort)a.Id, a.Status(p1).Dom);

        Assert.Equal(0, a.BindInterdomain(Self, p1, out uint p2));
        Assert.NotEqual(p1, p2);
        Assert.True(a.Pending(p2));
        Assert.False(a.Pending(p1));
        var s1 = a.Status(p1);
        var s2 = a.Status(p2);
        Assert.Equal((EventChannelStatus.Interdomain, (ushort)a.Id, p2), (s1.Status, s1.Dom, s1.Port));
        Assert.Equal((EventChannelStatus.Interdomain, (ushort)a.Id, p1), (s2.Status, s2.Dom, s2.Port));

        a.AcknowledgeAll();
        Assert.Equal(0, a.Send(p1));
        Assert.True(a.Pending(p2));
        Assert.False(a.Pending(p1));
        Assert.True(a.UpcallPending(0));

        a.AcknowledgeAll();
        Assert.Equal(0, a.Send(p2));
        Assert.True(a.Pending(p1));
        Assert.False(a.Pending(p2));

        // Closing one end leaves the other waiting for this domain again.
        Assert.Equal(0, a.Close(p1));
        Assert.Equal((EventChannelStatus.Unbound, (ushort)a.Id), (a.Status(p2).Status, a.Status(p2).Dom));
        Assert.False(a.Pending(p1));
    }

    // ------------------------------------------------------------------ status

    [Fact]
    public void Status_reports_every_state_and_the_notified_vcpu()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);

        var closed = a.Status(100);
        Assert.Equal((EventChannelStatus.Closed, 0u), (closed.Status, closed.Vcpu));

        uint unbound = a.Offer(b.Id);
        var su = a.Status(unbound);
        Assert.Equal((EventChannelStatus.Unbound, 0u, (ushort)b.Id), (su.Status, su.Vcpu, su.Dom));

        var (pa, pb) = two.Connect();
        var si = a.Status(pa);
        Assert.Equal((EventChannelStatus.Interdomain, 0u, (ushort)b.Id, pb), (si.Status, si.Vcpu, si.Dom, si.Port));

        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 1, out uint timer1));
        var sv = a.Status(timer1);
        Assert.Equal((EventChannelStatus.Virq, 1u, (uint)Virq.Timer), (sv.Status, sv.Vcpu, sv.Virq));

        Assert.Equal(0, a.BindVirq((uint)Virq.Argo, 0, out uint console));
        var sc = a.Status(console);
        Assert.Equal((EventChannelStatus.Virq, 0u, (uint)Virq.Argo), (sc.Status, sc.Vcpu, sc.Virq));

        Assert.Equal(0, a.BindIpi(1, out uint ipi));
        var sp = a.Status(ipi);
        Assert.Equal((EventChannelStatus.Ipi, 1u), (sp.Status, sp.Vcpu));

        // Own id works like DOMID_SELF.
        Assert.Equal(0, a.Status((ushort)a.Id, ipi, out var byId));
        Assert.Equal(EventChannelStatus.Ipi, byId.Status);
    }

    [Fact]
    public void Status_of_another_domains_port_is_eperm_and_of_an_invalid_port_einval()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        Assert.Equal(0, a.BindIpi(0, out uint ipi));

        Assert.Equal(-XenErrno.EPERM, b.Status((ushort)a.Id, ipi, out var s));
        Assert.Equal(0xEEEEEEEEu, s.Status);
        Assert.Equal(-XenErrno.ESRCH, b.Status(NoSuchDomain, ipi, out _));
        Assert.Equal(-XenErrno.EINVAL, a.Status(Self, 0, out s));
        Assert.Equal(0xEEEEEEEEu, s.Status);
        Assert.Equal(-XenErrno.EINVAL, a.Status(Self, 5000, out _));
        Assert.Equal(-XenErrno.EINVAL, a.Status(Self, 0xFFFFFFFF, out _));
    }

    // ------------------------------------------------------------------ close / send

    [Fact]
    public void Closing_one_end_leaves_the_peer_unbound_for_the_closer_which_can_bind_it_again()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (pa, pb) = two.Connect();

        Assert.Equal(0, a.Send(pa));
        Assert.True(b.Pending(pb));
        Assert.Equal(0, b.Close(pb));
        Assert.False(b.Pending(pb)); // closing clears the port's pending bit
        Assert.Equal(EventChannelStatus.Closed, b.Status(pb).Status);
        var sa = a.Status(pa);
        Assert.Equal((EventChannelStatus.Unbound, (ushort)b.Id), (sa.Status, sa.Dom));

        // Sends on the now-unbound end are dropped silently.
        b.AcknowledgeAll();
        Assert.Equal(0, a.Send(pa));
        Assert.False(a.AnyPending());
        Assert.False(b.AnyPending());
        Assert.False(a.UpcallPending(0));
        Assert.False(b.UpcallPending(0));
        Assert.Equal(-XenErrno.EINVAL, b.Send(pb)); // B's end is closed

        // The same domain can connect again.
        Assert.Equal(0, b.BindInterdomain((ushort)a.Id, pa, out uint again));
        Assert.Equal(again, a.Status(pa).Port);
        b.AcknowledgeAll();
        Assert.Equal(0, a.Send(pa));
        Assert.True(b.Pending(again));
    }

    [Fact]
    public void Closing_a_port_clears_its_pending_bit()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Assert.Equal(0, a.Send(ipi));
        Assert.True(a.Pending(ipi));
        Assert.Equal(0, a.Close(ipi));
        Assert.False(a.Pending(ipi));

        // Rebinding gets the same (lowest free) port, and it is not pending.
        Assert.Equal(0, a.BindIpi(0, out uint again));
        Assert.Equal(ipi, again);
        Assert.False(a.Pending(again));
    }

    [Fact]
    public void A_host_bound_port_cannot_be_closed_by_the_guest()
    {
        using var two = new TwoDomains();
        var a = two.A;
        int kicks = 0;
        int console = a.Domain.EventChannels.BindToHost(() => kicks++);

        Assert.Equal(-XenErrno.EINVAL, a.Close((uint)console));
        Assert.Equal(EventChannelStatus.Interdomain, a.Status((uint)console).Status);
        Assert.Equal(0, a.Send((uint)console));
        Assert.Equal(1, kicks);
    }

    [Fact]
    public void Closing_twice_or_closing_an_invalid_port_is_einval()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindIpi(0, out uint ipi));
        Assert.Equal(0, a.Close(ipi));
        Assert.Equal(-XenErrno.EINVAL, a.Close(ipi));
        Assert.Equal(-XenErrno.EINVAL, a.Close(0));
        Assert.Equal(-XenErrno.EINVAL, a.Close(0xFFFFFFFF));
    }

    [Fact]
    public void Send_on_a_virq_port_is_einval()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out uint timer));
        Assert.Equal(-XenErrno.EINVAL, a.Send(timer));
        Assert.False(a.Pending(timer));
    }

    // ------------------------------------------------------------------ bind_vcpu

    [Fact]
    public void Bind_vcpu_moves_interdomain_unbound_and_per_domain_virq_ports()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (_, pb) = two.Connect();

        Assert.Equal(0, b.BindVcpu(pb, 1));
        Assert.Equal(1u, b.Status(pb).Vcpu);

        uint offered = a.Offer(b.Id);
        Assert.Equal(0, a.BindVcpu(offered, 1));
        Assert.Equal(1u, a.Status(offered).Vcpu);

        Assert.Equal(0, a.BindVirq((uint)Virq.Argo, 0, out uint console));
        Assert.Equal(0, a.BindVcpu(console, 1));
        Assert.Equal(1u, a.Status(console).Vcpu);
        a.AcknowledgeAll();
        a.Domain.EventChannels.RaiseVirq(Virq.Argo, 0);
        Assert.True(a.Pending(console));
        Assert.True(a.UpcallPending(1));
        Assert.True(a.SelectorHas(console, 1));
        Assert.False(a.UpcallPending(0));
        Assert.Equal(0UL, a.Selector(0));

        // An unbound port keeps its vCPU when the peer binds it.
        Assert.Equal(0, b.BindInterdomain((ushort)a.Id, offered, out uint fromB));
        a.AcknowledgeAll();
        Assert.Equal(0, b.Send(fromB));
        Assert.True(a.Pending(offered));
        Assert.True(a.UpcallPending(1));
        Assert.False(a.UpcallPending(0));
        Assert.Equal(1u, a.Status(offered).Vcpu);
    }

    [Fact]
    public void Bind_vcpu_refuses_per_vcpu_virqs_ipis_free_ports_and_missing_vcpus()
    {
        using var two = new TwoDomains();
        var a = two.A;
        var (pa, _) = two.Connect();
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out uint timer));
        Assert.Equal(0, a.BindIpi(0, out uint ipi));

        Assert.Equal(-XenErrno.EINVAL, a.BindVcpu(timer, 1));
        Assert.Equal(-XenErrno.EINVAL, a.BindVcpu(ipi, 1));
        Assert.Equal(-XenErrno.EINVAL, a.BindVcpu(100, 1));        // free
        Assert.Equal(-XenErrno.EINVAL, a.BindVcpu(0, 1));
        Assert.Equal(-XenErrno.EINVAL, a.BindVcpu(0xFFFFFFFF, 1));
        Assert.Equal(-XenErrno.ENOENT, a.BindVcpu(pa, 2));
        Assert.Equal(-XenErrno.ENOENT, a.BindVcpu(pa, 0xFFFFFFFF));

        Assert.Equal(0u, a.Status(timer).Vcpu);
        Assert.Equal(0u, a.Status(ipi).Vcpu);
        Assert.Equal(0u, a.Status(pa).Vcpu);
    }

    [Fact]
    public void After_bind_vcpu_a_send_marks_the_new_vcpus_selector_and_upcall_only()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (pa, pb) = two.Connect();
        Assert.Equal(0, b.BindVcpu(pb, 1));

        Assert.Equal(0, a.Send(pa));
        Assert.True(b.Pending(pb));
        Assert.True(b.SelectorHas(pb, 1));
        Assert.True(b.UpcallPending(1));
        Assert.False(b.UpcallPending(0));
        Assert.Equal(0UL, b.Selector(0));

        // And back to vCPU 0.
        b.AcknowledgeAll();
        Assert.Equal(0, b.BindVcpu(pb, 0));
        Assert.Equal(0, a.Send(pa));
        Assert.True(b.UpcallPending(0));
        Assert.False(b.UpcallPending(1));
    }

    // ------------------------------------------------------------------ bind_virq

    [Fact]
    public void Bind_virq_binds_per_vcpu_virqs_on_any_vcpu_per_domain_ones_on_vcpu_0_and_refuses_global_ones()
    {
        using var two = new TwoDomains();
        var a = two.A;

        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out uint t0));
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 1, out uint t1));
        Assert.Equal(0, a.BindVirq((uint)Virq.Debug, 1, out uint d1));
        Assert.Equal(3, new HashSet<uint> { t0, t1, d1 }.Count);
        Assert.Equal((int)t1, a.Domain.EventChannels.VirqPort(Virq.Timer, 1));

        Assert.Equal(-XenErrno.EINVAL, a.BindVirq((uint)Virq.Argo, 1, out uint port));
        Assert.Equal(0xDEADBEEFu, port);
        Assert.Equal(0, a.BindVirq((uint)Virq.Argo, 0, out uint console));
        Assert.Equal((uint)Virq.Argo, a.Status(console).Virq);

        Assert.Equal(-XenErrno.EINVAL, a.BindVirq(24, 0, out port));
        Assert.Equal(-XenErrno.EINVAL, a.BindVirq(0xFFFFFFFF, 0, out port));
        Assert.Equal(-XenErrno.ENOENT, a.BindVirq((uint)Virq.Timer, 2, out port));
        Assert.Equal(-XenErrno.EEXIST, a.BindVirq((uint)Virq.Timer, 0, out port));
        Assert.Equal(-XenErrno.EEXIST, a.BindVirq((uint)Virq.Argo, 0, out port));
        Assert.Equal(0xDEADBEEFu, port);

        // Global VIRQs (CONSOLE, DOM_EXC, …) belong to the hardware domain: a guest gets -EBUSY.
        Assert.Equal(-XenErrno.EBUSY, a.BindVirq((uint)Virq.Console, 0, out port));
        Assert.Equal(-XenErrno.EBUSY, a.BindVirq((uint)Virq.DomExc, 0, out port));
        Assert.Equal(-XenErrno.EINVAL, a.BindVirq((uint)Virq.Console, 1, out port));
    }

    [Fact]
    public void Raising_a_virq_marks_the_bound_port_pending_for_its_vcpu()
    {
        using var two = new TwoDomains();
        var a = two.A;
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out uint t0));
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 1, out uint t1));
        Assert.Equal(0, a.BindVirq((uint)Virq.Argo, 0, out uint console));

        a.Domain.EventChannels.RaiseVirq(Virq.Timer, 1);
        Assert.True(a.Pending(t1));
        Assert.False(a.Pending(t0));
        Assert.True(a.UpcallPending(1));
        Assert.True(a.SelectorHas(t1, 1));
        Assert.False(a.UpcallPending(0));

        a.AcknowledgeAll();
        a.Domain.EventChannels.RaiseVirq(Virq.Debug, 0); // not bound: nothing happens
        Assert.False(a.AnyPending());

        a.Domain.EventChannels.RaiseVirq(Virq.Argo, 0);
        Assert.True(a.Pending(console));
        Assert.True(a.UpcallPending(0));
    }

    // ------------------------------------------------------------------ limits

    [Fact]
    public void Max_event_channels_limits_the_ports_handed_out()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        a.Domain.EventChannels.MaxEventChannels = 8;

        for (uint expected = 1; expected <= 8; expected++)
        {
            Assert.Equal(0, a.BindIpi(0, out uint port));
            Assert.Equal(expected, port);
        }
        Assert.Equal(-XenErrno.ENOSPC, a.BindIpi(0, out uint none));
        Assert.Equal(0xDEADBEEFu, none);
        Assert.Equal(-XenErrno.ENOSPC, a.AllocUnbound(Self, (ushort)b.Id, out _));
        Assert.Equal(-XenErrno.ENOSPC, a.BindVirq((uint)Virq.Timer, 0, out _));
        uint offered = b.Offer(a.Id);
        Assert.Equal(-XenErrno.ENOSPC, a.BindInterdomain((ushort)b.Id, offered, out _));
        Assert.Equal(EventChannelStatus.Unbound, b.Status(offered).Status); // the offer still stands
        Assert.Equal(-XenErrno.EINVAL, a.Status(Self, 9, out _));

        // Freeing a port makes room again; the lowest free port is reused.
        Assert.Equal(0, a.Close(3));
        Assert.Equal(0, a.BindInterdomain((ushort)b.Id, offered, out uint local));
        Assert.Equal(3u, local);
    }

    [Theory]
    [InlineData(false, 1024)] // 32-bit guest: 32 words of 32 bits
    [InlineData(true, 4096)]  // 64-bit guest: 64 words of 64 bits
    public void Ports_beyond_the_two_level_limit_are_never_handed_out(bool is64, int limit)
    {
        using var t = new TestDomain();
        var g = new EventGuest(t.Domain);
        t.Domain.EventChannels.MaxEventChannels = 8000;

        uint last = 0;
        long rc;
        int bound = 0;
        while ((rc = g.BindIpi(0, out uint port, is64)) == 0)
        {
            Assert.True(port < (uint)limit, $"port {port} is beyond the 2-level limit");
            last = port;
            if (++bound > 10_000) break;
        }
        Assert.Equal(-XenErrno.ENOSPC, rc);
        Assert.Equal(limit - 1, bound);
        Assert.Equal((uint)(limit - 1), last);
    }

    // ------------------------------------------------------------------ reset

    [Fact]
    public void Reset_closes_guest_bound_ports_keeps_host_bound_ones_and_unbinds_peers()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        int kicks = 0;
        int host = a.Domain.EventChannels.BindToHost(() => kicks++);
        var (pa, pb) = two.Connect();
        uint offered = a.Offer(b.Id);
        Assert.Equal(0, a.BindIpi(1, out uint ipi));
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out uint timer));
        Assert.Equal(0, a.Send(ipi));
        Assert.True(a.Pending(ipi));

        Assert.Equal(0, a.Reset());

        foreach (uint p in new[] { pa, offered, ipi, timer })
            Assert.Equal(EventChannelStatus.Closed, a.Status(p).Status);
        Assert.False(a.Pending(ipi));
        Assert.Equal(0, a.Domain.EventChannels.VirqPort(Virq.Timer, 0));

        Assert.Equal(EventChannelStatus.Interdomain, a.Status((uint)host).Status);
        Assert.Equal(0, a.Send((uint)host));
        Assert.Equal(1, kicks);

        var sb = b.Status(pb);
        Assert.Equal((EventChannelStatus.Unbound, (ushort)a.Id), (sb.Status, sb.Dom));
        a.AcknowledgeAll();
        Assert.Equal(0, b.Send(pb));
        Assert.False(a.AnyPending());

        // The guest can bind again after the reset.
        Assert.Equal(0, a.BindVirq((uint)Virq.Timer, 0, out _));
        Assert.Equal(0, a.BindInterdomain((ushort)b.Id, pb, out _));
    }

    [Fact]
    public void Reset_of_another_domain_is_eperm_and_of_a_missing_one_esrch()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        Assert.Equal(0, b.BindIpi(0, out uint ipi));
        Assert.Equal(-XenErrno.EPERM, a.Reset((ushort)b.Id));
        Assert.Equal(-XenErrno.ESRCH, a.Reset(NoSuchDomain));
        Assert.Equal(EventChannelStatus.Ipi, b.Status(ipi).Status);
        Assert.Equal(0, a.Reset((ushort)a.Id));
    }

    // ------------------------------------------------------------------ isolation / destruction

    [Fact]
    public void A_domain_cannot_close_send_unmask_or_query_another_domains_ports_by_number()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        Assert.Equal(0, a.BindIpi(0, out uint p1));
        Assert.Equal(0, a.BindIpi(1, out uint p2));
        Assert.Equal(0, a.BindIpi(0, out uint p3));
        Assert.Equal(0, b.BindIpi(0, out uint q1));
        Assert.Equal(p1, q1); // both domains have a port 1
        a.Mask(p3);
        Assert.Equal(0, a.Send(p3));
        Assert.True(a.Pending(p3));
        a.SetUpcallPending(0, false);

        // p2 and p3 are free in B: B's calls act on B's own table.
        Assert.Equal(-XenErrno.EINVAL, b.Close(p3));
        Assert.Equal(-XenErrno.EINVAL, b.Send(p2));
        Assert.Equal(-XenErrno.EINVAL, b.BindVcpu(p3, 1));
        Assert.Equal(EventChannelStatus.Closed, b.Status(p3).Status);
        Assert.Equal(-XenErrno.EPERM, b.Status((ushort)a.Id, p3, out _));
        Assert.Equal(0, b.Unmask(p3)); // a free port of B: only B's own mask bit is touched
        Assert.False(b.AnyPending());

        // A is untouched: p3 still masked and pending without an upcall, p2 not pending.
        Assert.True(a.Masked(p3));
        Assert.True(a.Pending(p3));
        Assert.False(a.UpcallPending(0));
        Assert.False(a.Pending(p2));
        Assert.False(a.UpcallPending(1));
        Assert.Equal(EventChannelStatus.Ipi, a.Status(p2).Status);
        Assert.Equal(1u, a.Status(p2).Vcpu);

        // Closing B's port 1 leaves A's port 1 alone.
        Assert.Equal(0, b.Close(q1));
        Assert.Equal(EventChannelStatus.Ipi, a.Status(p1).Status);
        Assert.Equal(0, a.Send(p1));
        Assert.True(a.Pending(p1));
    }

    [Fact]
    public void Destroying_a_domain_unbinds_its_peers_and_later_sends_are_dropped()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        var (pa, _) = two.Connect();
        int bId = b.Id;

        b.Domain.Destroy();
        Assert.Null(two.T.Hv.Find(bId));

        var sa = a.Status(pa);
        Assert.Equal((EventChannelStatus.Unbound, (ushort)bId), (sa.Status, sa.Dom));
        Assert.Equal(0, a.Send(pa));
        Assert.False(a.AnyPending());
        Assert.False(a.UpcallPending(0));
        Assert.Equal(-XenErrno.ESRCH, a.BindInterdomain((ushort)bId, 1, out _));
        Assert.Equal(0, a.Close(pa));
    }

    // ------------------------------------------------------------------ bad commands and pointers

    [Fact]
    public void Bind_pirq_is_eperm()
    {
        using var two = new TwoDomains();
        var a = two.A;
        a.Poke(EventGuest.Arg, 5u);      // pirq
        a.Poke(EventGuest.Arg + 4, 0u);  // flags
        a.Poke(EventGuest.Arg + 8, 0xDEADBEEFu);
        Assert.Equal(-XenErrno.EPERM, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindPirq, EventGuest.Arg));
        Assert.Equal(0xDEADBEEFu, a.Peek<uint>(EventGuest.Arg + 8));
        Assert.Equal(EventChannelStatus.Closed, a.Status(1).Status);
    }

    [Theory]
    [InlineData(15)]
    [InlineData(64)]
    [InlineData(1000)]
    public void Unknown_commands_are_enosys(int cmd)
    {
        using var two = new TwoDomains();
        Assert.Equal(-XenErrno.ENOSYS, two.A.Call(HypercallNumber.EventChannelOp, (ulong)cmd, EventGuest.Arg));
    }

    [Theory]
    [InlineData(EventChannelOp.BindInterdomain)]
    [InlineData(EventChannelOp.BindVirq)]
    [InlineData(EventChannelOp.BindPirq)]
    [InlineData(EventChannelOp.Close)]
    [InlineData(EventChannelOp.Send)]
    [InlineData(EventChannelOp.Status)]
    [InlineData(EventChannelOp.AllocUnbound)]
    [InlineData(EventChannelOp.BindIpi)]
    [InlineData(EventChannelOp.BindVcpu)]
    [InlineData(EventChannelOp.Unmask)]
    [InlineData(EventChannelOp.Reset)]
    public void Every_struct_pointer_outside_ram_is_efault(int cmd)
    {
        using var two = new TwoDomains();
        // Xen copies the whole structure in before looking at it (copy_from_guest → -EFAULT).
        Assert.Equal(-XenErrno.EFAULT, two.A.Call(HypercallNumber.EventChannelOp, (ulong)cmd, TestDomain.Unmapped));
        Assert.Equal(EventChannelStatus.Closed, two.A.Status(1).Status);
    }

    [Fact]
    public void A_struct_straddling_the_end_of_ram_is_efault_and_changes_nothing()
    {
        using var two = new TwoDomains();
        var (a, b) = (two.A, two.B);
        const ulong End = TestDomain.RamSize;
        uint offered = b.Offer(a.Id);

        // alloc_unbound: dom and remote_dom readable, the out port is not.
        a.Poke(End - 4, Self);
        a.Poke(End - 2, (ushort)b.Id);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.AllocUnbound, End - 4));

        // bind_interdomain: remote_dom and remote_port readable, local_port is not.
        a.Poke(End - 8, (ushort)b.Id);
        a.Poke(End - 4, offered);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindInterdomain, End - 8));
        Assert.Equal(EventChannelStatus.Unbound, b.Status(offered).Status);

        // bind_virq: virq and vcpu readable, port is not.
        a.Poke(End - 8, (uint)Virq.Timer);
        a.Poke(End - 4, 0u);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindVirq, End - 8));
        Assert.Equal(0, a.Domain.EventChannels.VirqPort(Virq.Timer, 0));

        // bind_ipi: vcpu readable, port is not.
        a.Poke(End - 4, 0u);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindIpi, End - 4));

        // status: dom and port readable, the out fields are not.
        a.Poke(End - 8, Self);
        a.Poke(End - 4, 1u);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.Status, End - 8));

        // bind_vcpu: port readable, vcpu is not.
        a.Poke(End - 4, 1u);
        Assert.Equal(-XenErrno.EFAULT, a.Call(HypercallNumber.EventChannelOp, EventChannelOp.BindVcpu, End - 4));

        for (uint p = 1; p <= 4; p++)
            Assert.Equal(EventChannelStatus.Closed, a.Status(p).Status);
    }
}
