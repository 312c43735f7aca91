using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// One GNTTABOP_copy operation, as read (once) from the guest: each side is a grant ref of
/// domain <c>DomId</c>'s table (GNTCOPY_source_gref / GNTCOPY_dest_gref) or a gmfn of the
/// caller's own memory.
/// </summary>
internal readonly record struct GrantCopyOp(
    ulong SourceU, ushort SourceDomId, ushort SourceOffset,
    ulong DestU, ushort DestDomId, ushort DestOffset,
    ushort Length, ushort Flags);

/// <summary>
/// GNTTABOP_copy, one operation at a time, in Xen's order (gnttab_copy_one):
///  1. len 0: GNTST_okay, nothing checked.
///  2. Each side's domain, source first: a gmfn side must say DOMID_SELF (Xen accepts only
///     that literal, not the caller's numeric id) else GNTST_permission_denied; a grant side's
///     domain must exist (DOMID_SELF is the caller) else GNTST_bad_domain. The domain's memory
///     is entered for the whole operation; a dying domain is GNTST_bad_domain.
///  3. Claim the source (read pin), then the destination (write pin): see GrantTable for the
///     grant checks (GNTST_bad_gntref, GNTST_general_error for not permitted / other grantee /
///     read-only destination, GNTST_bad_page for a frame outside RAM). A gmfn side must be the
///     caller's RAM, else GNTST_bad_page; its window is the whole page.
///  4. offset+len beyond the page on either side: GNTST_bad_copy_arg; outside a v2 sub-page
///     window: GNTST_general_error.
///  5. Copy (memmove semantics: the two ranges may overlap), then release the pins: the grants
///     carry GTF_reading / GTF_writing exactly while the copy is in flight, as on Xen.
/// No allocation, no logging, no loop over guest input.
/// </summary>
internal static class GrantCopy
{
    public static short Execute(Domain caller, in GrantCopyOp op)
    {
        if (op.Length == 0) return GrantStatus.Okay;
        bool srcIsRef = (op.Flags & GrantCopyFlags.SourceGref) != 0;
        bool dstIsRef = (op.Flags & GrantCopyFlags.DestGref) != 0;

        short rc = Resolve(caller, op.SourceDomId, srcIsRef, out var src);
        if (rc != GrantStatus.Okay) return rc;
        rc = Resolve(caller, op.DestDomId, dstIsRef, out var dst);
        if (rc != GrantStatus.Okay) return rc;

        if (!src!.TryEnterMemory()) return GrantStatus.BadDomain;
        try
        {
            if (!dst!.TryEnterMemory()) return GrantStatus.BadDomain;
            try
            {
                return CopyEntered(caller, in op, src, srcIsRef, dst, dstIsRef);
            }
            finally
            {
                dst.ExitMemory();
            }
        }
        finally
        {
            src.ExitMemory();
        }
    }

    private static short Resolve(Domain caller, ushort domid, bool isRef, out Domain? domain)
    {
        domain = null;
        if (!isRef && domid != DomId.Self) return GrantStatus.PermissionDenied;
        domain = domid == DomId.Self ? caller : caller.Hypervisor.Find(domid);
        return domain is null ? GrantStatus.BadDomain : GrantStatus.Okay;
    }

    private static short CopyEntered(Domain caller, in GrantCopyOp op, Domain src, bool srcIsRef, Domain dst, bool dstIsRef)
    {
        ushort self = (ushort)caller.Id;
        ulong srcGfn, dstGfn;
        ushort srcStart = 0, srcLength = GrantTableLayout.PageSize, dstStart = 0, dstLength = GrantTableLayout.PageSize;
        short rc;

        if (srcIsRef)
        {
            rc = src.Grants.AcquireForCopy((uint)op.SourceU, self, readOnly: true, out srcGfn, out srcStart, out srcLength);
            if (rc != GrantStatus.Okay) return rc;
        }
        else
        {
            if (!IsRam(src.Memory, op.SourceU)) return GrantStatus.BadPage;
            srcGfn = op.SourceU;
        }
        try
        {
            if (dstIsRef)
            {
                rc = dst.Grants.AcquireForCopy((uint)op.DestU, self, readOnly: false, out dstGfn, out dstStart, out dstLength);
                if (rc != GrantStatus.Okay) return rc;
            }
            else
            {
                if (!IsRam(dst.Memory, op.DestU)) return GrantStatus.BadPage;
                dstGfn = op.DestU;
            }
            try
            {
                int len = op.Length;
                if (op.SourceOffset + len > GrantTableLayout.PageSize || op.DestOffset + len > GrantTableLayout.PageSize)
                    return GrantStatus.BadCopyArg;
                if (op.SourceOffset < srcStart || op.SourceOffset + len > srcStart + srcLength) return GrantStatus.GeneralError;
                if (op.DestOffset < dstStart || op.DestOffset + len > dstStart + dstLength) return GrantStatus.GeneralError;
                if (!src.Memory.TryGetSpan((srcGfn << 12) + op.SourceOffset, len, out var from) ||
                    !dst.Memory.TryGetSpan((dstGfn << 12) + op.DestOffset, len, out var to))
                    return GrantStatus.BadPage; // cannot happen: both frames were checked to be RAM
                from.CopyTo(to);
                return GrantStatus.Okay;
            }
            finally
            {
                if (dstIsRef) dst.Grants.ReleaseForCopy((uint)op.DestU, readOnly: false);
            }
        }
        finally
        {
            if (srcIsRef) src.Grants.ReleaseForCopy((uint)op.SourceU, readOnly: true);
        }
    }

    private static bool IsRam(GuestMemory memory, ulong gfn) =>
        gfn <= ulong.MaxValue >> 12 && memory.Contains(gfn << 12, GuestMemory.PageSize);
}
