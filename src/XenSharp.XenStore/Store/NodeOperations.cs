using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// The node operations (READ, DIRECTORY, DIRECTORY_PART, GET_PERMS, WRITE, MKDIR, RM, SET_PERMS)
/// for one caller on one view (the live store or a transaction). Failures throw
/// <see cref="XenStoreException"/>; each operation reads and validates everything before it changes
/// the view, so a failure changes nothing. Changes are reported as <see cref="PendingEvent"/>s in
/// <c>events</c> for the caller to fire (or, in a transaction, to queue until commit).
/// </summary>
internal sealed class NodeOperations(INodeView view, CallerContext caller, List<PendingEvent> events)
{
    private static readonly byte[] s_empty = [];

    /// <summary>The canonical form of a path argument, or EINVAL.</summary>
    public string Canonical(string? raw, bool allowSpecial) =>
        XenStorePath.Canonicalize(raw, caller.DomainId, allowSpecial, caller.Limit(caller.Quotas.PathMax))
        ?? throw new XenStoreException(XsErrors.EINVAL);

    public byte[] Read(string? raw) => Require(Canonical(raw, false), AccessRights.Read).Value;

    public byte[] Directory(string? raw) => Require(Canonical(raw, false), AccessRights.Read).ChildrenBytes();

    /// <summary>The child names of a node (toolstack helper for DIRECTORY).</summary>
    public ImmutableList<string> Children(string? raw) => Require(Canonical(raw, false), AccessRights.Read).Children;

    public ImmutableArray<XenStorePermission> GetPermissions(string? raw) =>
        Require(Canonical(raw, true), AccessRights.Read).Permissions;

    /// <summary>
    /// DIRECTORY_PART: the node's generation count as a decimal string, then as many whole child
    /// names (from byte offset <paramref name="offsetText"/> of the NUL-separated child list) as fit
    /// in a payload; an extra NUL marks that the list ends here. An offset at or past the end gives
    /// just the generation and the end mark. (xenstored's layout.)
    /// </summary>
    public byte[] DirectoryPart(string? raw, string offsetText)
    {
        var node = Require(Canonical(raw, false), AccessRights.Read);
        uint offset = unchecked((uint)CNumber.Atoi(offsetText));
        byte[] gen = Encoding.ASCII.GetBytes(node.Generation.ToString(CultureInfo.InvariantCulture));
        byte[] children = node.ChildrenBytes();
        int genLen = gen.Length + 1;

        if (offset >= (uint)children.Length)
        {
            var tail = new byte[genLen + 1];
            gen.CopyTo(tail, 0);
            return tail;
        }

        int off = (int)offset;
        int maxLen = XsWireLimits.PayloadMax - genLen - 1;
        int len = 0;
        while (true)
        {
            int nameLen = Array.IndexOf(children, (byte)0, off + len) - (off + len);
            if (len + nameLen >= maxLen) break;
            len += nameLen + 1;
            if (off + len == children.Length) break;
        }
        bool atEnd = off + len == children.Length;
        var result = new byte[genLen + len + (atEnd ? 1 : 0)];
        gen.CopyTo(result, 0);
        Array.Copy(children, off, result, genLen, len);
        return result;
    }

    /// <summary>WRITE: replace the value, or create the node (and missing parents).</summary>
    public void Write(string? raw, byte[] value)
    {
        string path = Canonical(raw, false);
        var node = TryLookup(path, AccessRights.Write, out string error);
        if (node is null)
        {
            if (error != XsErrors.ENOENT) throw new XenStoreException(error);
            Create(path, value);
            return;
        }
        var updated = node.WithValue(value, view.NextGeneration());
        CheckSize(updated);
        view.Set(path, updated);
        events.Add(new PendingEvent(path, WatchMatch.Subtree, [updated.Permissions]));
    }

    /// <summary>MKDIR: create the node with an empty value unless it exists (then nothing happens).</summary>
    public void Mkdir(string? raw)
    {
        string path = Canonical(raw, false);
        var node = TryLookup(path, AccessRights.Write, out string error);
        if (node is not null) return;
        if (error != XsErrors.ENOENT) throw new XenStoreException(error);
        Create(path, s_empty);
    }

    /// <summary>
    /// RM: remove the node and everything below it. A missing node is fine if its parent exists
    /// (ENOENT otherwise); the root cannot be removed (EINVAL).
    /// </summary>
    public void Remove(string? raw)
    {
        string path = Canonical(raw, false);
        var node = TryLookup(path, AccessRights.Write, out string error);
        if (node is null)
        {
            if (error == XsErrors.ENOENT && view.Get(XenStorePath.Parent(path)) is not null) return;
            throw new XenStoreException(error);
        }
        if (path == XenStorePath.Root) throw new XenStoreException(XsErrors.EINVAL);
        var parent = view.Get(XenStorePath.Parent(path)) ?? throw new XenStoreException(XsErrors.EINVAL);

        // Post-order walk (children before their parent, in child-list order), as xenstored
        // deletes and reports them.
        var order = new List<(XenStoreNode Node, ImmutableArray<XenStorePermission> ParentPerms)>();
        var stack = new Stack<(XenStoreNode Node, ImmutableArray<XenStorePermission> ParentPerms, int Next)>();
        stack.Push((node, parent.Permissions, 0));
        while (stack.Count > 0)
        {
            var (n, parentPerms, next) = stack.Pop();
            if (next < n.Children.Count)
            {
                stack.Push((n, parentPerms, next + 1));
                var child = view.Get(XenStorePath.Child(n.Path, n.Children[next]));
                if (child is not null) stack.Push((child, n.Permissions, 0));
                continue;
            }
            order.Add((n, parentPerms));
        }

        ulong gen = view.NextGeneration();
        foreach (var (n, parentPerms) in order)
        {
            view.Set(n.Path, null);
            var match = n.Path == path ? WatchMatch.Subtree : WatchMatch.Exact;
            events.Add(new PendingEvent(n.Path, match, [n.Permissions, parentPerms]));
        }
        view.Set(parent.Path, parent.WithChildRemoved(XenStorePath.BaseName(path), gen));
    }

    /// <summary>
    /// SET_PERMS: replace the permission list. Needs owner rights; only the control domain may
    /// name a different owner (EPERM otherwise); an owner that is no real domain is ENOENT.
    /// </summary>
    public void SetPermissions(string? raw, IReadOnlyList<string> permissionStrings)
    {
        if (permissionStrings.Count == 0) throw new XenStoreException(XsErrors.EINVAL);
        if (caller.Exceeds(caller.Quotas.NodePermissions, permissionStrings.Count))
            throw new XenStoreException(XsErrors.ENOSPC);
        var builder = ImmutableArray.CreateBuilder<XenStorePermission>(permissionStrings.Count);
        foreach (var s in permissionStrings)
        {
            if (!XenStorePermission.TryParse(s, out var p)) throw new XenStoreException(XsErrors.EINVAL);
            builder.Add(p);
        }
        var perms = builder.MoveToImmutable();
        if (!PermissionRules.CanOwn(perms[0].DomainId)) throw new XenStoreException(XsErrors.ENOENT);

        string path = Canonical(raw, true);
        var node = Require(path, AccessRights.Write | AccessRights.Owner);
        if (!caller.Privileged && perms[0].DomainId != node.Owner) throw new XenStoreException(XsErrors.EPERM);

        var updated = node.WithPermissions(perms, view.NextGeneration());
        CheckSize(updated);
        view.Set(path, updated);
        events.Add(new PendingEvent(path, WatchMatch.Subtree, [node.Permissions, updated.Permissions]));
    }

    // Creates path and its missing ancestors; the caller has write access to the nearest existing
    // ancestor (TryLookup said ENOENT, not EACCES). See PermissionRules for the inheritance rule.
    private void Create(string path, byte[] value)
    {
        var missing = new List<string>(); // deepest first
        string p = path;
        XenStoreNode? parent;
        while (true)
        {
            missing.Add(p);
            string up = XenStorePath.Parent(p);
            parent = view.Get(up);
            if (parent is not null) break;
            if (up == XenStorePath.Root) throw new XenStoreException(XsErrors.EIO);
            p = up;
        }

        if (caller.Exceeds(caller.Quotas.Nodes, (long)view.NodeCount(caller.DomainId) + missing.Count))
            throw new XenStoreException(XsErrors.ENOSPC);

        ulong gen = view.NextGeneration();
        var perms = PermissionRules.Inherit(caller, parent.Permissions);
        var newParent = parent.WithChildAdded(XenStorePath.BaseName(missing[^1]), gen);
        CheckSize(newParent);
        var created = new List<XenStoreNode>(missing.Count);
        for (int i = missing.Count - 1; i >= 0; i--)
        {
            var children = i > 0 ? ImmutableList.Create(XenStorePath.BaseName(missing[i - 1])) : ImmutableList<string>.Empty;
            var n = new XenStoreNode(missing[i], i == 0 ? value : s_empty, perms, gen, children);
            CheckSize(n);
            created.Add(n);
        }

        view.Set(newParent.Path, newParent);
        foreach (var n in created) view.Set(n.Path, n);
        events.Add(new PendingEvent(path, WatchMatch.Subtree, [perms]));
    }

    private void CheckSize(XenStoreNode node)
    {
        if (caller.Exceeds(caller.Quotas.NodeSize, node.AccountedSize)) throw new XenStoreException(XsErrors.ENOSPC);
    }

    private XenStoreNode Require(string path, AccessRights need) =>
        TryLookup(path, need, out string error) ?? throw new XenStoreException(error);

    // The node if the caller has all of `need` on it; otherwise null and the error to report,
    // hidden behind EACCES unless the nearest existing ancestor grants some of `need`
    // (see PermissionRules).
    private XenStoreNode? TryLookup(string path, AccessRights need, out string error)
    {
        var node = view.Get(path);
        if (node is not null && (PermissionRules.For(caller, node.Permissions) & need) == need)
        {
            error = "";
            return node;
        }
        error = node is null ? XsErrors.ENOENT : XsErrors.EACCES;
        var ancestor = NearestExistingAncestor(path);
        var rights = ancestor is null ? AccessRights.None : PermissionRules.For(caller, ancestor.Permissions);
        if ((rights & need) == 0) error = XsErrors.EACCES;
        return null;
    }

    private XenStoreNode? NearestExistingAncestor(string path)
    {
        string p = path;
        do
        {
            p = XenStorePath.Parent(p);
            var n = view.Get(p);
            if (n is not null) return n;
        } while (p != XenStorePath.Root);
        return null;
    }
}
