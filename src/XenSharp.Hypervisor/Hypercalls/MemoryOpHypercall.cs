using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// memory_op(cmd, arg): the reservation queries, the guest's memory map and add_to_physmap
/// for shared_info. The low 6 bits of cmd are the command (XENMEMOP_CMD_MASK).
/// </summary>
public static class MemoryOpHypercall
{
    private const ulong CommandMask = 0x3F;

    public static long Handle(in HypercallContext ctx)
    {
        switch ((int)(ctx.A1 & CommandMask))
        {
            case MemoryOp.CurrentReservation:
            case MemoryOp.MaximumReservation:
            {
                if (!ctx.Memory.TryRead(ctx.A2, out ushort domid)) return -XenErrno.EFAULT;
                if (!ctx.IsSelf(domid)) return -XenErrno.EPERM;
                return (long)((ctx.A1 & CommandMask) == MemoryOp.CurrentReservation ? ctx.Domain.CurrentPages : ctx.Domain.MaxPages);
            }
            case MemoryOp.MemoryMap:
                return MemoryMap(in ctx);
            case MemoryOp.AddToPhysmap:
                return AddToPhysmap(in ctx);
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// struct xen_memory_map { u32 nr_entries; handle buffer; }: copies as many e820 entries as
    /// the buffer holds (nr_entries on input) and sets nr_entries to the number copied, as Xen
    /// does; -ENOSYS when the domain has no memory map.
    /// </summary>
    private static long MemoryMap(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        if (!ctx.Memory.TryRead(arg, out uint capacity) ||
            !ctx.TryReadLong(arg + (ulong)ctx.LongSize, out ulong buffer))
            return -XenErrno.EFAULT;
        var map = ctx.Domain.MemoryMap;
        if (map.Count == 0) return -XenErrno.ENOSYS;
        int count = (int)Math.Min(capacity, (uint)map.Count);
        if (!ctx.Memory.TryGetSpan(buffer, count * MemoryOp.E820EntrySize, out var dest)) return -XenErrno.EFAULT;
        for (int i = 0; i < count; i++)
        {
            var e = dest.Slice(i * MemoryOp.E820EntrySize, MemoryOp.E820EntrySize);
            BitConverter.TryWriteBytes(e, map[i].Address);
            BitConverter.TryWriteBytes(e[8..], map[i].Size);
            BitConverter.TryWriteBytes(e[16..], map[i].Type);
        }
        return ctx.Memory.TryWrite(arg, (uint)count) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>
    /// struct xen_add_to_physmap { u16 domid; u16 size; u32 space; xen_ulong_t idx; xen_pfn_t gpfn; }.
    /// shared_info is placed at the guest frame it names: from then on that frame is the domain's
    /// shared_info page (its RAM contents are replaced, as Xen replaces the frame).
    /// </summary>
    private static long AddToPhysmap(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        if (!ctx.Memory.TryRead(arg, out ushort domid) ||
            !ctx.Memory.TryRead(arg + 4, out uint space) ||
            !ctx.TryReadLong(arg + 8, out ulong idx) ||
            !ctx.TryReadLong(arg + 8 + (ulong)ctx.LongSize, out ulong gpfn))
            return -XenErrno.EFAULT;
        if (!ctx.IsSelf(domid)) return -XenErrno.EPERM;

        switch ((int)space)
        {
            case MemoryOp.MapSpaceSharedInfo:
            {
                if (idx != 0) return -XenErrno.EINVAL;
                if (gpfn > (ulong.MaxValue >> 12)) return -XenErrno.EINVAL;
                ulong gpa = gpfn << 12;
                if (!ctx.Domain.EnsureFrameBacked(gpa) || !ctx.Memory.TryGetSpan(gpa, 4096, out var page)) return -XenErrno.EINVAL;
                SharedInfoPage.Initialise(page, ctx.Domain.Vcpus.Count, ctx.Domain.Architecture);
                ctx.Domain.SharedInfoAddress = gpa;
                ctx.Domain.SharedInfoIs32Bit = !ctx.Is64;
                var d = ctx.Domain;
                Time.PvClock.WriteWallclock(page, d.SharedInfoIs32Bit, d.Architecture,
                    DateTime.UtcNow - TimeSpan.FromTicks(Math.Max(0, d.SystemTimeNs) / 100));
                foreach (var v in d.Vcpus) v.UpdateTime();
                return 0;
            }
            case MemoryOp.MapSpaceGrantTable:
                // Grant frame idx (idx | XENMAPIDX_grant_table_status: a v2 status frame) becomes
                // guest frame gpfn, its contents carried over (Grants/GrantTable.cs).
                return ctx.Domain.Grants.PlaceFrame(idx, gpfn);
            case MemoryOp.MapSpaceGmfn:
                return -XenErrno.EOPNOTSUPP;
            default:
                return -XenErrno.EINVAL;
        }
    }
}
