using System.Collections.Immutable;
using System.Globalization;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// Domain introduction, release, shutdown notification and targets, shared by the wire requests
/// and the toolstack helpers. Callers hold the store's lock.
/// </summary>
/// <remarks>
/// Special events: introducing domain N fires "@introduceDomain" (to watches on exactly that path
/// without a depth) and "@introduceDomain/N" (to watches on exactly that path, or on
/// "@introduceDomain" with a depth); releasing fires the same pair for "@releaseDomain"; a shutdown
/// fires "@releaseDomain/N" then "@releaseDomain". Who hears them is decided by the special node's
/// permission list (domain 0 only, plus DOMID_ANY read for @releaseDomain, unless SET_PERMS
/// changed it).
/// </remarks>
internal static class DomainLifecycle
{
    /// <summary>
    /// INTRODUCE: records the domain as introduced (firing @introduceDomain the first time). A
    /// repeated INTRODUCE (e.g. after resume) re-binds: the host hook is asked again and the
    /// domain's connections lose their watches and transactions, as xenstored resets the ring.
    /// </summary>
    public static void Introduce(Xenstored store, int domid, ulong ringFrame, uint port, bool fromWire)
    {
        var domain = store.GetOrCreateDomain(domid);
        if (!fromWire && domain.Introduced) return;
        if (fromWire && store.IntroduceHook is { } hook && !hook(domid, ringFrame, port))
            throw new XenStoreException(XsErrors.EINVAL);

        domain.RingFrame = ringFrame;
        domain.EventChannel = port;
        if (domain.Introduced)
        {
            if (domid != CallerContext.PrivilegedDomainId)
                foreach (var conn in store.ConnectionsOf(domid)) conn.DropWatchesAndTransactions();
            return;
        }
        domain.Introduced = true;
        domain.ShutdownReported = false;
        if (domid != CallerContext.PrivilegedDomainId)
        {
            FireSpecial(store, XenStorePath.IntroduceDomain, domid, WatchMatch.NoDepth);
            FireSpecial(store, XenStorePath.IntroduceDomain, domid, WatchMatch.Depth);
        }
    }

    /// <summary>
    /// RELEASE: the domain's connections lose their watches (so they hear nothing of what follows)
    /// and transactions, its nodes are removed (or given to domain 0 with
    /// <see cref="Xenstored.KeepOrphans"/>), entries naming it are dropped from other nodes'
    /// permission lists (so a later domain reusing the id inherits nothing), its record (target,
    /// features, quotas) is forgotten, @releaseDomain fires, and the host's release hook is called.
    /// </summary>
    public static void Release(Xenstored store, int domid)
    {
        if (domid == CallerContext.PrivilegedDomainId) throw new XenStoreException(XsErrors.EINVAL);
        var domain = store.FindDomain(domid);
        if (domain is null || !domain.Introduced) throw new XenStoreException(XsErrors.ENOENT);

        foreach (var conn in store.ConnectionsOf(domid)) conn.DropWatchesAndTransactions();
        RemoveOrphans(store, domid);
        store.RemoveDomain(domid);
        FireSpecial(store, XenStorePath.ReleaseDomain, domid, WatchMatch.NoDepth);
        FireSpecial(store, XenStorePath.ReleaseDomain, domid, WatchMatch.Depth);
        store.ReleaseHook?.Invoke(domid);
    }

    /// <summary>A domain shut down: fire @releaseDomain once until RESUME.</summary>
    public static void Shutdown(Xenstored store, int domid)
    {
        var domain = store.FindDomain(domid);
        if (domain is null || !domain.Introduced || domain.ShutdownReported) return;
        domain.ShutdownReported = true;
        FireSpecial(store, XenStorePath.ReleaseDomain, domid, WatchMatch.Depth);
        FireSpecial(store, XenStorePath.ReleaseDomain, domid, WatchMatch.NoDepth);
    }

    /// <summary>RESUME: re-arm the shutdown notification. EINVAL for domain 0, ENOENT when not introduced.</summary>
    public static void Resume(Xenstored store, int domid)
    {
        if (domid == CallerContext.PrivilegedDomainId) throw new XenStoreException(XsErrors.EINVAL);
        var domain = store.FindDomain(domid);
        if (domain is null || !domain.Introduced) throw new XenStoreException(XsErrors.ENOENT);
        domain.ShutdownReported = false;
    }

    /// <summary>SET_TARGET: both domains must be introduced (ENOENT otherwise).</summary>
    public static void SetTarget(Xenstored store, int domid, int targetDomid)
    {
        var domain = store.FindDomain(domid);
        var target = store.FindDomain(targetDomid);
        if (domain is null || !domain.Introduced || target is null || !target.Introduced)
            throw new XenStoreException(XsErrors.ENOENT);
        domain.TargetDomainId = targetDomid;
    }

    private static void FireSpecial(Xenstored store, string name, int domid, WatchMatch match)
    {
        var node = store.Nodes.Get(name);
        if (node is null) return;
        string path = match == WatchMatch.Depth ? name + "/" + domid.ToString(CultureInfo.InvariantCulture) : name;
        WatchDispatcher.Fire(store, new PendingEvent(path, match, [node.Permissions]));
    }

    // Walks the live tree (root, then the special nodes): a node owned by the released domain is
    // removed with its subtree (watch events fire as for RM by domain 0), or with KeepOrphans given
    // to domain 0; entries naming the domain are stripped from the other nodes' lists silently.
    private static void RemoveOrphans(Xenstored store, int domid)
    {
        var orphans = new List<string>();
        var stack = new Stack<string>();
        stack.Push(XenStorePath.ReleaseDomain);
        stack.Push(XenStorePath.IntroduceDomain);
        stack.Push(XenStorePath.Root);
        while (stack.Count > 0)
        {
            string path = stack.Pop();
            var node = store.Nodes.Get(path);
            if (node is null) continue;

            var perms = node.Permissions;
            bool removable = path != XenStorePath.Root && !XenStorePath.IsSpecial(path);
            if (perms[0].DomainId == domid)
            {
                if (removable && !store.KeepOrphans)
                {
                    orphans.Add(path);
                    continue;
                }
                perms = perms.SetItem(0, perms[0] with { DomainId = CallerContext.PrivilegedDomainId });
            }
            var kept = perms.Where((p, i) => i == 0 || p.DomainId != domid).ToImmutableArray();
            if (kept.Length != node.Permissions.Length || kept[0] != node.Permissions[0])
                store.Nodes.Set(path, node.WithPermissions(kept, store.Nodes.NextGeneration()));

            for (int i = node.Children.Count - 1; i >= 0; i--)
                stack.Push(XenStorePath.Child(path, node.Children[i]));
        }

        var events = new List<PendingEvent>();
        var ops = new NodeOperations(store.Nodes, store.CallerFor(CallerContext.PrivilegedDomainId), events);
        foreach (string path in orphans) ops.Remove(path);
        store.Fire(events);
    }
}
