using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// event_channel_op(cmd, arg). This first cut implements EVTCHNOP_send (struct evtchn_send
/// { u32 port; }) to the host-side backends (console, XenStore); the rest of the event-channel
/// ABI comes with the event-channel work and answers -ENOSYS until then.
/// </summary>
public static class EventChannelOpHypercall
{
    public static long Handle(in HypercallContext ctx)
    {
        switch ((int)ctx.A1)
        {
            case EventChannelOp.Send:
                if (!ctx.Memory.TryRead(ctx.A2, out uint port)) return -XenErrno.EFAULT;
                return ctx.Domain.EventChannels.Send(port);
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
