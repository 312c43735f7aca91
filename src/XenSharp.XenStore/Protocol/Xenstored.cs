using System.Collections.Immutable;
using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// A complete XenStore daemon, independent of any transport: one store, any number of
/// connections (<see cref="Connect"/>), the domain bookkeeping (INTRODUCE, RELEASE, SET_TARGET,
/// quotas, features), and helpers for the toolstack that act as the control domain without a
/// connection. Thread-safe: everything runs under one lock.
/// </summary>
/// <remarks>
/// The store starts as xenstored sets it up: "/", "/tool", "/tool/xenstored" owned by domain 0 with
/// no access for others, the special nodes "@introduceDomain" (n0) and "@releaseDomain" (n0 plus
/// read for DOMID_ANY, so every domain may watch it), and domain 0 introduced.
/// </remarks>
public sealed class Xenstored
{
    private readonly Dictionary<int, XenStoreDomain> _domains = [];
    private readonly List<XenStoreConnection> _connections = [];
    private readonly List<HostWatch> _hostWatches = [];
    private XenStoreQuotas _quotas;

    /// <summary>Creates the store with xenstored's initial nodes and the given quotas (default: xenstored's).</summary>
    public Xenstored(XenStoreQuotas? quotas = null)
    {
        _quotas = quotas ?? XenStoreQuotas.Default;
        Processor = new RequestProcessor(this);

        ulong gen = Nodes.NextGeneration();
        var priv = ImmutableArray.Create(XenStorePermission.NoAccess(0));
        Nodes.Set("/", new XenStoreNode("/", [], priv, gen, ImmutableList.Create("tool")));
        Nodes.Set("/tool", new XenStoreNode("/tool", [], priv, gen, ImmutableList.Create("xenstored")));
        Nodes.Set("/tool/xenstored", new XenStoreNode("/tool/xenstored", [], priv, gen, []));
        Nodes.Set(XenStorePath.ReleaseDomain, new XenStoreNode(XenStorePath.ReleaseDomain, [],
            ImmutableArray.Create(XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(XenStorePermission.DomidAny)), gen, []));
        Nodes.Set(XenStorePath.IntroduceDomain, new XenStoreNode(XenStorePath.IntroduceDomain, [], priv, gen, []));

        GetOrCreateDomain(CallerContext.PrivilegedDomainId).Introduced = true;
    }

    /// <summary>
    /// Called for INTRODUCE from the control domain with (domid, ring frame, event channel) before
    /// the domain is recorded; returning false fails the request with EINVAL. The transport
    /// typically maps the ring and calls <see cref="Connect"/> here (the store's lock is held).
    /// Null accepts every introduction.
    /// </summary>
    public Func<int, ulong, uint, bool>? IntroduceHook { get; set; }

    /// <summary>
    /// Called with the domid after a domain was released (RELEASE from the control domain or
    /// <see cref="ReleaseDomain"/>), so that the transport can unmap its ring and unbind its event
    /// channel. Runs with the store's lock held.
    /// </summary>
    public Action<int>? ReleaseHook { get; set; }

    /// <summary>The global quotas (defaults for domains without their own, see SET_QUOTA).</summary>
    public XenStoreQuotas Quotas
    {
        get { lock (Sync) return _quotas; }
        set { ArgumentNullException.ThrowIfNull(value); lock (Sync) _quotas = value; }
    }

    /// <summary>
    /// When a domain is released, nodes it owns are removed (with their subtrees), as xenstored
    /// does by default; with this set they are given to domain 0 instead (xenstored --keep-orphans).
    /// </summary>
    public bool KeepOrphans { get; set; }

    /// <summary>
    /// Feature bits offered to domains (default WATCHDEPTH | DOMID_ANY, which the store implements).
    /// A transport that maintains the ring's error field or supports reconnection may add those bits.
    /// </summary>
    public XenStoreFeatures SupportedFeatures { get; set; } = XenStoreFeatures.WatchDepth | XenStoreFeatures.DomidAny;

    /// <summary>Diagnostics: CONTROL "print" text, internal errors, "check" findings.</summary>
    public Action<string>? Log { get; set; }

    internal object Sync { get; } = new();
    internal NodeStore Nodes { get; } = new();
    internal RequestProcessor Processor { get; }

    /// <summary>The home path of a domain, <c>/local/domain/N</c> (GET_DOMAIN_PATH).</summary>
    public static string GetDomainPath(int domid) => XenStorePath.DomainPath(domid);

    /// <summary>
    /// Opens a connection for a client of domain <paramref name="domid"/>. <paramref name="send"/>
    /// receives whole messages (header + payload) and is called with the store's lock held.
    /// </summary>
    public XenStoreConnection Connect(int domid, Action<ReadOnlyMemory<byte>> send)
    {
        ArgumentNullException.ThrowIfNull(send);
        lock (Sync)
        {
            var conn = new XenStoreConnection(this, domid, send);
            _connections.Add(conn);
            return conn;
        }
    }

    // ---- toolstack helpers (domain 0, no connection, no transaction) ----

    /// <summary>Writes a UTF-8 value, creating missing parents.</summary>
    public void Write(string path, string value) => Write(path, Encoding.UTF8.GetBytes(value));

    /// <summary>Writes a value, creating missing parents.</summary>
    public void Write(string path, byte[] value) => AsControlDomain(ops => { ops.Write(path, value); return 0; });

    /// <summary>Reads a value as UTF-8; null when the node does not exist.</summary>
    public string? Read(string path) => ReadBytes(path) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>Reads a value; null when the node does not exist.</summary>
    public byte[]? ReadBytes(string path)
    {
        try
        {
            return AsControlDomain(ops => ops.Read(path));
        }
        catch (XenStoreException e) when (e.ErrorName == XsErrors.ENOENT)
        {
            return null;
        }
    }

    /// <summary>Whether a node exists.</summary>
    public bool Exists(string path) => AsControlDomain(ops => Nodes.Get(ops.Canonical(path, true)) is not null);

    /// <summary>Creates a node (and missing parents) with an empty value if it does not exist.</summary>
    public void Mkdir(string path) => AsControlDomain(ops => { ops.Mkdir(path); return 0; });

    /// <summary>Removes a node and its subtree (nothing to do when missing but its parent exists).</summary>
    public void Remove(string path) => AsControlDomain(ops => { ops.Remove(path); return 0; });

    /// <summary>Sets a node's permission list (first entry: owner and default access).</summary>
    public void SetPermissions(string path, params XenStorePermission[] permissions) =>
        AsControlDomain(ops => { ops.SetPermissions(path, [.. permissions.Select(p => p.ToString())]); return 0; });

    /// <summary>A node's permission list.</summary>
    public IReadOnlyList<XenStorePermission> GetPermissions(string path) => AsControlDomain(ops => ops.GetPermissions(path));

    /// <summary>The child names of a node, in creation order.</summary>
    public IReadOnlyList<string> Directory(string path) => AsControlDomain<IReadOnlyList<string>>(ops => ops.Children(path));

    /// <summary>
    /// A watch for code in the host (device backends): <paramref name="onEvent"/> gets the path
    /// of every change at or below the absolute <paramref name="path"/>, once right after the
    /// watch is set (as xenstored fires a new watch) and then for each write, removal and
    /// permission change. It runs with the store's lock held: it must not block (note the event
    /// and wake a thread). Dispose the result to remove the watch.
    /// </summary>
    public IDisposable WatchFromHost(string path, Action<string> onEvent)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(onEvent);
        if (!path.StartsWith('/')) throw new ArgumentException("a host watch needs an absolute path", nameof(path));
        lock (Sync)
        {
            var watch = new HostWatch(this, path.Length > 1 ? path.TrimEnd('/') : path, onEvent);
            _hostWatches.Add(watch);
            watch.Fire(watch.Path, WatchMatch.Exact);
            return watch;
        }
    }

    /// <summary>Marks a domain introduced and fires @introduceDomain (nothing if it already is).</summary>
    public void IntroduceDomain(int domid)
    {
        lock (Sync) DomainLifecycle.Introduce(this, domid, 0, 0, fromWire: false);
    }

    /// <summary>
    /// Releases an introduced domain: drops its connections' watches and transactions, removes
    /// the nodes it owns (see <see cref="KeepOrphans"/>) and fires @releaseDomain. ENOENT when the
    /// domain is not introduced, EINVAL for domain 0.
    /// </summary>
    public void ReleaseDomain(int domid)
    {
        lock (Sync) DomainLifecycle.Release(this, domid);
    }

    /// <summary>
    /// Reports that a domain shut down: fires @releaseDomain once (until RESUME re-arms it), as
    /// xenstored does when the hypervisor reports a shutdown.
    /// </summary>
    public void NotifyDomainShutdown(int domid)
    {
        lock (Sync) DomainLifecycle.Shutdown(this, domid);
    }

    /// <summary>Whether INTRODUCE (or <see cref="IntroduceDomain"/>) happened for the domain and no release since.</summary>
    public bool IsDomainIntroduced(int domid)
    {
        lock (Sync) return FindDomain(domid)?.Introduced == true;
    }

    /// <summary>Lets <paramref name="domid"/> act for <paramref name="targetDomid"/> (SET_TARGET); both must be introduced.</summary>
    public void SetTarget(int domid, int targetDomid)
    {
        lock (Sync) DomainLifecycle.SetTarget(this, domid, targetDomid);
    }

    /// <summary>The feature bits of a domain (what a transport writes into the ring page).</summary>
    public XenStoreFeatures GetDomainFeatures(int domid)
    {
        lock (Sync) return FindDomain(domid)?.Features ?? SupportedFeatures;
    }

    /// <summary>Number of nodes a domain owns.</summary>
    public int NodeCount(int domid)
    {
        lock (Sync) return Nodes.NodeCount(domid);
    }

    /// <summary>Checks the store's invariants (tree shape, permissions, accounting); empty when consistent.</summary>
    public IReadOnlyList<string> CheckInvariants()
    {
        lock (Sync) return Nodes.CheckInvariants();
    }

    // ---- internals shared by the request handlers ----

    private T AsControlDomain<T>(Func<NodeOperations, T> operation)
    {
        lock (Sync)
        {
            var events = new List<PendingEvent>();
            var result = operation(new NodeOperations(Nodes, CallerFor(CallerContext.PrivilegedDomainId), events));
            Fire(events);
            return result;
        }
    }

    internal XenStoreDomain? FindDomain(int domid) => _domains.GetValueOrDefault(domid);

    internal XenStoreDomain GetOrCreateDomain(int domid)
    {
        if (!_domains.TryGetValue(domid, out var d))
            _domains[domid] = d = new XenStoreDomain(domid, SupportedFeatures);
        return d;
    }

    internal void RemoveDomain(int domid) => _domains.Remove(domid);

    internal XenStoreQuotas QuotasFor(int domid) => FindDomain(domid)?.QuotaOverride ?? _quotas;

    internal XenStoreQuotas GlobalQuotas { get => _quotas; set => _quotas = value; }

    internal CallerContext CallerFor(int domid)
    {
        var d = FindDomain(domid);
        return new CallerContext(domid, d?.TargetDomainId, d?.QuotaOverride ?? _quotas);
    }

    internal XenStoreConnection[] ConnectionsSnapshot() => [.. _connections];

    internal IEnumerable<XenStoreConnection> ConnectionsOf(int domid) => _connections.Where(c => c.DomainId == domid);

    internal void RemoveConnection(XenStoreConnection conn) => _connections.Remove(conn);

    internal HostWatch[] HostWatchesSnapshot() => _hostWatches.Count == 0 ? [] : [.. _hostWatches];

    internal void RemoveHostWatch(HostWatch watch)
    {
        lock (Sync) _hostWatches.Remove(watch);
    }

    internal int WatchCount(int domid) => ConnectionsOf(domid).Sum(c => c.Watches.Count);

    internal int TransactionCount(int domid) => ConnectionsOf(domid).Sum(c => c.Transactions.Count);

    internal void Fire(IEnumerable<PendingEvent> events)
    {
        foreach (var ev in events) WatchDispatcher.Fire(this, ev);
    }

    internal void Report(string message) => Log?.Invoke(message);
}
