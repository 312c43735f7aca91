using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class DomainTests
{
    private readonly Xenstored _store = StoreSetup.Create();
    private readonly TestClient _dom0;

    public DomainTests() => _dom0 = new TestClient(_store, 0);

    [Fact]
    public void IntroduceCallsTheHookAndRecordsTheDomain()
    {
        var calls = new List<(int, ulong, uint)>();
        _store.IntroduceHook = (d, mfn, port) => { calls.Add((d, mfn, port)); return true; };
        Expect.Value("F\0", _dom0.Call(XsMessageType.IsDomainIntroduced, "4"));
        Expect.Ok(_dom0.Call(XsMessageType.Introduce, "4", "987654", "12"));
        Assert.Equal([(4, 987654UL, 12u)], calls);
        Expect.Value("T\0", _dom0.Call(XsMessageType.IsDomainIntroduced, "4"));
        Assert.True(_store.IsDomainIntroduced(4));
        Expect.Value("T\0", _dom0.Call(XsMessageType.IsDomainIntroduced, "0"));
        Expect.Value("T\0", _dom0.Call(XsMessageType.IsDomainIntroduced, "32752")); // DOMID_SELF
    }

    [Fact]
    public void IntroduceErrors()
    {
        _store.IntroduceHook = (_, _, _) => false;
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Introduce, "4", "1", "12"));
        Assert.False(_store.IsDomainIntroduced(4));
        _store.IntroduceHook = null;
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Introduce, "4", "1", "0"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Introduce, "4", "1"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Introduce, "x", "1", "2"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Introduce, "65536", "1", "2"));
        Expect.Error("EACCES", new TestClient(_store, 4).Call(XsMessageType.Introduce, "4", "1", "2"));
    }

    [Fact]
    public void ReintroductionResetsTheDomainsConnections()
    {
        var guest = new TestClient(_store, 1);
        Expect.Ok(_dom0.Call(XsMessageType.Introduce, "1", "5", "3"));
        Expect.Ok(guest.Watch("data", "w"));
        uint tx = guest.StartTransaction();
        Expect.Ok(_dom0.Watch("@introduceDomain", "i"));
        _dom0.TakeEvents();
        Expect.Ok(_dom0.Call(XsMessageType.Introduce, "1", "5", "3"));
        Assert.Empty(_dom0.TakeEvents());                         // no second @introduceDomain
        Expect.Error("ENOENT", guest.Read("data", tx));
        Expect.Ok(guest.Watch("data", "w"));                      // the old watch is gone
    }

    [Fact]
    public void ReleaseDropsConnectionStateAndOwnedNodes()
    {
        _store.IntroduceDomain(1);
        var guest = new TestClient(_store, 1);
        Expect.Ok(guest.Write("data/x", "1"));
        _store.Write("/local/domain/1/by-dom0", "kept");
        _store.SetPermissions("/local/domain/1/by-dom0", XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(1));
        _store.Write("/shared", "s");
        _store.SetPermissions("/shared", XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(1), XenStorePermission.ReadOnly(2));
        Expect.Ok(guest.Watch("/local/domain/1", "w"));
        uint tx = guest.StartTransaction();
        guest.TakeEvents();
        Expect.Ok(_dom0.Watch("/local/domain/1", "d0"));
        _dom0.TakeEvents();

        var released = new List<int>();
        _store.ReleaseHook = released.Add;
        Expect.Ok(_dom0.Call(XsMessageType.Release, "1"));
        Assert.Equal([1], released);
        Assert.False(_store.IsDomainIntroduced(1));
        Assert.Empty(guest.TakeEvents());
        Expect.Error("ENOENT", guest.Read("data", tx));

        // /local/domain/1 and everything it owned is gone (watchers were told); dom0's node too,
        // as it lay below a node owned by the released domain.
        Assert.Null(_store.Read("/local/domain/1"));
        Assert.Contains(("/local/domain/1", "d0"), _dom0.TakeEvents());
        // Entries naming the released domain are dropped elsewhere.
        Assert.Equal([XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(2)], _store.GetPermissions("/shared"));
        Assert.Equal(0, _store.NodeCount(1));
        Assert.Empty(_store.CheckInvariants());

        Expect.Error("ENOENT", _dom0.Call(XsMessageType.Release, "1"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Release, "0"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Release, "abc"));
        Assert.Equal("ENOENT", Assert.Throws<XenStoreException>(() => _store.ReleaseDomain(42)).ErrorName);
    }

    [Fact]
    public void KeepOrphansGivesNodesToDomain0()
    {
        _store.KeepOrphans = true;
        _store.IntroduceDomain(2);
        var guest = new TestClient(_store, 2);
        Expect.Ok(guest.Write("data/x", "1"));
        _store.ReleaseDomain(2);
        Assert.Equal("1", _store.Read("/local/domain/2/data/x"));
        Assert.Equal(0, _store.GetPermissions("/local/domain/2/data/x")[0].DomainId);
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void Features()
    {
        Expect.Value("12\0", _dom0.Call(XsMessageType.GetFeature, []));
        Expect.Value("12\0", _dom0.Call(XsMessageType.GetFeature, "7"));
        Expect.Ok(_dom0.Call(XsMessageType.SetFeature, "7", "8"));
        Expect.Value("8\0", _dom0.Call(XsMessageType.GetFeature, "7"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetFeature, "7", "1"));  // reconnection: not offered
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetFeature, "7"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.GetFeature, "7", "8"));
        Expect.Error("EBUSY", _dom0.Call(XsMessageType.SetFeature, "0", "8"));

        // Without WATCHDEPTH a third WATCH argument is an error.
        var guest = new TestClient(_store, 7);
        Expect.Error("EINVAL", guest.Call(XsMessageType.Watch, "/x", "t", "1"));
        Assert.Equal(XenStoreFeatures.DomidAny, _store.GetDomainFeatures(7));
    }

    [Fact]
    public void Quotas()
    {
        Expect.Value("nodes watches outstanding transactions transaction-nodes node-permissions path-max node-size\0",
            _dom0.Call(XsMessageType.GetQuota, []));
        Expect.Value("1000\0", _dom0.Call(XsMessageType.GetQuota, "nodes"));
        Expect.Value("128\0", _dom0.Call(XsMessageType.GetQuota, "watches"));
        Expect.Value("20\0", _dom0.Call(XsMessageType.GetQuota, "outstanding"));
        Expect.Value("10\0", _dom0.Call(XsMessageType.GetQuota, "transactions"));
        Expect.Value("1024\0", _dom0.Call(XsMessageType.GetQuota, "transaction-nodes"));
        Expect.Value("5\0", _dom0.Call(XsMessageType.GetQuota, "node-permissions"));
        Expect.Value("2048\0", _dom0.Call(XsMessageType.GetQuota, "path-max"));
        Expect.Value("2048\0", _dom0.Call(XsMessageType.GetQuota, "node-size"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.GetQuota, "memory"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.GetQuota, "a", "b", "c"));

        Expect.Ok(_dom0.Call(XsMessageType.SetQuota, "1", "watches", "3"));
        Expect.Value("3\0", _dom0.Call(XsMessageType.GetQuota, "1", "watches"));
        Expect.Value("128\0", _dom0.Call(XsMessageType.GetQuota, "2", "watches"));
        var guest = new TestClient(_store, 1);
        Expect.Ok(guest.Watch("a", "1"));
        Expect.Ok(guest.Watch("a", "2"));
        Expect.Error("ENOSPC", guest.Watch("a", "3"));

        Expect.Ok(_dom0.Call(XsMessageType.SetQuota, "transactions", "2"));
        Assert.Equal(2, _store.Quotas.Transactions);
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetQuota, "bogus", "2"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetQuota, "nodes", "-1"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetQuota, "nodes"));
    }

    [Fact]
    public void ControlCommands()
    {
        var logged = new List<string>();
        _store.Log = logged.Add;
        Expect.Ok(_dom0.Call(XsMessageType.Control, "print", "hello"));
        Assert.Contains("control: hello", logged);
        Expect.Ok(_dom0.Call(XsMessageType.Control, "check"));
        Assert.DoesNotContain(logged, l => l.StartsWith("check:", StringComparison.Ordinal));

        var quota = _dom0.Call(XsMessageType.Control, "quota");
        Assert.StartsWith("Quota settings:\n", quota.Text);
        Assert.Contains("nodes            :     1000 Nodes per domain\n", quota.Text);
        Expect.Ok(_dom0.Call(XsMessageType.Control, "quota", "set", "nodes", "500"));
        Assert.Equal(500, _store.Quotas.Nodes);
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Control, "quota", "set", "nodes", "0"));
        Assert.StartsWith("Domain 0:\n", _dom0.Call(XsMessageType.Control, "quota", "0").Text);
        Expect.Error("ENOENT", _dom0.Call(XsMessageType.Control, "quota", "99"));

        Assert.Contains("print", _dom0.Call(XsMessageType.Control, "help").Text);
        Expect.Error("ENOSYS", _dom0.Call(XsMessageType.Control, "live-update", "-s"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Control, "no-such-command"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Control, "print"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Control, []));
        Expect.Ok(_dom0.Call(XsMessageType.Debug, "print", "alias"));
    }
}
