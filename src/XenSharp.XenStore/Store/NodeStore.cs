using System.Collections.Immutable;

namespace XenSharp.XenStore;

/// <summary>
/// The live store: an immutable dictionary from path to node (so that a snapshot is just a
/// reference), the global generation counter, and the number of nodes each domain owns.
/// </summary>
internal sealed class NodeStore : INodeView
{
    private ImmutableDictionary<string, XenStoreNode> _nodes =
        ImmutableDictionary.Create<string, XenStoreNode>(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _ownerCounts = [];

    /// <summary>The last generation number handed out.</summary>
    public ulong Generation { get; private set; }

    /// <summary>The current state, as an immutable snapshot.</summary>
    public ImmutableDictionary<string, XenStoreNode> Snapshot => _nodes;

    public XenStoreNode? Get(string path) => _nodes.GetValueOrDefault(path);

    public void Set(string path, XenStoreNode? node)
    {
        if (_nodes.TryGetValue(path, out var old)) Count(old.Owner, -1);
        if (node is null)
        {
            _nodes = _nodes.Remove(path);
        }
        else
        {
            _nodes = _nodes.SetItem(path, node);
            Count(node.Owner, +1);
        }
    }

    public ulong NextGeneration() => ++Generation;

    public int NodeCount(int domid) => _ownerCounts.GetValueOrDefault(domid);

    /// <summary>The node counts per owning domain.</summary>
    public IReadOnlyDictionary<int, int> OwnerCounts => _ownerCounts;

    private void Count(int domid, int delta)
    {
        int n = _ownerCounts.GetValueOrDefault(domid) + delta;
        if (n == 0) _ownerCounts.Remove(domid);
        else _ownerCounts[domid] = n;
    }

    /// <summary>
    /// Consistency check of the tree: the root and the special nodes exist; every node has a
    /// non-empty permission list; every non-root, non-special node's parent exists and lists it
    /// exactly once; every listed child exists; generations are not from the future; the owner
    /// counts match a recount. Returns the problems found (empty when consistent).
    /// </summary>
    public List<string> CheckInvariants()
    {
        var problems = new List<string>();
        if (!_nodes.ContainsKey(XenStorePath.Root)) problems.Add("root node missing");
        foreach (var special in new[] { XenStorePath.IntroduceDomain, XenStorePath.ReleaseDomain })
            if (!_nodes.ContainsKey(special)) problems.Add($"special node {special} missing");

        var recount = new Dictionary<int, int>();
        foreach (var (path, node) in _nodes)
        {
            if (node.Path != path) problems.Add($"node {path} carries path {node.Path}");
            if (node.Permissions.IsDefaultOrEmpty) problems.Add($"node {path} has no permissions");
            else recount[node.Owner] = recount.GetValueOrDefault(node.Owner) + 1;
            if (node.Generation > Generation) problems.Add($"node {path} has a future generation");

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var child in node.Children)
            {
                if (!seen.Add(child)) problems.Add($"node {path} lists child {child} twice");
                if (!_nodes.ContainsKey(XenStorePath.Child(path, child))) problems.Add($"child {child} of {path} missing");
            }

            if (path == XenStorePath.Root || XenStorePath.IsSpecial(path)) continue;
            if (!_nodes.TryGetValue(XenStorePath.Parent(path), out var parent))
                problems.Add($"parent of {path} missing");
            else if (!parent.Children.Contains(XenStorePath.BaseName(path), StringComparer.Ordinal))
                problems.Add($"{path} not listed by its parent");
        }

        foreach (var (domid, n) in recount)
            if (NodeCount(domid) != n) problems.Add($"domain {domid} owns {n} nodes, accounted {NodeCount(domid)}");
        foreach (var (domid, n) in _ownerCounts)
            if (!recount.ContainsKey(domid)) problems.Add($"domain {domid} accounted {n} nodes but owns none");
        return problems;
    }
}
