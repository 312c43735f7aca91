namespace XenSharp.XenStore;

/// <summary>
/// The nodes an operation works on: the live store, or a transaction's private view of it.
/// Operations read everything they need (and validate) before their first <see cref="Set"/>, so a
/// failing operation leaves the view unchanged.
/// </summary>
internal interface INodeView
{
    /// <summary>The node at an absolute path, or null. A transaction records the access.</summary>
    XenStoreNode? Get(string path);

    /// <summary>Stores (or, with null, deletes) the node at a path.</summary>
    void Set(string path, XenStoreNode? node);

    /// <summary>A fresh, store-wide unique generation number.</summary>
    ulong NextGeneration();

    /// <summary>Nodes owned by a domain as this view sees them (for the "nodes" quota).</summary>
    int NodeCount(int domid);
}
