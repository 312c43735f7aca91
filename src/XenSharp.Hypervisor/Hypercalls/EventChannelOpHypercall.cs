using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// event_channel_op(cmd, arg): so far EVTCHNOP_send (struct evtchn_send { u32 port; }) to
/// host backends and IPI ports, EVTCHNOP_bind_ipi ({ u32 vcpu; u32 port out; }),
/// EVTCHNOP_bind_virq (VIRQ_TIMER), EVTCHNOP_unmask ({ u32 port; }) and EVTCHNOP_close ({ u32 port; }) with the 2-level ABI;
/// the rest of the event-channel ABI answers -ENOSYS until the event-channel work lands.
/// </summary>
public static class EventChannelOpHypercall
{
    public static long Handle(in HypercallContext ctx)
    {
        var d = ctx.Domain;
        switch ((int)ctx.A1)
        {
            case EventChannelOp.Send:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out uint port)) return -XenErrno.EFAULT;
                return d.EventChannels.Send(port, d);
            }
            case EventChannelOp.BindIpi:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out uint vcpu)) return -XenErrno.EFAULT;
                if (vcpu >= (uint)d.Vcpus.Count) return -XenErrno.ENOENT;
                if (!ctx.Memory.Contains(ctx.A2 + 4, 4)) return -XenErrno.EFAULT;
                int port = d.EventChannels.BindIpi((int)vcpu);
                if (port < 0) return port;
                ctx.Memory.TryWrite(ctx.A2 + 4, (uint)port);
                d.SharedInfoIs32Bit = !ctx.Is64;
                return 0;
            }
            case EventChannelOp.BindVirq:
                return BindVirq(in ctx);
            case EventChannelOp.Unmask:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out uint port)) return -XenErrno.EFAULT;
                if (!d.EventChannels.IsBound(port)) return -XenErrno.EINVAL;
                TwoLevelEventChannels.Unmask(d, (int)port, Math.Max(0, d.EventChannels.NotifyVcpu(port)));
                return 0;
            }
            case EventChannelOp.Close:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out uint port)) return -XenErrno.EFAULT;
                if (d.EventChannels.VirqOf(port) == Virq.Timer && d.EventChannels.NotifyVcpu(port) is var owner and >= 0 &&
                    d.Vcpus[owner].TimerVirqPort == (int)port)
                    d.Vcpus[owner].TimerVirqPort = 0;
                return d.EventChannels.Close(port);
            }
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// EVTCHNOP_bind_virq: struct evtchn_bind_virq { u32 virq; u32 vcpu; u32 port (out); }.
    /// Only VIRQ_TIMER (per vCPU) exists so far; other VIRQs get -EINVAL. Binding a VIRQ that
    /// is already bound on that vCPU gives -EEXIST, as in Xen.
    /// </summary>
    private static long BindVirq(in HypercallContext ctx)
    {
        var d = ctx.Domain;
        if (!ctx.Memory.TryRead(ctx.A2, out uint virq) || !ctx.Memory.TryRead(ctx.A2 + 4, out uint vcpu) ||
            !ctx.Memory.Contains(ctx.A2 + 8, 4))
            return -XenErrno.EFAULT;
        if (virq != Virq.Timer) return -XenErrno.EINVAL;
        if (vcpu >= (uint)d.Vcpus.Count) return -XenErrno.ENOENT;
        var target = d.Vcpus[(int)vcpu];
        lock (target)
        {
            if (target.TimerVirqPort != 0) return -XenErrno.EEXIST;
            int port = d.EventChannels.BindVirq((int)virq, (int)vcpu);
            if (port < 0) return port;
            target.TimerVirqPort = port;
            ctx.Memory.TryWrite(ctx.A2 + 8, (uint)port);
        }
        d.SharedInfoIs32Bit = !ctx.Is64;
        return 0;
    }
}
