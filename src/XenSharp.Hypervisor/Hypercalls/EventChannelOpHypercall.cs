using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// event_channel_op(cmd, arg): so far EVTCHNOP_send (struct evtchn_send { u32 port; }) to
/// host backends and IPI ports, EVTCHNOP_bind_ipi ({ u32 vcpu; u32 port out; }),
/// EVTCHNOP_unmask ({ u32 port; }) and EVTCHNOP_close ({ u32 port; }) with the 2-level ABI;
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
                return d.EventChannels.Close(port);
            }
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
