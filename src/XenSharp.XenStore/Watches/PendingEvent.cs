using System.Collections.Immutable;

namespace XenSharp.XenStore;

/// <summary>
/// A change to announce to watchers: the changed path, how to match it, and the permission lists
/// that decide who may hear of it (a watcher able to read under any of them gets the event:
/// typically the node's old and new lists and its parent's).
/// </summary>
internal sealed record PendingEvent(string Path, WatchMatch Match, IReadOnlyList<ImmutableArray<XenStorePermission>> PermissionSets);
