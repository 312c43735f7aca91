using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// sched_op(cmd, arg): yield, block (enables event delivery, then waits to be woken) and
/// shutdown with a reason. Suspend and soft reset need toolstack support XenSharp does not
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
                Thread.Yield();
                return 0;
            case SchedOp.Block:
                if (ctx.Vcpu.VcpuInfoAddress != 0)
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
            case SchedOp.RemoteShutdown:
                return -XenErrno.EPERM;
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
