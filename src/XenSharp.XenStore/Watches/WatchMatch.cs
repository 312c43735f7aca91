namespace XenSharp.XenStore;

/// <summary>How an event path is compared with a watch's path.</summary>
internal enum WatchMatch
{
    /// <summary>Only a watch on exactly the event's path (children of a removed subtree).</summary>
    Exact,

    /// <summary>Any watch on the event's path or one of its ancestors (within the watch's depth).</summary>
    Subtree,

    /// <summary>Special event "@name/domid": watches on exactly that path, or on "@name" with a depth.</summary>
    Depth,

    /// <summary>Special event "@name": watches on exactly "@name" without a depth.</summary>
    NoDepth,
}
