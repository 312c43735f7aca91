using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// hvm_op(cmd, arg): HVM parameters. struct xen_hvm_param is { u16 domid @0; u32 index @4;
/// u64 value @8 } in both 32- and 64-bit guests. A guest may read its parameters and set
/// the callback IRQ; the store and console parameters belong to the toolstack (-EPERM).
/// Another domain's parameters are out of reach (-EPERM).
/// </summary>
public static class HvmOpHypercall
{
    public static long Handle(in HypercallContext ctx)
    {
        int cmd = (int)ctx.A1;
        if (cmd == HvmOp.SetEvtchnUpcallVector) return SetUpcallVector(in ctx);
        if (cmd is not (HvmOp.SetParam or HvmOp.GetParam)) return -XenErrno.ENOSYS;

        ulong arg = ctx.A2;
        if (!ctx.Memory.TryRead(arg, out ushort domid) ||
            !ctx.Memory.TryRead(arg + 4, out uint index) ||
            !ctx.Memory.TryRead(arg + 8, out ulong value))
            return -XenErrno.EFAULT;
        if (!ctx.IsSelf(domid)) return -XenErrno.EPERM;
        if (index >= HvmParam.Count) return -XenErrno.EINVAL;

        if (cmd == HvmOp.GetParam)
            return ctx.Memory.TryWrite(arg + 8, ctx.Domain.GetHvmParam((int)index)) ? 0 : -XenErrno.EFAULT;

        if (index != HvmParam.CallbackIrq) return -XenErrno.EPERM;
        ctx.Domain.SetHvmParam((int)index, value);
        ctx.Domain.SharedInfoIs32Bit = !ctx.Is64;
        return 0;
    }

    /// <summary>
    /// HVMOP_set_evtchn_upcall_vector: struct { u32 vcpu; u8 vector; }: that vCPU's upcalls
    /// arrive on <c>vector</c> (at least 0x10, as on Xen).
    /// </summary>
    private static long SetUpcallVector(in HypercallContext ctx)
    {
        if (!ctx.Memory.TryRead(ctx.A2, out uint vcpu) || !ctx.Memory.TryRead(ctx.A2 + 4, out byte vector)) return -XenErrno.EFAULT;
        if (vcpu >= (uint)ctx.Domain.Vcpus.Count) return -XenErrno.ENOENT;
        if (vector < 0x10) return -XenErrno.EINVAL;
        ctx.Domain.Vcpus[(int)vcpu].UpcallVector = vector;
        ctx.Domain.SharedInfoIs32Bit = !ctx.Is64;
        return 0;
    }
}
