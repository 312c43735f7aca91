using System.Collections.Immutable;
using System.Text;

namespace XenSharp.XenStore;

/// <summary>
/// One node of the store. Nodes are immutable: every change makes a new node object with a new
/// generation number, which is what lets a transaction keep a cheap snapshot of the whole store
/// and detect later changes by comparing node identities.
/// </summary>
internal sealed class XenStoreNode
{
    /// <summary>
    /// Bytes xenstored counts for a node besides its value and child names (its header), and per
    /// permission entry; together they form the "node-size" quota's measure.
    /// </summary>
    private const int HeaderBytes = 16, PermissionBytes = 8;

    public XenStoreNode(string path, byte[] value, ImmutableArray<XenStorePermission> permissions,
        ulong generation, ImmutableList<string> children)
        : this(path, value, permissions, generation, children, children.Sum(c => c.Length + 1))
    {
    }

    private XenStoreNode(string path, byte[] value, ImmutableArray<XenStorePermission> permissions,
        ulong generation, ImmutableList<string> children, int childrenLength)
    {
        if (permissions.IsDefaultOrEmpty) throw new ArgumentException("a node needs at least its owner entry", nameof(permissions));
        Path = path;
        Value = value;
        Permissions = permissions;
        Generation = generation;
        Children = children;
        ChildrenLength = childrenLength;
    }

    /// <summary>Absolute path (or special '@' name).</summary>
    public string Path { get; }

    /// <summary>The value; never modified after construction.</summary>
    public byte[] Value { get; }

    /// <summary>Permission list; entry 0 is the owner and the default.</summary>
    public ImmutableArray<XenStorePermission> Permissions { get; }

    /// <summary>Store-wide counter value of the change that produced this node.</summary>
    public ulong Generation { get; }

    /// <summary>Child names in creation order (the order DIRECTORY reports).</summary>
    public ImmutableList<string> Children { get; }

    /// <summary>Bytes of the child list on the wire (each name plus its NUL).</summary>
    public int ChildrenLength { get; }

    /// <summary>The owning domain.</summary>
    public int Owner => Permissions[0].DomainId;

    /// <summary>The size the node-size quota is measured against.</summary>
    public int AccountedSize => HeaderBytes + PermissionBytes * Permissions.Length + Value.Length + ChildrenLength;

    public XenStoreNode WithValue(byte[] value, ulong generation) =>
        new(Path, value, Permissions, generation, Children, ChildrenLength);

    public XenStoreNode WithPermissions(ImmutableArray<XenStorePermission> permissions, ulong generation) =>
        new(Path, Value, permissions, generation, Children, ChildrenLength);

    public XenStoreNode WithChildAdded(string name, ulong generation) =>
        new(Path, Value, Permissions, generation, Children.Add(name), ChildrenLength + name.Length + 1);

    public XenStoreNode WithChildRemoved(string name, ulong generation) =>
        new(Path, Value, Permissions, generation, Children.Remove(name, StringComparer.Ordinal), ChildrenLength - name.Length - 1);

    public XenStoreNode WithGeneration(ulong generation) =>
        new(Path, Value, Permissions, generation, Children, ChildrenLength);

    /// <summary>The child list as sent by DIRECTORY: each name followed by a NUL.</summary>
    public byte[] ChildrenBytes()
    {
        var bytes = new byte[ChildrenLength];
        int at = 0;
        foreach (var c in Children)
        {
            at += Encoding.Latin1.GetBytes(c, bytes.AsSpan(at));
            bytes[at++] = 0;
        }
        return bytes;
    }
}
