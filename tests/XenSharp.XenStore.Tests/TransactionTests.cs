using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class TransactionTests
{
    private readonly Xenstored _store = StoreSetup.Create();
    private readonly TestClient _dom0, _dom1, _other;

    public TransactionTests()
    {
        _dom0 = new TestClient(_store, 0);
        _dom1 = new TestClient(_store, 1);
        _other = new TestClient(_store, 1);
    }

    [Fact]
    public void IdsCountFromOne()
    {
        Assert.Equal(1u, _dom1.StartTransaction());
        Assert.Equal(2u, _dom1.StartTransaction());
        Assert.Equal(1u, _other.StartTransaction()); // per connection
    }

    [Fact]
    public void ChangesAreInvisibleUntilCommit()
    {
        Expect.Ok(_dom1.Write("data/a", "old"));
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Write("data/a", "new", tx));
        Expect.Ok(_dom1.Write("data/b/c", "created", tx));
        Expect.Value("new", _dom1.Read("data/a", tx));
        Expect.Value("created", _dom1.Read("data/b/c", tx));
        Expect.Value("old", _dom1.Read("data/a"));
        Expect.Error("ENOENT", _dom1.Read("data/b/c"));
        Expect.Value("a\0b\0", _dom1.Directory("data", tx));
        Expect.Value("a\0", _dom1.Directory("data"));

        Expect.Ok(_dom1.EndTransaction(tx, commit: true));
        Expect.Value("new", _dom1.Read("data/a"));
        Expect.Value("created", _dom1.Read("data/b/c"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void TransactionSeesItsSnapshot()
    {
        Expect.Ok(_dom1.Write("data/a", "before"));
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_other.Write("data/a", "after"));
        Expect.Value("before", _dom1.Read("data/a", tx));
        Expect.Error("EAGAIN", _dom1.EndTransaction(tx, commit: true));
    }

    [Fact]
    public void AbortDiscards()
    {
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Write("data/x", "1", tx));
        Expect.Ok(_dom1.Rm("data", tx));
        Expect.Ok(_dom1.EndTransaction(tx, commit: false));
        Assert.Null(_store.Read("/local/domain/1/data/x"));
        Expect.Error("ENOENT", _dom1.EndTransaction(tx, commit: false)); // gone
    }

    [Fact]
    public void RacingCommitGetsEagainAndRetrySucceeds()
    {
        Expect.Ok(_dom1.Write("counter", "0"));
        uint t1 = _dom1.StartTransaction();
        uint t2 = _other.StartTransaction();
        Expect.Value("0", _dom1.Read("counter", t1));
        Expect.Value("0", _other.Read("counter", t2));
        Expect.Ok(_dom1.Write("counter", "1", t1));
        Expect.Ok(_other.Write("counter", "1", t2));
        Expect.Ok(_dom1.EndTransaction(t1, commit: true));
        Expect.Error("EAGAIN", _other.EndTransaction(t2, commit: true));
        Expect.Error("ENOENT", _other.Read("counter", t2)); // the failed transaction is gone

        uint retry = _other.StartTransaction();
        Expect.Value("1", _other.Read("counter", retry));
        Expect.Ok(_other.Write("counter", "2", retry));
        Expect.Ok(_other.EndTransaction(retry, commit: true));
        Assert.Equal("2", _store.Read("/local/domain/1/counter"));
    }

    [Fact]
    public void ConcurrentCreationOfTheSameNodeConflicts()
    {
        uint t1 = _dom1.StartTransaction();
        uint t2 = _other.StartTransaction();
        Expect.Ok(_dom1.Write("fresh", "1", t1));
        Expect.Ok(_other.Write("fresh", "2", t2));
        Expect.Ok(_other.EndTransaction(t2, commit: true));
        Expect.Error("EAGAIN", _dom1.EndTransaction(t1, commit: true));
        Assert.Equal("2", _store.Read("/local/domain/1/fresh"));
    }

    [Fact]
    public void IndependentTransactionsBothCommit()
    {
        var dom2 = new TestClient(_store, 2);
        Expect.Ok(_dom1.Write("data/a", "1"));
        Expect.Ok(dom2.Write("data/b", "2"));
        uint t1 = _dom1.StartTransaction();
        uint t2 = dom2.StartTransaction();
        Expect.Ok(_dom1.Write("data/a", "10", t1));
        Expect.Ok(dom2.Write("data/b", "20", t2));
        Expect.Ok(_dom1.EndTransaction(t1, commit: true));
        Expect.Ok(dom2.EndTransaction(t2, commit: true));
        Assert.Equal("10", _store.Read("/local/domain/1/data/a"));
        Assert.Equal("20", _store.Read("/local/domain/2/data/b"));
    }

    [Fact]
    public void RemovalInsideTransaction()
    {
        Expect.Ok(_dom1.Write("tree/a/b", "1"));
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Rm("tree", tx));
        Expect.Error("ENOENT", _dom1.Read("tree/a/b", tx));
        Expect.Value("1", _dom1.Read("tree/a/b"));
        Expect.Ok(_dom1.EndTransaction(tx, commit: true));
        Expect.Error("ENOENT", _dom1.Read("tree"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void RemovalConflictsWithConcurrentAdditionBelow()
    {
        Expect.Ok(_dom1.Write("tree/a", "1"));
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Rm("tree", tx));
        Expect.Ok(_other.Write("tree/new", "2"));
        Expect.Error("EAGAIN", _dom1.EndTransaction(tx, commit: true));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void TransactionErrors()
    {
        Expect.Error("ENOENT", _dom1.CallTx(77, XsMessageType.Read, "data"));
        Expect.Error("ENOENT", _dom1.CallTx(77, XsMessageType.Write, "x"));
        Expect.Error("ENOENT", _dom1.EndTransaction(0, commit: true));
        uint tx = _dom1.StartTransaction();
        Expect.Error("EINVAL", _dom1.CallTx(tx, XsMessageType.TransactionEnd, "X"));
        Expect.Error("EINVAL", _dom1.Call(XsMessageType.TransactionEnd, XsPayload.FromStrings("T", "F"), tx));
        Expect.Error("EBUSY", _dom1.CallTx(tx, XsMessageType.TransactionStart, ""));
        Expect.Error("ENOENT", _other.CallTx(tx + 5, XsMessageType.Read, "data")); // other connection's ids are separate
        Expect.Ok(_dom1.EndTransaction(tx, commit: true));
    }

    [Fact]
    public void WatchEventsFireAtCommit()
    {
        var watcher = new TestClient(_store, 0);
        Expect.Ok(watcher.Watch("/local/domain/1/data", "w"));
        watcher.TakeEvents();
        uint tx = _dom1.StartTransaction();
        Expect.Ok(_dom1.Write("data/x", "1", tx));
        Expect.Ok(_dom1.Write("data/x", "2", tx));
        Expect.Ok(_dom1.Write("data/y", "3", tx));
        Assert.Empty(watcher.TakeEvents());
        Expect.Ok(_dom1.EndTransaction(tx, commit: true));
        Assert.Equal([("/local/domain/1/data/x", "w"), ("/local/domain/1/data/y", "w")], watcher.TakeEvents());

        uint aborted = _dom1.StartTransaction();
        Expect.Ok(_dom1.Write("data/z", "1", aborted));
        Expect.Ok(_dom1.EndTransaction(aborted, commit: false));
        Assert.Empty(watcher.TakeEvents());
    }

    [Fact]
    public void WatchRequestsIgnoreTheTransactionId()
    {
        Expect.Ok(_dom1.Call(XsMessageType.Watch, XsPayload.FromStrings("data", "t"), 4242));
        Expect.Ok(_dom1.Call(XsMessageType.Unwatch, XsPayload.FromStrings("data", "t"), 4242));
    }

    [Fact]
    public void ControlDomainTransactionsAreUnlimited()
    {
        for (int i = 0; i < 30; i++) _dom0.StartTransaction();
    }
}
