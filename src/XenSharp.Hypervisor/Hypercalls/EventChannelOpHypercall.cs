using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// event_channel_op(cmd, arg): decodes the EVTCHNOP_* structures (event_channel.h; the same
/// layout for 32- and 64-bit guests) and runs them on the domain's
/// <see cref="EventChannelTable"/>, or on its FIFO ABI for init_control / expand_array /
/// set_priority. A guest acts on its own ports only: naming another domain where Xen would
/// need privilege gives -EPERM (-ESRCH when no such domain exists). Physical IRQs do not exist
/// here (bind_pirq: -EPERM).
/// </summary>
public static class EventChannelOpHypercall
{
    public static long Handle(in HypercallContext ctx)
    {
        var d = ctx.Domain;
        var table = d.EventChannels;
        ulong arg = ctx.A2;
        switch ((int)ctx.A1)
        {
            case EventChannelOp.Send:
            {
                if (!ctx.Memory.TryRead(arg, out uint port)) return -XenErrno.EFAULT;
                return table.Send(port);
            }
            case EventChannelOp.AllocUnbound:
            {
                // struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port (out); }
                if (!ctx.Memory.TryRead(arg, out ushort dom) || !ctx.Memory.TryRead(arg + 2, out ushort remote) ||
                    !ctx.Memory.Contains(arg + 4, 4))
                    return -XenErrno.EFAULT;
                if (CheckSelf(in ctx, dom) is var denied and < 0) return denied;
                int port = table.AllocUnbound(remote == DomId.Self ? d.Id : remote);
                return WritePort(in ctx, arg + 4, port);
            }
            case EventChannelOp.BindInterdomain:
            {
                // struct evtchn_bind_interdomain { domid_t remote_dom; u32 remote_port; u32 local_port (out); }
                if (!ctx.Memory.TryRead(arg, out ushort remoteDom) || !ctx.Memory.TryRead(arg + 4, out uint remotePort) ||
                    !ctx.Memory.Contains(arg + 8, 4))
                    return -XenErrno.EFAULT;
                var remote = ctx.IsSelf(remoteDom) ? d : d.Hypervisor.Find(remoteDom);
                if (remote is null || !remote.TryEnterMemory()) return -XenErrno.ESRCH;
                int port;
                try { port = table.BindInterdomain(remote, remotePort); }
                finally { remote.ExitMemory(); }
                return WritePort(in ctx, arg + 8, port);
            }
            case EventChannelOp.BindVirq:
            {
                // struct evtchn_bind_virq { u32 virq; u32 vcpu; evtchn_port_t port (out); }
                if (!ctx.Memory.TryRead(arg, out uint virq) || !ctx.Memory.TryRead(arg + 4, out uint vcpu) ||
                    !ctx.Memory.Contains(arg + 8, 4))
                    return -XenErrno.EFAULT;
                int port = table.BindVirq(virq >= Virq.Count ? -1 : (int)virq, vcpu > int.MaxValue ? -1 : (int)vcpu);
                return WritePort(in ctx, arg + 8, port);
            }
            case EventChannelOp.BindIpi:
            {
                // struct evtchn_bind_ipi { u32 vcpu; evtchn_port_t port (out); }
                if (!ctx.Memory.TryRead(arg, out uint vcpu) || !ctx.Memory.Contains(arg + 4, 4)) return -XenErrno.EFAULT;
                int port = table.BindIpi(vcpu > int.MaxValue ? -1 : (int)vcpu);
                return WritePort(in ctx, arg + 4, port);
            }
            case EventChannelOp.BindPirq:
                // struct evtchn_bind_pirq { u32 pirq; u32 flags; u32 port (out); }: read like Xen, then refused.
                return ctx.Memory.Contains(arg, 12) ? -XenErrno.EPERM : -XenErrno.EFAULT;
            case EventChannelOp.BindVcpu:
            {
                // struct evtchn_bind_vcpu { evtchn_port_t port; u32 vcpu; }
                if (!ctx.Memory.TryRead(arg, out uint port) || !ctx.Memory.TryRead(arg + 4, out uint vcpu)) return -XenErrno.EFAULT;
                return table.BindVcpu(port, vcpu > int.MaxValue ? -1 : (int)vcpu);
            }
            case EventChannelOp.Unmask:
            {
                if (!ctx.Memory.TryRead(arg, out uint port)) return -XenErrno.EFAULT;
                return table.Unmask(port);
            }
            case EventChannelOp.Close:
            {
                if (!ctx.Memory.TryRead(arg, out uint port)) return -XenErrno.EFAULT;
                return table.Close(port);
            }
            case EventChannelOp.Status:
                return Status(in ctx);
            case EventChannelOp.Reset:
            {
                // struct evtchn_reset { domid_t dom; }
                if (!ctx.Memory.TryRead(arg, out ushort dom)) return -XenErrno.EFAULT;
                if (CheckSelf(in ctx, dom) is var denied and < 0) return denied;
                table.Reset();
                lock (table) d.ResetEventAbi();
                return 0;
            }
            case EventChannelOp.InitControl:
                return InitControl(in ctx);
            case EventChannelOp.ExpandArray:
            {
                // struct evtchn_expand_array { u64 array_gfn; }
                if (!ctx.Memory.TryRead(arg, out ulong gfn)) return -XenErrno.EFAULT;
                return d.EventAbi is FifoEventChannels fifo ? fifo.ExpandArray(gfn) : -XenErrno.EINVAL;
            }
            case EventChannelOp.SetPriority:
            {
                // struct evtchn_set_priority { evtchn_port_t port; u32 priority; }
                if (!ctx.Memory.TryRead(arg, out uint port) || !ctx.Memory.TryRead(arg + 4, out uint priority)) return -XenErrno.EFAULT;
                if (d.EventAbi is not FifoEventChannels fifo) return -XenErrno.ENOSYS;
                if (!table.IsValidPort(port)) return -XenErrno.EINVAL;
                return fifo.SetPriority((int)port, priority);
            }
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>0 when <paramref name="dom"/> is the caller; -EPERM for another domain (domain 0 included), -ESRCH for none.</summary>
    private static int CheckSelf(in HypercallContext ctx, ushort dom)
    {
        if (ctx.IsSelf(dom)) return 0;
        return ctx.Domain.Hypervisor.Exists(dom) ? -XenErrno.EPERM : -XenErrno.ESRCH;
    }

    /// <summary>Writes a newly bound port to the guest's out field; hands errors through. The first bind latches the shared_info width.</summary>
    private static long WritePort(in HypercallContext ctx, ulong gpa, int port)
    {
        if (port < 0) return port;
        ctx.Memory.TryWrite(gpa, (uint)port);
        ctx.Domain.SharedInfoIs32Bit = !ctx.Is64;
        return 0;
    }

    /// <summary>
    /// struct evtchn_status { domid_t dom; u32 port; u32 status (out); u32 vcpu (out);
    /// union { {domid_t dom;} unbound; {domid_t dom; u32 port;} interdomain; u32 pirq; u32 virq; } u (out, @16); }.
    /// </summary>
    private static long Status(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        if (!ctx.Memory.TryRead(arg, out ushort dom) || !ctx.Memory.TryRead(arg + 4, out uint port) ||
            !ctx.Memory.Contains(arg + 8, 16))
            return -XenErrno.EFAULT;
        if (CheckSelf(in ctx, dom) is var denied and < 0) return denied;
        int rc = ctx.Domain.EventChannels.Status(port, out var s);
        if (rc < 0) return rc;
        ctx.Memory.TryWrite(arg + 8, s.Status);
        ctx.Memory.TryWrite(arg + 12, (uint)s.Vcpu);
        ctx.Memory.TryWrite(arg + 16, 0UL);
        switch (s.Status)
        {
            case EventChannelStatus.Unbound:
                ctx.Memory.TryWrite(arg + 16, (ushort)s.RemoteDomainId);
                break;
            case EventChannelStatus.Interdomain:
                ctx.Memory.TryWrite(arg + 16, (ushort)s.RemoteDomainId);
                ctx.Memory.TryWrite(arg + 20, (uint)s.RemotePort);
                break;
            case EventChannelStatus.Virq:
                ctx.Memory.TryWrite(arg + 16, (uint)s.Virq);
                break;
        }
        return 0;
    }

    /// <summary>
    /// EVTCHNOP_init_control: struct evtchn_init_control { u64 control_gfn; u32 offset; u32 vcpu;
    /// u8 link_bits (out); }. The first successful call switches the domain to the FIFO ABI
    /// (pending 2-level events are dropped, as the ABI says).
    /// </summary>
    private static long InitControl(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        if (!ctx.Memory.TryRead(arg, out ulong gfn) || !ctx.Memory.TryRead(arg + 8, out uint offset) ||
            !ctx.Memory.TryRead(arg + 12, out uint vcpu) || !ctx.Memory.Contains(arg + 16, 1))
            return -XenErrno.EFAULT;
        var d = ctx.Domain;
        if (vcpu >= (uint)d.Vcpus.Count) return -XenErrno.ENOENT;
        FifoEventChannels fifo;
        lock (d.EventChannels)
        {
            fifo = d.EventAbi as FifoEventChannels ?? d.FifoAbi;
            long rc = fifo.InitControl((int)vcpu, gfn, offset);
            if (rc < 0) return rc;
            d.EventAbi = fifo;
        }
        ctx.Memory.TryWrite(arg + 16, (byte)FifoEvent.LinkBits);
        return 0;
    }
}
