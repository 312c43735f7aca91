using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// console_io(cmd, count, buffer). Write appends the guest's bytes to the hypervisor console
/// log as "(dN)" lines (`xl dmesg`), as Xen's debug console does for guests. Read returns
/// hypervisor-console input directed at the guest; XenSharp routes none, so it reads 0 bytes.
/// </summary>
public static class ConsoleIoHypercall
{
    /// <summary>Largest count accepted in one call; larger ones get -EINVAL (a guest writes in pieces).</summary>
    public const int MaxCount = 1 << 20;

    public static long Handle(in HypercallContext ctx)
    {
        switch ((int)ctx.A1)
        {
            case ConsoleIoOp.Write:
            {
                ulong count = (uint)ctx.A2;
                if (count > MaxCount) return -XenErrno.EINVAL;
                if (!ctx.Memory.TryGetSpan(ctx.A3, (int)count, out var bytes)) return -XenErrno.EFAULT;
                ctx.Domain.ConsoleIo.Write(bytes);
                return 0;
            }
            case ConsoleIoOp.Read:
            {
                ulong count = (uint)ctx.A2;
                if (count > MaxCount) return -XenErrno.EINVAL;
                if (!ctx.Memory.Contains(ctx.A3, count)) return -XenErrno.EFAULT;
                return 0;
            }
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
