using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class WatchTests
{
    private readonly Xenstored _store = StoreSetup.Create();
    private readonly TestClient _dom0, _dom1, _dom2;

    public WatchTests()
    {
        _dom0 = new TestClient(_store, 0);
        _dom1 = new TestClient(_store, 1);
        _dom2 = new TestClient(_store, 2);
    }

    [Fact]
    public void WatchFiresOnceImmediatelyAfterItsReply()
    {
        int before = _dom0.Log.Count;
        Expect.Ok(_dom0.Watch("/nonexistent/path", "tok"));
        var log = _dom0.Log.Skip(before).ToList();
        Assert.Equal(2, log.Count);
        Assert.Equal(XsMessageType.Watch, log[0].Type);
        Assert.Equal(XsMessageType.WatchEvent, log[1].Type);
        Assert.Equal(["/nonexistent/path", "tok"], log[1].Strings);
    }

    [Fact]
    public void EventsForPathAndBelowOnly()
    {
        Expect.Ok(_dom0.Watch("/a/b", "t"));
        _dom0.TakeEvents();
        _store.Write("/a/b", "1");
        _store.Write("/a/b/c/d", "2");
        _store.Write("/a/bc", "3");     // a sibling sharing the prefix
        _store.Write("/a", "4");        // the parent
        _store.SetPermissions("/a/b/c", XenStorePermission.NoAccess(0));
        Assert.Equal([("/a/b", "t"), ("/a/b/c/d", "t"), ("/a/b/c", "t")], _dom0.TakeEvents());
    }

    [Fact]
    public void RemovalReportsChildrenThenTheNode()
    {
        _store.Write("/r/x/c1", "1");
        _store.Write("/r/x/c2/g", "2");
        Expect.Ok(_dom0.Watch("/r", "parent"));
        Expect.Ok(_dom0.Watch("/r/x/c2/g", "grandchild"));
        Expect.Ok(_dom0.Watch("/r/x/never", "missing"));
        _dom0.TakeEvents();
        _store.Remove("/r/x");
        Assert.Equal([("/r/x/c2/g", "grandchild"), ("/r/x", "parent")], _dom0.TakeEvents());
    }

    [Fact]
    public void EventsPrecedeTheReplyOfTheChangingRequest()
    {
        Expect.Ok(_dom1.Watch("data", "mine"));
        _dom1.TakeEvents();
        int before = _dom1.Log.Count;
        Expect.Ok(_dom1.Write("data/k", "v"));
        var log = _dom1.Log.Skip(before).ToList();
        Assert.Equal([XsMessageType.WatchEvent, XsMessageType.Write], log.Select(m => m.Type));
    }

    [Fact]
    public void DeliveryOrderFollowsConnectionsThenWatches()
    {
        var order = new List<string>();
        Action<ReadOnlyMemory<byte>> Recorder(string name) => m =>
        {
            var message = XsMessage.Decode(m.Span);
            if (message.Type == XsMessageType.WatchEvent) order.Add(name + ":" + XsPayload.Strings(message.Payload.Span)[1]);
        };
        var c1 = _store.Connect(0, Recorder("c1"));
        var c2 = _store.Connect(0, Recorder("c2"));
        c2.Receive(XsMessage.Encode(XsMessageType.Watch, 1, 0, XsPayload.FromStrings("/o", "x")));
        c1.Receive(XsMessage.Encode(XsMessageType.Watch, 1, 0, XsPayload.FromStrings("/o", "a")));
        c1.Receive(XsMessage.Encode(XsMessageType.Watch, 2, 0, XsPayload.FromStrings("/", "b")));
        order.Clear();
        _store.Write("/o/p", "");
        Assert.Equal(["c1:a", "c1:b", "c2:x"], order);
    }

    [Fact]
    public void DepthLimitsTheWatch()
    {
        Expect.Ok(_dom0.Call(XsMessageType.Watch, "/d", "zero", "0"));
        Expect.Ok(_dom0.Call(XsMessageType.Watch, "/d", "one", "1"));
        _dom0.TakeEvents();
        _store.Write("/d", "");
        _store.Write("/d/x", "");
        _store.Write("/d/x/y", "");
        Assert.Equal([("/d", "zero"), ("/d", "one"), ("/d/x", "one")], _dom0.TakeEvents());
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Watch, "/d", "neg", "-1"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Watch, "/d", "many", "1", "2"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Watch, "/d"));
    }

    [Fact]
    public void GuestsOnlyHearOfNodesTheyMayRead()
    {
        Expect.Ok(_dom1.Watch("/local/domain", "all"));
        Expect.Ok(_dom1.Watch("/local/domain/0/secret", "secret"));
        Assert.Equal(2, _dom1.TakeEvents().Count); // the initial events are always sent
        _store.Write("/local/domain/0/secret", "changed");
        _store.Write("/local/domain/2/private", "x");
        _store.Write("/local/domain/1/mine", "x");
        Assert.Equal([("/local/domain/1/mine", "all")], _dom1.TakeEvents());

        // Readable because of an extra entry for the watcher.
        _store.Write("/local/domain/2/shared", "x");
        _store.SetPermissions("/local/domain/2/shared", XenStorePermission.NoAccess(2), XenStorePermission.ReadOnly(1));
        _dom1.TakeEvents();
        _store.Write("/local/domain/2/shared", "y");
        Assert.Equal([("/local/domain/2/shared", "all")], _dom1.TakeEvents());

        // Losing access still reports that change (the old list allowed reading).
        _store.SetPermissions("/local/domain/2/shared", XenStorePermission.NoAccess(2));
        Assert.Equal([("/local/domain/2/shared", "all")], _dom1.TakeEvents());
        _store.Write("/local/domain/2/shared", "z");
        Assert.Empty(_dom1.TakeEvents());
    }

    [Fact]
    public void IntroduceDomainEventsGoToPrivilegedWatchers()
    {
        Expect.Ok(_dom0.Watch("@introduceDomain", "intro"));
        Expect.Ok(_dom1.Watch("@introduceDomain", "intro"));
        _dom0.TakeEvents();
        _dom1.TakeEvents();
        Expect.Ok(_dom0.Call(XsMessageType.Introduce, "5", "1234", "7"));
        Assert.Equal([("@introduceDomain", "intro")], _dom0.TakeEvents());
        Assert.Empty(_dom1.TakeEvents());

        // SET_PERMS on the special node lets a guest hear it (the change itself is an event too).
        Expect.Ok(_dom0.SetPerms("@introduceDomain", "n0", "r1"));
        Assert.Equal([("@introduceDomain", "intro")], _dom0.TakeEvents());
        Assert.Equal([("@introduceDomain", "intro")], _dom1.TakeEvents());
        _store.IntroduceDomain(6);
        Assert.Equal([("@introduceDomain", "intro")], _dom1.TakeEvents());
        Assert.Equal([("@introduceDomain", "intro")], _dom0.TakeEvents());
    }

    [Fact]
    public void ReleaseDomainEventsAndDepthForm()
    {
        _store.IntroduceDomain(5);
        _store.IntroduceDomain(6);
        Expect.Ok(_dom1.Watch("@releaseDomain", "rel"));               // readable for DOMID_ANY
        Expect.Ok(_dom0.Call(XsMessageType.Watch, "@releaseDomain", "withdom", "1"));
        Expect.Ok(_dom0.Watch("@releaseDomain/6", "only6"));
        _dom0.TakeEvents();
        _dom1.TakeEvents();

        Expect.Ok(_dom0.Call(XsMessageType.Release, "5"));
        Assert.Equal([("@releaseDomain", "rel")], _dom1.TakeEvents());
        Assert.Equal([("@releaseDomain/5", "withdom")], _dom0.TakeEvents());

        _store.ReleaseDomain(6);
        Assert.Equal([("@releaseDomain", "rel")], _dom1.TakeEvents());
        Assert.Equal([("@releaseDomain/6", "withdom"), ("@releaseDomain/6", "only6")], _dom0.TakeEvents());
    }

    [Fact]
    public void ShutdownFiresReleaseOnceUntilResume()
    {
        _store.IntroduceDomain(5);
        Expect.Ok(_dom0.Watch("@releaseDomain", "rel"));
        _dom0.TakeEvents();
        _store.NotifyDomainShutdown(5);
        _store.NotifyDomainShutdown(5);
        Assert.Single(_dom0.TakeEvents());
        Expect.Ok(_dom0.Call(XsMessageType.Resume, "5"));
        _store.NotifyDomainShutdown(5);
        Assert.Single(_dom0.TakeEvents());
        Expect.Error("ENOENT", _dom0.Call(XsMessageType.Resume, "9"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Resume, "0"));
    }

    [Fact]
    public void UnwatchAndResetStopEvents()
    {
        Expect.Ok(_dom1.Watch("data", "a"));
        Expect.Ok(_dom1.Watch("data", "b"));
        Expect.Error("EEXIST", _dom1.Watch("data", "a"));
        Expect.Error("EEXIST", _dom1.Watch("/local/domain/1/data", "a"));
        Expect.Ok(_dom1.Unwatch("data", "a"));
        Expect.Error("ENOENT", _dom1.Unwatch("data", "a"));
        Expect.Error("EINVAL", _dom1.Unwatch("bad//path", "a"));
        Expect.Error("EINVAL", _dom1.Call(XsMessageType.Unwatch, "data"));
        _dom1.TakeEvents();
        _store.Write("/local/domain/1/data", "1");
        Assert.Equal([("data", "b")], _dom1.TakeEvents());

        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Call(XsMessageType.ResetWatches, ""));
        _store.Write("/local/domain/1/data", "2");
        Assert.Empty(_dom1.TakeEvents());
        Expect.Error("ENOENT", _dom1.Read("data", tx)); // transactions are reset too
        Expect.Ok(_dom1.Watch("data", "a"));          // and watches can be set again
    }

    [Fact]
    public void ClosedConnectionsGetNoEvents()
    {
        Expect.Ok(_dom0.Watch("/c", "t"));
        _dom0.TakeEvents();
        _dom0.Connection.Close();
        Assert.True(_dom0.Connection.IsClosed);
        _store.Write("/c", "x");
        Assert.Empty(_dom0.TakeEvents());
    }

    [Fact]
    public void WatchQuota()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { Watches = 4 });
        var guest = new TestClient(store, 1);
        var second = new TestClient(store, 1);
        Expect.Ok(guest.Watch("a", "1"));
        Expect.Ok(guest.Watch("a", "2"));
        Expect.Ok(second.Watch("a", "3"));                 // counted per domain
        Expect.Error("ENOSPC", guest.Watch("a", "4"));
        Expect.Ok(guest.Unwatch("a", "1"));
        Expect.Ok(guest.Watch("a", "4"));
        var dom0 = new TestClient(store, 0);
        for (int i = 0; i < 10; i++) Expect.Ok(dom0.Watch("/x", i.ToString()));
    }
}
