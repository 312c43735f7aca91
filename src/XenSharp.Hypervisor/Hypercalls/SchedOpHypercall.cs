using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// sched_op(cmd, arg): yield, block (enables event delivery, then waits to be woken), poll
/// (waits for one of a set of ports, events staying masked) and shutdown with a reason. Suspend and soft reset need toolstack support XenSharp does not
/// have yet and fail with -EOPNOTSUPP, so the guest carries on.
/// </summary>
public static class SchedOpHypercall
{
    /// <summary>Offset of evtchn_upcall_mask in struct vcpu_info.</summary>
    private const int UpcallMaskOffset = 1;

    public static long Handle(in HypercallContext ctx)
    {
        switch ((int)ctx.A1)
        {
            case SchedOp.Yield:
                ctx.Vcpu.YieldPcpu();
                return 0;
            case SchedOp.Block:
                if (ctx.Vcpu.VcpuInfoAddress != 0 && SharedInfoPage.HasUpcallMask(ctx.Domain.Architecture))
                    ctx.Memory.TryWrite(ctx.Vcpu.VcpuInfoAddress + UpcallMaskOffset, (byte)0);
                ctx.Vcpu.Block();
                return 0;
            case SchedOp.Shutdown:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out uint reason)) return -XenErrno.EFAULT;
                switch ((ShutdownReason)reason)
                {
                    case ShutdownReason.Poweroff:
                    case ShutdownReason.Reboot:
                    case ShutdownReason.Crash:
                    case ShutdownReason.Watchdog:
                        ctx.Domain.Shutdown((ShutdownReason)reason);
                        return 0;
                    case ShutdownReason.Suspend:
                    case ShutdownReason.SoftReset:
                        return -XenErrno.EOPNOTSUPP;
                    default:
                        return -XenErrno.EINVAL;
                }
            }
            case SchedOp.Poll:
                return Poll(in ctx);
            case SchedOp.RemoteShutdown:
                return -XenErrno.EPERM;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>Xen's "fairly arbitrary" limit on the ports of one poll.</summary>
    public const uint MaxPollPorts = 128;

    /// <summary>
    /// SCHEDOP_poll: struct sched_poll { handle ports; u32 nr_ports; u64 timeout; } (32-bit:
    /// ports @0, nr_ports @4, timeout @8; 64-bit: @0, @8, @16). More than 128 ports → -EINVAL,
    /// an unreadable port list → -EFAULT, an invalid port → -EINVAL. Returns 0 at once when a
    /// port is already pending or an event needs delivery; otherwise blocks until one of the
    /// ports becomes pending (even while masked), an event needs delivery, or the absolute
    /// system time <c>timeout</c> (0: none) passes — as Xen does, in its order: an event that
    /// needs delivery or a pending port met before an invalid one returns 0.
    /// </summary>
    private static long Poll(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        ulong nrOffset = (ulong)ctx.LongSize, timeoutOffset = ctx.Is64 ? 16UL : 8UL;
        if (!ctx.TryReadLong(arg, out ulong ports) || !ctx.Memory.TryRead(arg + nrOffset, out uint count) ||
            !ctx.Memory.TryRead(arg + timeoutOffset, out ulong timeout))
            return -XenErrno.EFAULT;
        if (count > MaxPollPorts) return -XenErrno.EINVAL;
        if (!ctx.Memory.Contains(ports, count * 4UL)) return -XenErrno.EFAULT;
        var d = ctx.Domain;
        if (ctx.Vcpu.EventsNeedDelivery()) return 0;
        for (uint i = 0; i < count; i++)
        {
            if (!ctx.Memory.TryRead(ports + i * 4, out uint port)) return -XenErrno.EFAULT;
            if (!d.EventChannels.IsValidPort(port)) return -XenErrno.EINVAL;
            if (d.EventChannels.IsPending(port)) return 0;
        }
        ctx.Vcpu.Poll((d, ports, count), static s => AnyPending(s.d, s.ports, s.count), timeout);
        return 0;
    }

    /// <summary>Re-reads the guest's port list (the guest owns it) and tests each port.</summary>
    private static bool AnyPending(Domains.Domain d, ulong ports, uint count)
    {
        for (uint i = 0; i < count; i++)
            if (d.Memory.TryRead(ports + i * 4, out uint port) && d.EventChannels.IsPending(port)) return true;
        return false;
    }
}
