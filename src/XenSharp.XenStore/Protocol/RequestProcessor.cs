using System.Globalization;
using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// Decodes one request, performs it, and sends the reply (or an ERROR reply) on its connection.
/// </summary>
/// <remarks>
/// Order of checks, as xenstored's <c>process_message</c>: a type without a handler (WATCH_EVENT,
/// ERROR, the removed RESTRICT, anything ≥ XS_TYPE_COUNT) gets ENOSYS; a control-domain-only type
/// from another domain gets EACCES; a non-zero tx_id naming no open transaction of the connection
/// gets ENOENT (WATCH and UNWATCH ignore tx_id); then the handler runs. Argument errors are EINVAL.
/// A successful reply whose payload would exceed 4096 bytes becomes E2BIG. Changes outside
/// transactions fire their watch events before the reply is sent; WATCH sends its reply first and
/// then the initial event.
/// </remarks>
internal sealed class RequestProcessor(Xenstored store)
{
    private static readonly byte[] s_ok = "OK\0"u8.ToArray();

    public void Process(XenStoreConnection conn, XsMessage message)
    {
        var header = message.Header;
        Action? afterReply = null;
        byte[] reply;
        try
        {
            reply = Handle(conn, header, message.Payload.Span, ref afterReply);
        }
        catch (XenStoreException e)
        {
            conn.SendError(header, e.ErrorName);
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            store.Report($"internal error processing {header.Type} from domain {conn.DomainId}: {e}");
            conn.SendError(header, XsErrors.EIO);
            return;
        }

        if (reply.Length > XsWireLimits.PayloadMax)
        {
            conn.SendError(header, XsErrors.E2BIG);
            return;
        }
        conn.SendReply(header, header.Type, reply);
        afterReply?.Invoke();
    }

    /// <summary>Types a client may send (everything else: ENOSYS).</summary>
    private static bool IsHandled(XsMessageType type) =>
        (uint)type < (uint)XsMessageType.TypeCount &&
        type is not (XsMessageType.WatchEvent or XsMessageType.Error) && (uint)type != 20;

    /// <summary>Types only the control domain may send (EACCES for others).</summary>
    private static bool IsPrivileged(XsMessageType type) => type is XsMessageType.Control or XsMessageType.Introduce
        or XsMessageType.Release or XsMessageType.IsDomainIntroduced or XsMessageType.Resume or XsMessageType.SetTarget
        or XsMessageType.SetFeature or XsMessageType.GetQuota or XsMessageType.SetQuota;

    private byte[] Handle(XenStoreConnection conn, in XsMessageHeader header, ReadOnlySpan<byte> payload, ref Action? afterReply)
    {
        var type = header.Type;
        if (!IsHandled(type)) throw new XenStoreException(XsErrors.ENOSYS);

        var caller = store.CallerFor(conn.DomainId);
        if (IsPrivileged(type) && !caller.Privileged) throw new XenStoreException(XsErrors.EACCES);

        XenStoreTransaction? tx = null;
        if (type is not (XsMessageType.Watch or XsMessageType.Unwatch) && header.TransactionId != 0 &&
            !conn.Transactions.TryGetValue(header.TransactionId, out tx))
            throw new XenStoreException(XsErrors.ENOENT);

        switch (type)
        {
            case XsMessageType.Read:
            {
                string? path = XsPayload.OneArgument(payload);
                return NodeOp(caller, tx, ops => ops.Read(path));
            }
            case XsMessageType.Directory:
            {
                string? path = XsPayload.OneArgument(payload);
                return NodeOp(caller, tx, ops => ops.Directory(path));
            }
            case XsMessageType.GetPerms:
            {
                string? path = XsPayload.OneArgument(payload);
                return NodeOp(caller, tx, ops => FormatPermissions(ops.GetPermissions(path)));
            }
            case XsMessageType.DirectoryPart:
            {
                if (XsPayload.CountStrings(payload) != 2) throw new XenStoreException(XsErrors.EINVAL);
                var args = XsPayload.Strings(payload);
                return NodeOp(caller, tx, ops => ops.DirectoryPart(args[0], args[1]));
            }
            case XsMessageType.Write:
            {
                int nul = payload.IndexOf((byte)0);
                if (nul < 0) throw new XenStoreException(XsErrors.EINVAL);
                string path = XsPayload.Text(payload[..nul]);
                byte[] value = payload[(nul + 1)..].ToArray();
                return NodeOp(caller, tx, ops => { ops.Write(path, value); return s_ok; });
            }
            case XsMessageType.Mkdir:
            {
                string? path = XsPayload.OneArgument(payload);
                return NodeOp(caller, tx, ops => { ops.Mkdir(path); return s_ok; });
            }
            case XsMessageType.Rm:
            {
                string? path = XsPayload.OneArgument(payload);
                return NodeOp(caller, tx, ops => { ops.Remove(path); return s_ok; });
            }
            case XsMessageType.SetPerms:
            {
                var args = XsPayload.Strings(payload);
                if (args.Count < 2) throw new XenStoreException(XsErrors.EINVAL);
                return NodeOp(caller, tx, ops => { ops.SetPermissions(args[0], args.GetRange(1, args.Count - 1)); return s_ok; });
            }
            case XsMessageType.Watch:
                return Watch(conn, caller, payload, ref afterReply);
            case XsMessageType.Unwatch:
                return Unwatch(conn, caller, payload);
            case XsMessageType.TransactionStart:
                return TransactionStart(conn, caller, tx);
            case XsMessageType.TransactionEnd:
                return TransactionEnd(conn, caller, tx, payload);
            case XsMessageType.ResetWatches:
                conn.DropWatchesAndTransactions();
                return s_ok;
            case XsMessageType.GetDomainPath:
                return Text(XenStorePath.DomainPath(DomidArgument(payload)));
            case XsMessageType.IsDomainIntroduced:
            {
                int domid = DomidArgument(payload);
                bool introduced = domid == XenStorePermission.DomidSelf || store.FindDomain(domid)?.Introduced == true;
                return Text(introduced ? "T" : "F");
            }
            case XsMessageType.Introduce:
            {
                var args = XsPayload.Strings(payload);
                if (args.Count < 3) throw new XenStoreException(XsErrors.EINVAL);
                int domid = ParseDomid(args[0]);
                ulong frame = unchecked((ulong)CNumber.Atol(args[1]));
                int port = CNumber.Atoi(args[2]);
                if (port <= 0) throw new XenStoreException(XsErrors.EINVAL);
                DomainLifecycle.Introduce(store, domid, frame, (uint)port, fromWire: true);
                return s_ok;
            }
            case XsMessageType.Release:
                DomainLifecycle.Release(store, DomidArgument(payload));
                return s_ok;
            case XsMessageType.Resume:
                DomainLifecycle.Resume(store, DomidArgument(payload));
                return s_ok;
            case XsMessageType.SetTarget:
            {
                var args = XsPayload.Strings(payload);
                if (args.Count < 2) throw new XenStoreException(XsErrors.EINVAL);
                DomainLifecycle.SetTarget(store, ParseDomid(args[0]), ParseDomid(args[1]));
                return s_ok;
            }
            case XsMessageType.GetFeature:
                return GetFeature(conn, caller, payload);
            case XsMessageType.SetFeature:
                return SetFeature(payload);
            case XsMessageType.GetQuota:
                return GetQuota(payload);
            case XsMessageType.SetQuota:
                return SetQuota(payload);
            case XsMessageType.Control:
                return ControlCommands.Execute(store, payload);
            default:
                throw new XenStoreException(XsErrors.ENOSYS);
        }
    }

    // Runs a node operation on the transaction's view or the live store; events of the live store
    // fire now (before the reply), a transaction's wait for its commit.
    private byte[] NodeOp(in CallerContext caller, XenStoreTransaction? tx, Func<NodeOperations, byte[]> operation)
    {
        var events = new List<PendingEvent>();
        INodeView view = store.Nodes;
        if (tx is not null)
        {
            tx.AccessLimit = caller.Limit(caller.Quotas.TransactionNodes);
            view = tx;
        }
        byte[] reply = operation(new NodeOperations(view, caller, events));
        if (tx is not null) tx.Queue(events);
        else store.Fire(events);
        return reply;
    }

    private byte[] Watch(XenStoreConnection conn, in CallerContext caller, ReadOnlySpan<byte> payload, ref Action? afterReply)
    {
        var args = XsPayload.Strings(payload);
        int depth = -1;
        var features = store.FindDomain(conn.DomainId)?.Features ?? store.SupportedFeatures;
        if (args.Count == 3 && (features & XenStoreFeatures.WatchDepth) != 0)
        {
            depth = CNumber.Atoi(args[2]);
            if (depth < 0) throw new XenStoreException(XsErrors.EINVAL);
        }
        else if (args.Count != 2)
        {
            throw new XenStoreException(XsErrors.EINVAL);
        }

        string raw = args[0], token = args[1];
        bool relative = raw.Length == 0 || (raw[0] != '/' && raw[0] != '@');
        string path = XenStorePath.Canonicalize(raw, conn.DomainId, true, caller.Limit(caller.Quotas.PathMax))
            ?? throw new XenStoreException(XsErrors.EINVAL);

        foreach (var w in conn.Watches)
            if (w.Path == path && w.Token == token) throw new XenStoreException(XsErrors.EEXIST);
        if (caller.Exceeds(caller.Quotas.Watches, (long)store.WatchCount(conn.DomainId) + 1))
            throw new XenStoreException(XsErrors.ENOSPC);

        int prefix = relative ? XenStorePath.DomainPath(conn.DomainId).Length + 1 : 0;
        var watch = new XenStoreWatch(path, token, depth, prefix);
        conn.Watches.Add(watch);
        afterReply = () => conn.SendEvent(watch.Report(watch.Path), watch.Token);
        return s_ok;
    }

    private static byte[] Unwatch(XenStoreConnection conn, in CallerContext caller, ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        if (args.Count != 2) throw new XenStoreException(XsErrors.EINVAL);
        string path = XenStorePath.Canonicalize(args[0], conn.DomainId, true, caller.Limit(caller.Quotas.PathMax))
            ?? throw new XenStoreException(XsErrors.EINVAL);
        int index = conn.Watches.FindIndex(w => w.Path == path && w.Token == args[1]);
        if (index < 0) throw new XenStoreException(XsErrors.ENOENT);
        conn.Watches.RemoveAt(index);
        return s_ok;
    }

    private byte[] TransactionStart(XenStoreConnection conn, in CallerContext caller, XenStoreTransaction? current)
    {
        if (current is not null) throw new XenStoreException(XsErrors.EBUSY); // no nesting
        if (caller.Exceeds(caller.Quotas.Transactions, (long)store.TransactionCount(conn.DomainId) + 1))
            throw new XenStoreException(XsErrors.ENOSPC);
        uint id = conn.AllocateTransactionId();
        conn.Transactions[id] = new XenStoreTransaction(id, store.Nodes);
        return Text(id.ToString(CultureInfo.InvariantCulture));
    }

    private byte[] TransactionEnd(XenStoreConnection conn, in CallerContext caller, XenStoreTransaction? tx, ReadOnlySpan<byte> payload)
    {
        string? arg = XsPayload.OneArgument(payload);
        if (arg is not ("T" or "F")) throw new XenStoreException(XsErrors.EINVAL);
        if (tx is null) throw new XenStoreException(XsErrors.ENOENT);
        conn.Transactions.Remove(tx.Id);
        if (arg == "T") store.Fire(tx.Commit(caller, store.QuotasFor));
        return s_ok;
    }

    private byte[] GetFeature(XenStoreConnection conn, in CallerContext caller, ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        XenStoreFeatures features;
        if (args.Count == 0)
        {
            features = store.FindDomain(conn.DomainId)?.Features ?? store.SupportedFeatures;
        }
        else
        {
            if (!caller.Privileged) throw new XenStoreException(XsErrors.EACCES);
            if (args.Count > 1) throw new XenStoreException(XsErrors.EINVAL);
            features = store.GetOrCreateDomain(ParseDomid(args[0])).Features;
        }
        return Text(((uint)features).ToString(CultureInfo.InvariantCulture));
    }

    private byte[] SetFeature(ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        if (args.Count != 2) throw new XenStoreException(XsErrors.EINVAL);
        int domid = ParseDomid(args[0]);
        var features = (XenStoreFeatures)unchecked((uint)CNumber.Atoi(args[1]));
        var domain = store.GetOrCreateDomain(domid);
        if (domain.Introduced) throw new XenStoreException(XsErrors.EBUSY);
        if ((features & ~store.SupportedFeatures) != 0) throw new XenStoreException(XsErrors.EINVAL);
        domain.Features = features;
        return s_ok;
    }

    private byte[] GetQuota(ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        if (args.Count > 2) throw new XenStoreException(XsErrors.EINVAL);
        if (args.Count == 0) return Text(string.Join(' ', XenStoreQuotas.Names));
        var quotas = args.Count == 1 ? store.GlobalQuotas : store.QuotasFor(store.GetOrCreateDomain(ParseDomid(args[0])).DomainId);
        int value = quotas.Get(args[^1]) ?? throw new XenStoreException(XsErrors.EINVAL);
        return Text(value.ToString(CultureInfo.InvariantCulture));
    }

    private byte[] SetQuota(ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        if (args.Count is < 2 or > 3) throw new XenStoreException(XsErrors.EINVAL);
        int value = CNumber.Atoi(args[^1]);
        if (value < 0) throw new XenStoreException(XsErrors.EINVAL);
        string name = args[^2];
        if (args.Count == 2)
        {
            store.GlobalQuotas = store.GlobalQuotas.With(name, value) ?? throw new XenStoreException(XsErrors.EINVAL);
        }
        else
        {
            var domain = store.GetOrCreateDomain(ParseDomid(args[0]));
            domain.QuotaOverride = (domain.QuotaOverride ?? store.GlobalQuotas).With(name, value)
                ?? throw new XenStoreException(XsErrors.EINVAL);
        }
        return s_ok;
    }

    private static int DomidArgument(ReadOnlySpan<byte> payload) =>
        ParseDomid(XsPayload.OneArgument(payload) ?? throw new XenStoreException(XsErrors.EINVAL));

    private static int ParseDomid(string text) =>
        CNumber.TryParseDomid(text, out int domid) ? domid : throw new XenStoreException(XsErrors.EINVAL);

    /// <summary>A string reply: the text and its NUL.</summary>
    internal static byte[] Text(string text) => XsPayload.FromStrings(text);

    /// <summary>GET_PERMS reply: each entry's wire form followed by a NUL ("b0\0r1\0").</summary>
    private static byte[] FormatPermissions(IEnumerable<XenStorePermission> permissions) =>
        Encoding.ASCII.GetBytes(string.Concat(permissions.Select(p => p + "\0")));
}
