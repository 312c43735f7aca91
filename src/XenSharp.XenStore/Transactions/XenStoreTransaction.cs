using System.Collections.Immutable;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// An open transaction of one connection: a private view of the store that its operations read
/// and change, plus what is needed to decide at commit whether it may be applied.
/// </summary>
/// <remarks>
/// <para><b>View.</b> TRANSACTION_START takes a snapshot of the whole store (the store is an
/// immutable dictionary of immutable nodes, so this is one reference). Operations in the
/// transaction run on a private copy-on-write version of that snapshot: they see the store as it
/// was when the transaction started plus their own changes, and nothing of other connections'
/// later changes. Changes become visible to others only when the commit succeeds.</para>
/// <para><b>Conflict rule.</b> Every node the transaction touches — read, written, created,
/// removed, or merely looked up (a missing node, an ancestor consulted for permissions or for
/// creating parents, every node of a removed subtree) — is recorded as <i>accessed</i>. Every change
/// to the live store replaces the changed node object (value, permissions, or child list: adding or
/// removing a child changes the parent). At commit, for every accessed path, the live node must
/// still be the very object the snapshot had (or still be absent if it was absent). If any differs,
/// something the transaction depended on changed since it started, and the commit fails with
/// EAGAIN; the transaction is gone either way and the client retries from scratch.
/// This is xenstored's generation-count rule, made strict for a snapshot view: xenstored compares
/// with the state at first access, this compares with the state at transaction start, because
/// that is the state the transaction actually saw.</para>
/// <para><b>Apply.</b> If nothing conflicts, every node the transaction changed is copied into the
/// live store (or removed from it) with a fresh generation. This is consistent because every node
/// whose existence or child list the transaction changed was itself accessed and therefore
/// verified unchanged. Watch events queued during the transaction fire after the apply, once per
/// path (an Exact event is widened to Subtree if both were queued), in the order first queued.</para>
/// <para><b>Quotas.</b> The "transaction-nodes" quota limits the number of distinct accessed nodes
/// (ENOSPC). At commit an unprivileged committer gets ENOSPC when a domain would end up owning
/// "nodes" or more nodes.</para>
/// </remarks>
internal sealed class XenStoreTransaction : INodeView
{
    private readonly NodeStore _store;
    private readonly ImmutableDictionary<string, XenStoreNode> _snapshot;
    private ImmutableDictionary<string, XenStoreNode> _view;
    private readonly HashSet<string> _accessed = new(StringComparer.Ordinal);
    private readonly List<string> _modified = [];
    private readonly HashSet<string> _modifiedSet = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _nodeDelta = [];
    private readonly List<PendingEvent> _events = [];

    public XenStoreTransaction(uint id, NodeStore store)
    {
        Id = id;
        _store = store;
        _snapshot = store.Snapshot;
        _view = _snapshot;
    }

    /// <summary>The id the client uses in the header's tx_id.</summary>
    public uint Id { get; }

    /// <summary>The "transaction-nodes" quota for the current request (0: unlimited).</summary>
    public int AccessLimit { get; set; }

    /// <summary>Number of distinct nodes accessed so far.</summary>
    public int AccessedCount => _accessed.Count;

    public XenStoreNode? Get(string path)
    {
        if (!_accessed.Contains(path))
        {
            if (AccessLimit > 0 && _accessed.Count + 1 >= AccessLimit) throw new XenStoreException(XsErrors.ENOSPC);
            _accessed.Add(path);
        }
        return _view.GetValueOrDefault(path);
    }

    public void Set(string path, XenStoreNode? node)
    {
        _accessed.Add(path);
        if (_modifiedSet.Add(path)) _modified.Add(path);
        if (_view.TryGetValue(path, out var old)) Delta(old.Owner, -1);
        if (node is null)
        {
            _view = _view.Remove(path);
        }
        else
        {
            _view = _view.SetItem(path, node);
            Delta(node.Owner, +1);
        }
    }

    public ulong NextGeneration() => _store.NextGeneration();

    public int NodeCount(int domid) => _store.NodeCount(domid) + _nodeDelta.GetValueOrDefault(domid);

    private void Delta(int domid, int d) => _nodeDelta[domid] = _nodeDelta.GetValueOrDefault(domid) + d;

    /// <summary>Queues events of an operation for the commit.</summary>
    public void Queue(IEnumerable<PendingEvent> events) => _events.AddRange(events);

    /// <summary>
    /// Checks for conflicts and applies the changes to the live store (see the class remarks).
    /// Returns the events to fire; throws EAGAIN on a conflict, ENOSPC on a node quota.
    /// </summary>
    public List<PendingEvent> Commit(in CallerContext committer, Func<int, XenStoreQuotas> quotasOf)
    {
        foreach (string path in _accessed)
            if (!ReferenceEquals(_store.Get(path), _snapshot.GetValueOrDefault(path)))
                throw new XenStoreException(XsErrors.EAGAIN);

        if (!committer.Privileged)
        {
            foreach (var (domid, delta) in _nodeDelta)
            {
                if (delta <= 0 || domid == CallerContext.PrivilegedDomainId) continue;
                int quota = quotasOf(domid).Nodes;
                if (quota > 0 && _store.NodeCount(domid) + delta >= quota) throw new XenStoreException(XsErrors.ENOSPC);
            }
        }

        foreach (string path in _modified)
        {
            var node = _view.GetValueOrDefault(path);
            _store.Set(path, node?.WithGeneration(_store.NextGeneration()));
        }

        // One event per path, first-queued order; Subtree wins over Exact. Listeners that could
        // read the node when the transaction started also hear of it.
        var merged = new List<PendingEvent>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var ev in _events)
        {
            var sets = new List<ImmutableArray<XenStorePermission>>(ev.PermissionSets);
            if (_snapshot.TryGetValue(ev.Path, out var original)) sets.Add(original.Permissions);
            if (index.TryGetValue(ev.Path, out int at))
            {
                var prev = merged[at];
                var match = prev.Match == WatchMatch.Subtree || ev.Match == WatchMatch.Subtree ? WatchMatch.Subtree : prev.Match;
                merged[at] = new PendingEvent(ev.Path, match, [.. prev.PermissionSets, .. sets]);
            }
            else
            {
                index[ev.Path] = merged.Count;
                merged.Add(new PendingEvent(ev.Path, ev.Match, sets));
            }
        }
        return merged;
    }
}
