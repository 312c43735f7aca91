using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

/// <summary>
/// A XenStore client for tests: encodes requests as real wire messages, feeds them to a
/// <see cref="XenStoreConnection"/> and decodes what comes back (replies and watch events).
/// </summary>
public sealed class TestClient
{
    private readonly XsMessageReader _reader = new();
    private uint _nextRequestId = 100;

    public TestClient(Xenstored store, int domid)
    {
        Store = store;
        Connection = store.Connect(domid, bytes => OnSend(bytes));
    }

    public Xenstored Store { get; }
    public XenStoreConnection Connection { get; }

    /// <summary>Everything received, in order.</summary>
    public List<Received> Log { get; } = [];

    /// <summary>Events not yet taken.</summary>
    public List<(string Path, string Token)> Events { get; } = [];

    private void OnSend(ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        while (true)
        {
            var status = _reader.TryRead(ref span, out var message);
            if (status == XsReadStatus.NeedMoreData) break;
            Assert.Equal(XsReadStatus.Message, status);
            var r = new Received(message.Type, message.Header.RequestId, message.Header.TransactionId, message.Payload.ToArray());
            Log.Add(r);
            if (r.Type == XsMessageType.WatchEvent)
            {
                Assert.Equal(0u, r.RequestId);
                Assert.Equal(0u, r.TransactionId);
                var s = r.Strings;
                Events.Add((s[0], s[1]));
            }
        }
        Assert.Equal(0, span.Length);
    }

    /// <summary>Sends raw bytes.</summary>
    public void SendRaw(ReadOnlySpan<byte> bytes) => Connection.Receive(bytes);

    /// <summary>Sends one request and returns its reply (the message with its req_id).</summary>
    public Received Call(XsMessageType type, byte[] payload, uint tx = 0)
    {
        uint id = _nextRequestId++;
        int before = Log.Count;
        Connection.Receive(XsMessage.Encode(type, id, tx, payload));
        var replies = Log.Skip(before).Where(m => m.Type != XsMessageType.WatchEvent).ToList();
        Assert.Single(replies);
        Assert.Equal(id, replies[0].RequestId);
        Assert.Equal(tx, replies[0].TransactionId);
        Assert.True(replies[0].Type == type || replies[0].IsError, $"reply type {replies[0].Type} to {type}");
        return replies[0];
    }

    public Received Call(XsMessageType type, params string[] strings) => Call(type, XsPayload.FromStrings(strings));

    public Received CallTx(uint tx, XsMessageType type, params string[] strings) => Call(type, XsPayload.FromStrings(strings), tx);

    public Received Write(string path, string value, uint tx = 0) =>
        Call(XsMessageType.Write, XsPayload.StringThenBytes(path, Encoding.ASCII.GetBytes(value)), tx);

    public Received Read(string path, uint tx = 0) => CallTx(tx, XsMessageType.Read, path);
    public Received Mkdir(string path, uint tx = 0) => CallTx(tx, XsMessageType.Mkdir, path);
    public Received Rm(string path, uint tx = 0) => CallTx(tx, XsMessageType.Rm, path);
    public Received Directory(string path, uint tx = 0) => CallTx(tx, XsMessageType.Directory, path);
    public Received GetPerms(string path, uint tx = 0) => CallTx(tx, XsMessageType.GetPerms, path);

    public Received SetPerms(string path, params string[] perms) => Call(XsMessageType.SetPerms, [path, .. perms]);

    public Received Watch(string path, string token) => Call(XsMessageType.Watch, path, token);
    public Received Unwatch(string path, string token) => Call(XsMessageType.Unwatch, path, token);

    public uint StartTransaction()
    {
        var r = Call(XsMessageType.TransactionStart, "");
        Assert.False(r.IsError, r.ToString());
        return uint.Parse(r.Text);
    }

    public Received EndTransaction(uint tx, bool commit) => CallTx(tx, XsMessageType.TransactionEnd, commit ? "T" : "F");

    /// <summary>Returns and clears the pending events.</summary>
    public List<(string Path, string Token)> TakeEvents()
    {
        var list = Events.ToList();
        Events.Clear();
        return list;
    }
}
