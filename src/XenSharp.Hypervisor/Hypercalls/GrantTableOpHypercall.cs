using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// grant_table_op(cmd, uop, count): <c>count</c> structures of the command's type at
/// <c>uop</c>, laid out for the caller's mode (GrantTableOp.cs has both layouts). As on Xen:
/// a negative (int) count is -EINVAL; bits above GNTTABOP_CMD_MASK in cmd are -EINVAL;
/// setup_table, query_size and get_status_frames take exactly one structure (-EINVAL);
/// a structure outside guest RAM is -EFAULT, and batched commands stop there (earlier ones
/// done). Each structure's fields are read once before anything is decided.
///
/// Supported: setup_table, query_size, set_version, get_version, get_status_frames,
/// copy, swap_grant_ref, and map_grant_ref / unmap_grant_ref / unmap_and_replace, which
/// validate but cannot map (below). transfer is -EOPNOTSUPP (Xen without PV support);
/// dump_table and cache_flush (not on x86) are -ENOSYS.
///
/// Another domain as <c>dom</c>: no guest is privileged here (the host is the control domain),
/// so setup_table, query_size and get_status_frames answer GNTST_permission_denied for an
/// existing other domain and GNTST_bad_domain for a missing one; get_version -EPERM / -ESRCH.
///
/// map_grant_ref from a guest: honouring GNTMAP_host_map for a guest grantee would mean
/// putting the granter's page into the grantee's guest-physical map, which XenSharp does not
/// do. Every check Xen makes is made first, in Xen's order, and its status returned (no
/// GNTMAP_host_map/device_map: GNTST_bad_gntref; device_map, application_map or
/// contains_pte from an HVM guest: GNTST_general_error; unknown domain: GNTST_bad_domain;
/// ref out of range: GNTST_bad_gntref; not a permitted full-page grant to the caller or
/// read-only for a writable map: GNTST_general_error; frame outside RAM: GNTST_bad_page);
/// a map that passes them all still gets GNTST_general_error and nothing is pinned. As no
/// handle is ever issued, unmap_grant_ref and unmap_and_replace answer GNTST_bad_handle.
/// Host backends map grants with GrantTable.TryMap instead.
///
/// Preemption: Xen preempts long batches with a continuation; XenSharp has none, so a batch
/// (map, unmap, unmap_and_replace, copy, swap) longer than <see cref="MaxOpsPerCall"/> is
/// refused with -EINVAL before any work. The bound keeps one call's work small (4096 copies
/// of at most 4 KiB) and is far above what guests batch (Linux netback: 512 copies).
/// </summary>
public static class GrantTableOpHypercall
{
    /// <summary>Largest batch one call may carry (see the class comment).</summary>
    public const uint MaxOpsPerCall = 4096;

    public static long Handle(in HypercallContext ctx)
    {
        uint cmd = (uint)ctx.A1;
        ulong uop = ctx.A2;
        uint count = (uint)ctx.A3;
        if ((int)count < 0) return -XenErrno.EINVAL;
        uint op = cmd & GrantTableOp.CommandMask;
        if (op != GrantTableOp.CacheFlush && (cmd & ~GrantTableOp.CommandMask) != 0) return -XenErrno.EINVAL;

        switch ((int)op)
        {
            case GrantTableOp.MapGrantRef:
                return Batch(in ctx, uop, count, GnttabMapGrantRef.Size, BatchOp.Map);
            case GrantTableOp.UnmapGrantRef:
            case GrantTableOp.UnmapAndReplace:
                return Batch(in ctx, uop, count, GnttabUnmapGrantRef.Size, BatchOp.Unmap);
            case GrantTableOp.SetupTable:
                return count != 1 ? -XenErrno.EINVAL : SetupTable(in ctx, uop);
            case GrantTableOp.Copy:
                return Batch(in ctx, uop, count, ctx.Is64 ? GnttabCopy.Size64 : GnttabCopy.Size32, BatchOp.Copy);
            case GrantTableOp.QuerySize:
                return count != 1 ? -XenErrno.EINVAL : QuerySize(in ctx, uop);
            case GrantTableOp.SetVersion:
                return SetVersion(in ctx, uop);
            case GrantTableOp.GetStatusFrames:
                return count != 1 ? -XenErrno.EINVAL : GetStatusFrames(in ctx, uop);
            case GrantTableOp.GetVersion:
                return GetVersion(in ctx, uop);
            case GrantTableOp.SwapGrantRef:
                return Batch(in ctx, uop, count, GnttabSwapGrantRef.Size, BatchOp.Swap);
            case GrantTableOp.Transfer:
                return -XenErrno.EOPNOTSUPP;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    private enum BatchOp { Map, Unmap, Copy, Swap }

    /// <summary>
    /// Runs one operation per structure in turn. Each structure must lie wholly in guest RAM
    /// (else -EFAULT, which stops the batch); the operation's status write cannot then fail.
    /// </summary>
    private static long Batch(in HypercallContext ctx, ulong uop, uint count, int size, BatchOp kind)
    {
        if (count > MaxOpsPerCall) return -XenErrno.EINVAL;
        if (count != 0 && uop > ulong.MaxValue - (ulong)count * (ulong)size) return -XenErrno.EFAULT;
        for (uint i = 0; i < count; i++)
        {
            ulong a = uop + (ulong)i * (ulong)size;
            if (!ctx.Memory.Contains(a, (ulong)size)) return -XenErrno.EFAULT;
            bool ok = kind switch
            {
                BatchOp.Map => MapGrantRef(in ctx, a),
                BatchOp.Unmap => UnmapGrantRef(in ctx, a),
                BatchOp.Copy => Copy(in ctx, a),
                _ => SwapGrantRef(in ctx, a),
            };
            if (!ok) return -XenErrno.EFAULT;
        }
        return 0;
    }

    /// <summary>DOMID_SELF or the caller's id → the caller; another existing domain → null and permission denied.</summary>
    private static short ResolveAny(in HypercallContext ctx, ushort dom, out Domain? domain)
    {
        domain = null;
        if (ctx.IsSelf(dom))
        {
            domain = ctx.Domain;
            return GrantStatus.Okay;
        }
        return ctx.Domain.Hypervisor.Exists(dom) ? GrantStatus.PermissionDenied : GrantStatus.BadDomain;
    }

    // --- map / unmap --------------------------------------------------------------------

    private static bool MapGrantRef(in HypercallContext ctx, ulong a)
    {
        var m = ctx.Memory;
        m.TryRead(a + GnttabMapGrantRef.Flags, out uint flags);
        m.TryRead(a + GnttabMapGrantRef.Ref, out uint gref);
        m.TryRead(a + GnttabMapGrantRef.Dom, out ushort dom);

        short status;
        if ((flags & (GrantMapFlags.DeviceMap | GrantMapFlags.HostMap)) == 0)
            status = GrantStatus.BadGntref;
        else if ((flags & (GrantMapFlags.DeviceMap | GrantMapFlags.ApplicationMap | GrantMapFlags.ContainsPte)) != 0)
            status = GrantStatus.GeneralError; // no device or PTE mappings for HVM guests
        else if (ctx.Domain.Hypervisor.Find(dom) is not { } granter)
            status = GrantStatus.BadDomain; // by id, as Xen: DOMID_SELF is not a domain here
        else
        {
            status = granter.Grants.ValidateGuestMap(gref, (ushort)ctx.Domain.Id, (flags & GrantMapFlags.ReadOnly) != 0);
            if (status == GrantStatus.Okay) status = GrantStatus.GeneralError; // cannot remap guest-physical memory
        }
        return m.TryWrite(a + GnttabMapGrantRef.Status, status);
    }

    private static bool UnmapGrantRef(in HypercallContext ctx, ulong a) =>
        ctx.Memory.TryWrite(a + GnttabUnmapGrantRef.Status, GrantStatus.BadHandle);

    // --- table set-up and queries -------------------------------------------------------

    private static long SetupTable(in HypercallContext ctx, ulong uop)
    {
        var m = ctx.Memory;
        if (!m.Contains(uop, (ulong)(ctx.Is64 ? GnttabSetupTable.Size64 : GnttabSetupTable.Size32))) return -XenErrno.EFAULT;
        m.TryRead(uop + GnttabSetupTable.Dom, out ushort dom);
        m.TryRead(uop + GnttabSetupTable.NrFrames, out uint nrFrames);
        ctx.TryReadLong(uop + (ulong)(ctx.Is64 ? GnttabSetupTable.FrameList64 : GnttabSetupTable.FrameList32), out ulong list);

        short status = ResolveAny(in ctx, dom, out var d);
        if (d is not null)
        {
            var table = d.Grants;
            status = table.EnsureFrames(nrFrames);
            // nr_frames <= MaxFrames here: the loop is bounded.
            for (uint i = 0; status == GrantStatus.Okay && i < nrFrames; i++)
            {
                ulong gfn = table.SharedFrameGfn((int)i);
                bool written;
                if (ctx.Is64)
                    written = list <= ulong.MaxValue - 8UL * i && m.TryWrite(list + 8UL * i, gfn);
                else if (gfn > uint.MaxValue)
                {
                    status = GrantStatus.AddressTooBig; // Xen's compat layer: INVALID_GFN does not fit a 32-bit xen_pfn_t
                    break;
                }
                else
                    written = m.TryWrite(list + 4UL * i, (uint)gfn);
                if (!written) status = GrantStatus.BadVirtAddr;
            }
        }
        return m.TryWrite(uop + GnttabSetupTable.Status, status) ? 0 : -XenErrno.EFAULT;
    }

    private static long QuerySize(in HypercallContext ctx, ulong uop)
    {
        var m = ctx.Memory;
        if (!m.Contains(uop, GnttabQuerySize.Size)) return -XenErrno.EFAULT;
        m.TryRead(uop + GnttabQuerySize.Dom, out ushort dom);
        short status = ResolveAny(in ctx, dom, out var d);
        if (d is not null)
        {
            m.TryWrite(uop + GnttabQuerySize.NrFrames, (uint)d.Grants.FrameCount);
            m.TryWrite(uop + GnttabQuerySize.MaxNrFrames, (uint)d.Grants.MaxFrames);
        }
        return m.TryWrite(uop + GnttabQuerySize.Status, status) ? 0 : -XenErrno.EFAULT;
    }

    private static long SetVersion(in HypercallContext ctx, ulong uop)
    {
        var m = ctx.Memory;
        if (!m.TryRead(uop + GnttabSetVersion.Version, out uint version)) return -XenErrno.EFAULT;
        var table = ctx.Domain.Grants;
        long rc = table.SetVersion(version);
        // Xen writes the version in effect back, whatever the outcome.
        return m.TryWrite(uop + GnttabSetVersion.Version, (uint)table.Version) ? rc : -XenErrno.EFAULT;
    }

    private static long GetVersion(in HypercallContext ctx, ulong uop)
    {
        var m = ctx.Memory;
        if (!m.Contains(uop, GnttabGetVersion.Size)) return -XenErrno.EFAULT;
        m.TryRead(uop + GnttabGetVersion.Dom, out ushort dom);
        short status = ResolveAny(in ctx, dom, out var d);
        if (d is null) return status == GrantStatus.BadDomain ? -XenErrno.ESRCH : -XenErrno.EPERM;
        return m.TryWrite(uop + GnttabGetVersion.Version, (uint)d.Grants.Version) ? 0 : -XenErrno.EFAULT;
    }

    private static long GetStatusFrames(in HypercallContext ctx, ulong uop)
    {
        var m = ctx.Memory;
        if (!m.Contains(uop, (ulong)(ctx.Is64 ? GnttabGetStatusFrames.Size64 : GnttabGetStatusFrames.Size32))) return -XenErrno.EFAULT;
        m.TryRead(uop + GnttabGetStatusFrames.NrFrames, out uint nrFrames);
        m.TryRead(uop + GnttabGetStatusFrames.Dom, out ushort dom);
        ctx.TryReadLong(uop + GnttabGetStatusFrames.FrameList, out ulong list);

        short status = ResolveAny(in ctx, dom, out var d);
        if (d is not null)
        {
            var table = d.Grants;
            // In v1 there are no status frames: any nr_frames > 0 is GNTST_general_error, as on Xen.
            if (nrFrames > (uint)table.StatusFrameCount)
                status = GrantStatus.GeneralError;
            for (uint i = 0; status == GrantStatus.Okay && i < nrFrames; i++)
            {
                if (list > ulong.MaxValue - 8UL * i || !m.TryWrite(list + 8UL * i, table.StatusFrameGfn((int)i)))
                    status = GrantStatus.BadVirtAddr;
            }
        }
        return m.TryWrite(uop + GnttabGetStatusFrames.Status, status) ? 0 : -XenErrno.EFAULT;
    }

    // --- copy and swap ------------------------------------------------------------------

    private static bool Copy(in HypercallContext ctx, ulong a)
    {
        var m = ctx.Memory;
        GrantCopyOp op;
        int statusOffset;
        if (ctx.Is64)
        {
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrU, out ulong su);
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrDomId64, out ushort sd);
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrOffset64, out ushort so);
            m.TryRead(a + GnttabCopy.Dest64 + GnttabCopy.PtrU, out ulong du);
            m.TryRead(a + GnttabCopy.Dest64 + GnttabCopy.PtrDomId64, out ushort dd);
            m.TryRead(a + GnttabCopy.Dest64 + GnttabCopy.PtrOffset64, out ushort dof);
            m.TryRead(a + GnttabCopy.Len64, out ushort len);
            m.TryRead(a + GnttabCopy.Flags64, out ushort flags);
            op = new GrantCopyOp(su, sd, so, du, dd, dof, len, flags);
            statusOffset = GnttabCopy.Status64;
        }
        else
        {
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrU, out uint su);
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrDomId32, out ushort sd);
            m.TryRead(a + GnttabCopy.Source + GnttabCopy.PtrOffset32, out ushort so);
            m.TryRead(a + GnttabCopy.Dest32 + GnttabCopy.PtrU, out uint du);
            m.TryRead(a + GnttabCopy.Dest32 + GnttabCopy.PtrDomId32, out ushort dd);
            m.TryRead(a + GnttabCopy.Dest32 + GnttabCopy.PtrOffset32, out ushort dof);
            m.TryRead(a + GnttabCopy.Len32, out ushort len);
            m.TryRead(a + GnttabCopy.Flags32, out ushort flags);
            op = new GrantCopyOp(su, sd, so, du, dd, dof, len, flags);
            statusOffset = GnttabCopy.Status32;
        }
        short status = GrantCopy.Execute(ctx.Domain, in op);
        return m.TryWrite(a + (ulong)statusOffset, status);
    }

    private static bool SwapGrantRef(in HypercallContext ctx, ulong a)
    {
        var m = ctx.Memory;
        m.TryRead(a + GnttabSwapGrantRef.RefA, out uint refA);
        m.TryRead(a + GnttabSwapGrantRef.RefB, out uint refB);
        return m.TryWrite(a + GnttabSwapGrantRef.Status, ctx.Domain.Grants.SwapEntries(refA, refB));
    }
}
