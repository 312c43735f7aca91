using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class QuotaTests
{
    [Fact]
    public void DefaultsAreXenstoreds()
    {
        var q = XenStoreQuotas.Default;
        Assert.Equal((1000, 128, 20, 10, 1024, 5, 2048, 2048),
            (q.Nodes, q.Watches, q.Outstanding, q.Transactions, q.TransactionNodes, q.NodePermissions, q.PathMax, q.NodeSize));
        Assert.Equal(q, new Xenstored().Quotas);
    }

    [Fact]
    public void NodeQuotaAtItsEdge()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { Nodes = 6 });
        var guest = new TestClient(store, 1);
        Assert.Equal(1, store.NodeCount(1));                 // its home
        for (int i = 0; i < 4; i++) Expect.Ok(guest.Write("n" + i, ""));
        Assert.Equal(5, store.NodeCount(1));
        Expect.Error("ENOSPC", guest.Write("n4", ""));       // would reach 6
        Expect.Ok(guest.Write("n0", "rewrite is fine"));
        Expect.Ok(guest.Rm("n0"));
        Expect.Error("ENOSPC", guest.Write("deep/a", ""));   // needs two nodes
        Expect.Ok(guest.Write("n4", ""));
        Assert.Empty(store.CheckInvariants());

        var dom0 = new TestClient(store, 0);
        for (int i = 0; i < 20; i++) Expect.Ok(dom0.Write("/many/" + i, ""));
    }

    [Fact]
    public void NodeQuotaAtCommit()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { Nodes = 4 });
        var a = new TestClient(store, 1);
        var b = new TestClient(store, 1);
        Expect.Ok(a.Write("dir", ""));                    // owns 2
        uint tx = a.StartTransaction();
        Expect.Ok(a.Write("t1", "", tx));                 // 3 as the transaction sees it
        Expect.Error("ENOSPC", a.Write("t2", "", tx));    // would reach 4
        Expect.Ok(b.Write("dir/x", ""));                  // 3 outside, no conflict with the transaction
        Expect.Error("ENOSPC", a.EndTransaction(tx, commit: true));
        Assert.Null(store.Read("/local/domain/1/t1"));
        Assert.Equal(3, store.NodeCount(1));
        Assert.Empty(store.CheckInvariants());
    }

    [Fact]
    public void NodeSizeAtItsEdge()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { NodeSize = 100 });
        var guest = new TestClient(store, 1);
        // 16 header bytes + 8 per permission entry (one here) + value: must stay below 100.
        Expect.Ok(guest.Write("v", new string('x', 75)));
        Expect.Error("ENOSPC", guest.Write("v", new string('x', 76)));
        Expect.Value(new string('x', 75), guest.Read("v"));
        var dom0 = new TestClient(store, 0);
        Expect.Ok(dom0.Write("/local/domain/1/v", new string('y', 3000)));
    }

    [Fact]
    public void TransactionQuotaAtItsEdge()
    {
        var store = StoreSetup.Create();
        var guest = new TestClient(store, 1);
        var ids = new List<uint>();
        for (int i = 0; i < 9; i++) ids.Add(guest.StartTransaction());
        Expect.Error("ENOSPC", guest.Call(XsMessageType.TransactionStart, ""));
        Expect.Ok(guest.EndTransaction(ids[0], commit: false));
        ids[0] = guest.StartTransaction();
        Assert.Equal(10u, ids[0]);
    }

    [Fact]
    public void TransactionNodeQuota()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { TransactionNodes = 5 });
        var guest = new TestClient(store, 1);
        uint tx = guest.StartTransaction();
        Expect.Error("ENOENT", guest.Read("a", tx));     // accesses /local/domain/1/a and its parent
        Expect.Error("ENOENT", guest.Read("b", tx));
        Expect.Ok(guest.Write("a", "1", tx));            // no new accesses
        Expect.Error("ENOENT", guest.Read("c", tx));     // a fourth node
        Expect.Error("ENOSPC", guest.Read("d", tx));     // a fifth would reach the quota
        Expect.Ok(guest.EndTransaction(tx, commit: true));
        Assert.Equal("1", store.Read("/local/domain/1/a"));
    }

    [Fact]
    public void QuotasCanBeReplaced()
    {
        var store = StoreSetup.Create();
        store.Quotas = store.Quotas with { Watches = 2 };
        var guest = new TestClient(store, 1);
        Expect.Ok(guest.Watch("a", "1"));
        Expect.Error("ENOSPC", guest.Watch("a", "2"));
        store.Quotas = store.Quotas with { Watches = 0 };   // 0 disables the check
        for (int i = 0; i < 200; i++) Expect.Ok(guest.Watch("a", "t" + i));
    }
}
