using XenSharp.Toolstack.Config;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's parameters, read at start from <see cref="StatePaths.ParametersFile"/> in
/// xl.cfg syntax (a missing file means defaults). Known keys:
/// <code>
///   # xenstored quotas, as xenstored's -Q name=value (0 turns a check off)
///   xenstore_quota = [ "nodes=1000", "watches=128", "transactions=10", "outstanding=20",
///                      "transaction-nodes=1024", "node-permissions=5", "path-max=2048",
///                      "node-size=2048" ]
/// </code>
/// A bad value stops the daemon with an error naming the file, line and what is accepted.
/// Quotas can also be changed at run time through xenstored's CONTROL "quota set NAME VALUE"
/// message (what Xen's `xenstore-control quota set` sends).
/// </summary>
public sealed record DaemonParameters(XenStoreQuotas XenStoreQuotas)
{
    public static DaemonParameters Default { get; } = new(XenStoreQuotas.Default);

    public static DaemonParameters Load(string path)
    {
        if (!File.Exists(path)) return Default;
        var file = XlConfigParser.ParseFile(path);
        var quotas = XenStoreQuotas.Default;
        foreach (var setting in file.Settings)
        {
            switch (setting.Key)
            {
                case "xenstore_quota":
                    var items = setting.Value is XlList list ? list.Items : [setting.Value];
                    foreach (var item in items)
                    {
                        string text = item.ScalarText ?? "";
                        var parts = text.Split('=', 2);
                        if (parts.Length != 2 || !int.TryParse(parts[1], out int value) || value < 0 ||
                            quotas.With(parts[0], value) is not { } updated)
                            throw new XlConfigException(
                                $"{setting.Location}: xenstore_quota: bad entry '{text}' (accepted: NAME=N with N >= 0 and NAME one of {string.Join(", ", XenStoreQuotas.Names)})");
                        quotas = updated;
                    }
                    break;
                default:
                    throw new XlConfigException($"{setting.Location}: unknown daemon parameter '{setting.Key}' (accepted: xenstore_quota)");
            }
        }
        return new DaemonParameters(quotas);
    }

    /// <summary>The quotas as "name=value" pairs for `xl info`.</summary>
    public static string Describe(XenStoreQuotas q) =>
        string.Join(" ", XenStoreQuotas.Names.Select(n => $"{n}={q.Get(n)}"));
}
