namespace XenSharp.XenStore;

/// <summary>
/// A watch set by code in the host (a device backend) rather than by a connection: it hears
/// every event on its path or below, as the control domain does, and runs its callback with
/// the store's lock held (so the callback must only note the event, e.g. set a flag and wake a
/// thread: a callback that blocks stalls the whole store). Dispose removes it.
/// </summary>
internal sealed class HostWatch(Xenstored store, string path, Action<string> onEvent) : IDisposable
{
    private readonly XenStoreWatch _match = new(path, "", depth: -1, relativePrefixLength: 0);
    private volatile bool _disposed;

    public string Path => _match.Path;

    public void Fire(string eventPath, WatchMatch match)
    {
        if (_disposed || !_match.Matches(eventPath, match)) return;
        try { onEvent(eventPath); }
        catch (Exception e) { store.Report($"host watch on {Path}: {e.Message}"); }
    }

    public void Dispose()
    {
        _disposed = true;
        store.RemoveHostWatch(this);
    }
}
