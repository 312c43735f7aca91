namespace XenSharp.XenStore.Tests;

/// <summary>Watches set by code in the host (device backends) with Xenstored.WatchFromHost.</summary>
public class HostWatchTests
{
    [Fact]
    public void A_host_watch_fires_at_once_then_for_changes_at_or_below_its_path_until_disposed()
    {
        var store = StoreSetup.Create();
        var seen = new List<string>();
        var watch = store.WatchFromHost("/local/domain/1/device/vbd/51712/state", p => seen.Add(p));
        Assert.Equal(["/local/domain/1/device/vbd/51712/state"], seen);

        store.Write("/local/domain/1/device/vbd/51712/state", "1");
        store.Write("/local/domain/1/device/vbd/51712/other", "x");   // a sibling: not heard
        store.Write("/local/domain/1/device/vbd/51712/state/child", "y");
        Assert.Equal(3, seen.Count);
        Assert.Equal("/local/domain/1/device/vbd/51712/state/child", seen[^1]);

        store.Remove("/local/domain/1/device");                        // removal of an ancestor reaches it
        Assert.Contains("/local/domain/1/device/vbd/51712/state", seen.Skip(3));

        int before = seen.Count;
        watch.Dispose();
        store.Write("/local/domain/1/device/vbd/51712/state", "2");
        Assert.Equal(before, seen.Count);
    }

    [Fact]
    public void A_guest_write_fires_the_host_watch()
    {
        var store = StoreSetup.Create();
        int fired = 0;
        using var watch = store.WatchFromHost("/local/domain/1/data", _ => fired++);
        var client = new TestClient(store, 1);
        client.Write("data/x", "1");
        Assert.Equal(2, fired);
    }

    [Fact]
    public void A_throwing_callback_is_reported_not_propagated()
    {
        var store = StoreSetup.Create();
        var log = new List<string>();
        store.Log = log.Add;
        using var watch = store.WatchFromHost("/a", _ => throw new InvalidOperationException("boom"));
        store.Write("/a", "1");
        Assert.Contains(log, l => l.Contains("boom", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => store.WatchFromHost("relative", _ => { }));
    }
}
