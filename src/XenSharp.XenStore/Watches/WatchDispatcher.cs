using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// Delivers events to the watches of all connections.
/// </summary>
/// <remarks>
/// Rules (as xenstored's <c>fire_watches</c>):
/// <list type="bullet">
/// <item>Connections are visited in the order they connected, each one's watches in the order they
/// were set; every matching watch gets one WATCH_EVENT (req_id 0, tx_id 0) with the event path —
/// made relative again for watches set with a relative path — and its token.</item>
/// <item>A connection hears of an event only if its domain may read under one of the event's
/// permission lists: the node's old list (a watcher losing access still learns of the change), its
/// new list, or its parent's (the parent as it is when the event fires, or, for the children of a
/// removed subtree, as it was). The control domain hears everything.</item>
/// <item>Watches set in the host (<see cref="Xenstored.WatchFromHost"/>) hear every event on
/// their path or below, after the connections' watches.</item>
/// <item>Events whose payload would exceed 4096 bytes are dropped, as xenstored does.</item>
/// </list>
/// A write fires one Subtree event for the written path; RM fires an Exact event for each removed
/// descendant (children first) and a Subtree event for the removed node itself.
/// </remarks>
internal static class WatchDispatcher
{
    public static void Fire(Xenstored store, PendingEvent ev)
    {
        var parent = store.Nodes.Get(XenStorePath.Parent(ev.Path));
        foreach (var conn in store.ConnectionsSnapshot())
        {
            if (conn.Watches.Count == 0) continue;
            if (!Permitted(store.CallerFor(conn.DomainId), ev, parent)) continue;
            foreach (var watch in conn.Watches.ToArray())
                if (watch.Matches(ev.Path, ev.Match))
                    conn.SendEvent(watch.Report(ev.Path), watch.Token);
        }
        foreach (var host in store.HostWatchesSnapshot())
            host.Fire(ev.Path, ev.Match);
    }

    private static bool Permitted(in CallerContext caller, PendingEvent ev, XenStoreNode? parent)
    {
        if (caller.Privileged) return true;
        foreach (var perms in ev.PermissionSets)
            if ((PermissionRules.For(caller, perms) & AccessRights.Read) != 0) return true;
        return parent is not null && (PermissionRules.For(caller, parent.Permissions) & AccessRights.Read) != 0;
    }

    /// <summary>Encodes a WATCH_EVENT message, or null when it would be too long.</summary>
    public static byte[]? Encode(string path, string token)
    {
        var payload = XsPayload.FromStrings(path, token);
        if (payload.Length > XsWireLimits.PayloadMax) return null;
        return XsMessage.Encode(XsMessageType.WatchEvent, 0, 0, payload);
    }
}
