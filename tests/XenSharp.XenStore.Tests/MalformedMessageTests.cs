using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class MalformedMessageTests
{
    private readonly Xenstored _store = StoreSetup.Create();

    [Fact]
    public void OverlongPayloadClosesOnlyThatConnection()
    {
        var before = StoreSetup.Dump(_store);
        var bad = new TestClient(_store, 1);
        var good = new TestClient(_store, 2);
        Expect.Ok(bad.Watch("data", "w"));
        int closed = 0;
        bad.Connection.Closed += () => closed++;

        var header = new byte[16];
        new XsMessageHeader(XsMessageType.Write, 1, 0, 4097).Write(header);
        bad.SendRaw(header);
        Assert.True(bad.Connection.IsClosed);
        Assert.Equal(1, closed);
        Assert.NotNull(bad.Connection.CloseReason);

        int logged = bad.Log.Count;
        bad.SendRaw(XsMessage.Encode(XsMessageType.Write, 2, 0, XsPayload.StringThenBytes("data/x", "1"u8)));
        Assert.Equal(logged, bad.Log.Count);          // ignored
        bad.Connection.Close();
        Assert.Equal(1, closed);                      // raised once

        Assert.Equal(before, StoreSetup.Dump(_store));
        Expect.Ok(good.Write("data/ok", "1"));
        _store.Write("/local/domain/1/data/z", "1");   // the closed connection's watch is gone
        Assert.Equal(logged, bad.Log.Count);
    }

    [Theory]
    [InlineData(15u)]      // WATCH_EVENT is server-only
    [InlineData(16u)]      // ERROR is server-only
    [InlineData(20u)]      // the removed RESTRICT
    [InlineData(27u)]      // XS_TYPE_COUNT
    [InlineData(99u)]
    [InlineData(0xffffu)]  // XS_INVALID
    public void UnknownTypesGetEnosys(uint type)
    {
        // xenstored answers types it has no handler for with ENOSYS (process_message; the
        // protocol document says the same), so that is what this store does.
        var before = StoreSetup.Dump(_store);
        var client = new TestClient(_store, 1);
        var r = client.Call((XsMessageType)type, XsPayload.FromStrings("/x"));
        Expect.Error("ENOSYS", r);
        Assert.Equal(before, StoreSetup.Dump(_store));
        Expect.Ok(client.Write("still", "works"));
    }

    [Fact]
    public void BadArgumentsLeaveTheStoreUnchanged()
    {
        var client = new TestClient(_store, 1);
        var dom0 = new TestClient(_store, 0);
        var before = StoreSetup.Dump(_store);

        Expect.Error("EINVAL", client.Call(XsMessageType.Write, Encoding.ASCII.GetBytes("data/no-nul")));
        Expect.Error("EINVAL", client.Call(XsMessageType.Mkdir, Encoding.ASCII.GetBytes("data/no-nul")));
        Expect.Error("EINVAL", client.Call(XsMessageType.Rm, Encoding.ASCII.GetBytes("data")));
        Expect.Error("EINVAL", client.Call(XsMessageType.Mkdir, []));
        Expect.Error("EINVAL", client.Write("data/sp ace", "x"));
        Expect.Error("EINVAL", client.Write("data//x", "x"));
        Expect.Error("EINVAL", client.Write("data/x/", "x"));
        Expect.Error("EINVAL", client.Write("@introduceDomain", "x"));
        Expect.Error("EINVAL", client.Mkdir("/" + new string('a', 3072)));
        Expect.Error("EINVAL", client.SetPerms("data", "q1"));
        Expect.Error("ENOENT", client.CallTx(9, XsMessageType.Write, "data/x", "1"));
        Expect.Error("ENOENT", client.CallTx(9, XsMessageType.Mkdir, "data/x"));
        Expect.Error("EINVAL", dom0.Call(XsMessageType.Watch, "/a", "b", "c", "d"));
        Expect.Error("EINVAL", dom0.Call(XsMessageType.GetDomainPath, XsPayload.FromStrings("1", "2")));
        Expect.Error("EINVAL", dom0.Call(XsMessageType.IsDomainIntroduced, Encoding.ASCII.GetBytes("1")));

        Assert.Equal(before, StoreSetup.Dump(_store));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void RequestsSplitAtEveryByteGetTheSameAnswers()
    {
        var client = new TestClient(_store, 1);
        var stream = new List<byte>();
        stream.AddRange(XsMessage.Encode(XsMessageType.Write, 1, 0, XsPayload.StringThenBytes("data/a", "hello"u8)));
        stream.AddRange(XsMessage.Encode(XsMessageType.Read, 2, 0, XsPayload.FromStrings("data/a")));
        stream.AddRange(XsMessage.Encode(XsMessageType.Read, 3, 0, XsPayload.FromStrings("data/none")));
        stream.AddRange(XsMessage.Encode(XsMessageType.Directory, 4, 0, XsPayload.FromStrings("data")));
        foreach (byte b in stream) client.SendRaw([b]);
        Assert.Equal([1u, 2u, 3u, 4u], client.Log.Select(m => m.RequestId));
        Assert.Equal("OK", client.Log[0].Text);
        Assert.Equal("hello", XsPayload.Text(client.Log[1].Payload));
        Assert.Equal("ENOENT", client.Log[2].Error);
        Assert.Equal("a\0", XsPayload.Text(client.Log[3].Payload));

        // All at once, too.
        client.Log.Clear();
        client.SendRaw(stream.ToArray());
        Assert.Equal([1u, 2u, 3u, 4u], client.Log.Select(m => m.RequestId));
    }

    [Fact]
    public void RepliesEchoRequestAndTransactionIds()
    {
        var client = new TestClient(_store, 1);
        uint tx = client.StartTransaction();
        client.SendRaw(XsMessage.Encode(XsMessageType.Read, 0xDEADBEEF, tx, XsPayload.FromStrings("nope")));
        var reply = client.Log[^1];
        Assert.Equal(0xDEADBEEFu, reply.RequestId);
        Assert.Equal(tx, reply.TransactionId);
        Assert.Equal("ENOENT", reply.Error);
    }
}
