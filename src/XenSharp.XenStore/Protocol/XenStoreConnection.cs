using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// One client of the store, as seen by a transport (a guest's ring, a socket, a test): the
/// transport feeds the client's bytes to <see cref="Receive"/> and forwards what the store hands
/// to its <c>send</c> callback — whole reply and WATCH_EVENT messages, header included. Requests
/// are processed in order, synchronously, each answered with its own req_id and tx_id before the
/// next one is looked at; watch events use req_id 0 and tx_id 0 and may be sent from another
/// connection's <see cref="Receive"/> (or a toolstack call) as well.
/// </summary>
/// <remarks>
/// The <c>send</c> callback runs while the store's lock is held: it must not call back into the
/// store on another thread and wait for it. A payload length over 4096 closes the connection
/// (raising <see cref="Closed"/>), as xenstored drops such a client; every other malformed request
/// just gets an ERROR reply.
/// </remarks>
public sealed class XenStoreConnection
{
    private readonly Xenstored _store;
    private readonly Action<ReadOnlyMemory<byte>> _send;
    private readonly XsMessageReader _reader = new();
    private uint _nextTransactionId = 1;

    internal XenStoreConnection(Xenstored store, int domainId, Action<ReadOnlyMemory<byte>> send)
    {
        _store = store;
        DomainId = domainId;
        _send = send;
    }

    /// <summary>The domain the client belongs to (0 for the control domain's tools).</summary>
    public int DomainId { get; }

    /// <summary>Whether the connection was closed (by <see cref="Close"/> or by a protocol error).</summary>
    public bool IsClosed { get; private set; }

    /// <summary>Why the connection was closed, once it is.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Raised once when the connection closes.</summary>
    public event Action? Closed;

    /// <summary>Watches in the order they were set.</summary>
    internal List<XenStoreWatch> Watches { get; } = [];

    /// <summary>Open transactions by id.</summary>
    internal Dictionary<uint, XenStoreTransaction> Transactions { get; } = [];

    /// <summary>
    /// Bytes from the client, split anywhere. Every complete request is processed and answered
    /// before this returns; an incomplete tail is kept for the next call. Ignored once closed.
    /// </summary>
    public void Receive(ReadOnlySpan<byte> bytes)
    {
        bool closedNow = false;
        lock (_store.Sync)
        {
            while (!IsClosed)
            {
                var status = _reader.TryRead(ref bytes, out var message);
                if (status == XsReadStatus.NeedMoreData) break;
                if (status == XsReadStatus.ProtocolError)
                {
                    closedNow = CloseLocked("protocol error: payload longer than 4096 bytes");
                    break;
                }
                _store.Processor.Process(this, message);
            }
        }
        if (closedNow) Closed?.Invoke();
    }

    /// <summary>Closes the connection: its watches and transactions are dropped.</summary>
    public void Close()
    {
        bool closedNow;
        lock (_store.Sync) closedNow = CloseLocked("closed");
        if (closedNow) Closed?.Invoke();
    }

    internal bool CloseLocked(string reason)
    {
        if (IsClosed) return false;
        IsClosed = true;
        CloseReason = reason;
        DropWatchesAndTransactions();
        _store.RemoveConnection(this);
        return true;
    }

    /// <summary>Drops all watches and open transactions (RESET_WATCHES, RELEASE, close).</summary>
    internal void DropWatchesAndTransactions()
    {
        Watches.Clear();
        Transactions.Clear();
    }

    /// <summary>A fresh transaction id: counting up from 1, skipping 0 and ids in use.</summary>
    internal uint AllocateTransactionId()
    {
        uint id;
        do id = _nextTransactionId++;
        while (id == 0 || Transactions.ContainsKey(id));
        return id;
    }

    internal void SendReply(in XsMessageHeader request, XsMessageType type, byte[] payload) =>
        Send(XsMessage.Encode(type, request.RequestId, request.TransactionId, payload));

    internal void SendError(in XsMessageHeader request, string errorName) =>
        SendReply(request, XsMessageType.Error, XsPayload.FromStrings(errorName));

    internal void SendEvent(string path, string token)
    {
        var message = WatchDispatcher.Encode(path, token);
        if (message is not null) Send(message);
    }

    private void Send(byte[] message)
    {
        if (!IsClosed) _send(message);
    }
}
