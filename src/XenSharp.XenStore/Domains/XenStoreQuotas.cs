namespace XenSharp.XenStore;

/// <summary>
/// Per-domain limits, with xenstored's defaults (<c>quotas[]</c> in tools/xenstored/domain.c).
/// They apply to unprivileged domains only. A value of 0 disables a check. As in xenstored, an
/// amount <i>reaching</i> the quota is refused (<c>val &gt;= quota</c>): with the default of 1000
/// nodes a domain can own 999, with 128 watches it can hold 127, and so on.
/// </summary>
/// <remarks>
/// xenstored's "memory" quota is not modelled: there it stalls the connection rather than failing
/// a request. "outstanding" is kept for GET_QUOTA/SET_QUOTA compatibility, but requests are
/// answered synchronously inside <see cref="XenStoreConnection.Receive"/>, so a connection never
/// has more than one request outstanding.
/// </remarks>
public sealed record XenStoreQuotas
{
    /// <summary>Nodes a domain may own ("nodes"; failing creation gets ENOSPC).</summary>
    public int Nodes { get; init; } = 1000;

    /// <summary>Watches a domain may hold ("watches"; ENOSPC).</summary>
    public int Watches { get; init; } = 128;

    /// <summary>Outstanding requests per domain ("outstanding"); informational here.</summary>
    public int Outstanding { get; init; } = 20;

    /// <summary>Concurrent transactions per domain ("transactions"; ENOSPC).</summary>
    public int Transactions { get; init; } = 10;

    /// <summary>Distinct nodes one transaction may access ("transaction-nodes"; ENOSPC).</summary>
    public int TransactionNodes { get; init; } = 1024;

    /// <summary>Entries in one permission list ("node-permissions"; ENOSPC).</summary>
    public int NodePermissions { get; init; } = 5;

    /// <summary>Path length below the domain's home ("path-max"; EINVAL). Default XENSTORE_REL_PATH_MAX.</summary>
    public int PathMax { get; init; } = 2048;

    /// <summary>
    /// Size of one node ("node-size"; ENOSPC), counted as xenstored does: 16 header bytes, 8 per
    /// permission entry, the value, and the child names with their NULs.
    /// </summary>
    public int NodeSize { get; init; } = 2048;

    /// <summary>xenstored's defaults.</summary>
    public static XenStoreQuotas Default { get; } = new();

    /// <summary>The quota names of the protocol (GET_QUOTA/SET_QUOTA, CONTROL quota), in xenstored's order.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["nodes", "watches", "outstanding", "transactions", "transaction-nodes", "node-permissions", "path-max", "node-size"];

    /// <summary>The one-line description of a quota, as CONTROL "quota" prints it.</summary>
    public static string Describe(string name) => name switch
    {
        "nodes" => "Nodes per domain",
        "watches" => "Watches per domain",
        "outstanding" => "Outstanding requests per domain",
        "transactions" => "Active transactions per domain",
        "transaction-nodes" => "Max. number of accessed nodes per transaction",
        "node-permissions" => "Max. number of permissions per node",
        "path-max" => "Max. length of a node path",
        "node-size" => "Max. size of a node",
        _ => "",
    };

    /// <summary>The value of the quota called <paramref name="name"/>, or null for an unknown name.</summary>
    public int? Get(string name) => name switch
    {
        "nodes" => Nodes,
        "watches" => Watches,
        "outstanding" => Outstanding,
        "transactions" => Transactions,
        "transaction-nodes" => TransactionNodes,
        "node-permissions" => NodePermissions,
        "path-max" => PathMax,
        "node-size" => NodeSize,
        _ => null,
    };

    /// <summary>A copy with the quota called <paramref name="name"/> set, or null for an unknown name.</summary>
    public XenStoreQuotas? With(string name, int value) => name switch
    {
        "nodes" => this with { Nodes = value },
        "watches" => this with { Watches = value },
        "outstanding" => this with { Outstanding = value },
        "transactions" => this with { Transactions = value },
        "transaction-nodes" => this with { TransactionNodes = value },
        "node-permissions" => this with { NodePermissions = value },
        "path-max" => this with { PathMax = value },
        "node-size" => this with { NodeSize = value },
        _ => null,
    };
}
