using System.Collections.Immutable;

namespace XenSharp.XenStore;

/// <summary>
/// How permission lists are evaluated and inherited.
/// </summary>
/// <remarks>
/// <para><b>Evaluation</b> (what domain D may do with a node):</para>
/// <list type="number">
/// <item>The control domain (0) may do everything.</item>
/// <item>If entry 0 (the owner) names D, or names the domain D acts for (SET_TARGET), or is
/// DOMID_ANY, D is an owner: read, write and change permissions.</item>
/// <item>Otherwise the first later entry naming D, its target, or DOMID_ANY gives D's access.</item>
/// <item>Otherwise entry 0's access letter is the default for everybody else.</item>
/// </list>
/// <para><b>Inheritance</b>: a node created implicitly or explicitly (WRITE, MKDIR) gets a copy of
/// its parent's list; when an unprivileged domain creates it, the owner entry's domain becomes
/// the creator (keeping the entry's access letter), so guests own what they create. Only the
/// control domain may give a node a different owner (SET_PERMS by anyone else keeping the owner).</para>
/// <para><b>Hiding</b>: a failed lookup must not reveal whether a node exists. When the node is
/// missing or not accessible, the nearest existing ancestor is asked: if the caller has none of the
/// wanted rights there, the answer is EACCES; otherwise the real error (ENOENT, or EACCES).</para>
/// </remarks>
internal static class PermissionRules
{
    /// <summary>The rights <paramref name="caller"/> has on a node with <paramref name="permissions"/>.</summary>
    public static AccessRights For(in CallerContext caller, ImmutableArray<XenStorePermission> permissions)
    {
        if (caller.Privileged || Names(caller, permissions[0].DomainId)) return AccessRights.All;
        for (int i = 1; i < permissions.Length; i++)
            if (Names(caller, permissions[i].DomainId)) return ToRights(permissions[i].Access);
        return ToRights(permissions[0].Access);
    }

    /// <summary>Whether an entry's domain applies to the caller.</summary>
    private static bool Names(in CallerContext caller, int domid) =>
        domid == caller.DomainId || domid == caller.TargetDomainId || domid == XenStorePermission.DomidAny;

    private static AccessRights ToRights(XenStoreAccess access) => (AccessRights)(int)(access & XenStoreAccess.Both);

    /// <summary>The permission list of a node created by <paramref name="caller"/> below a node with <paramref name="parent"/>.</summary>
    public static ImmutableArray<XenStorePermission> Inherit(in CallerContext caller, ImmutableArray<XenStorePermission> parent) =>
        caller.Privileged ? parent : parent.SetItem(0, parent[0] with { DomainId = caller.DomainId });

    /// <summary>
    /// Whether a domain id can own a node: a real domain (below DOMID_FIRST_RESERVED) or DOMID_ANY.
    /// xenstored rejects lists whose owner is not an existing domain with ENOENT.
    /// </summary>
    public static bool CanOwn(int domid) =>
        (domid >= 0 && domid < XenStorePermission.DomidFirstReserved) || domid == XenStorePermission.DomidAny;
}
