using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>A host backend binding the port a guest offered to dom0 (a split driver's event channel).</summary>
public class EventChannelHostPeerTests
{
    [Fact]
    public void A_port_offered_to_dom0_binds_from_the_host_and_the_guest_still_owns_it()
    {
        using var t = new TestDomain();
        PlaceSharedInfo(t);
        var ev = t.Domain.EventChannels;
        int kicks = 0;
        Action handler = () => kicks++;
        int port = ev.AllocUnbound(0);
        int other = ev.AllocUnbound(5);
        Assert.Equal(-XenErrno.EINVAL, ev.BindUnboundToHost((uint)other, 0, handler));   // offered to another domain
        Assert.Equal(-XenErrno.EINVAL, ev.BindUnboundToHost(999, 0, handler));
        Assert.Equal(0, ev.BindUnboundToHost((uint)port, 0, handler));
        Assert.True(ev.IsPending((uint)port));                                         // pending at once, as bind_interdomain
        Assert.Equal(-XenErrno.EINVAL, ev.BindUnboundToHost((uint)port, 0, handler));  // already bound
        Assert.Equal(0, ev.Status((uint)port, out var st));
        Assert.Equal(EventChannelStatus.Interdomain, st.Status);
        Assert.Equal(0, st.RemoteDomainId);

        Assert.Equal(0, ev.Send((uint)port));
        Assert.Equal(1, kicks);
        t.Domain.EventAbi.ClearPending(port);
        Assert.True(ev.NotifyHostPeer((uint)port, handler));
        Assert.True(ev.IsPending((uint)port));
        Assert.False(ev.NotifyHostPeer((uint)port, () => { }));                        // not the binder

        // The backend lets go: the guest's port waits for dom0 again.
        ev.UnbindHost((uint)port, handler);
        Assert.Equal(0, ev.Status((uint)port, out st));
        Assert.Equal(EventChannelStatus.Unbound, st.Status);
        Assert.False(ev.NotifyHostPeer((uint)port, handler));
        Assert.Equal(0, ev.Send((uint)port));
        Assert.Equal(1, kicks);

        // Bound again, the guest may close it; the backend's notifications then go nowhere.
        Assert.Equal(0, ev.BindUnboundToHost((uint)port, 0, handler));
        Assert.Equal(0, ev.Close((uint)port));
        Assert.False(ev.NotifyHostPeer((uint)port, handler));
        Assert.False(ev.IsBound((uint)port));
        ev.UnbindHost((uint)port, handler); // harmless
        Assert.False(ev.IsBound((uint)port));
    }

    /// <summary>XENMEM_add_to_physmap(XENMAPSPACE_shared_info) at frame 0x30, so pending bits are real.</summary>
    internal static void PlaceSharedInfo(TestDomain t)
    {
        const ulong arg = TestDomain.Arg + 0x800;
        t.Poke(arg, DomId.Self);
        t.Poke(arg + 2, (ushort)0);
        t.Poke(arg + 4, (uint)MemoryOp.MapSpaceSharedInfo);
        t.Poke(arg + 8, 0UL);
        t.Poke(arg + 16, 0x30UL);
        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryOp.AddToPhysmap, arg));
    }
}
