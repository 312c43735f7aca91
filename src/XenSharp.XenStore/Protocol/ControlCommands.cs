using System.Globalization;
using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore;

/// <summary>
/// XS_CONTROL (control domain only): the command is the first string, parameters follow.
/// Implemented: "check" (verify the store's invariants; findings go to the log), "print"
/// (log a string), "quota" (show the global quotas; "set NAME VALUE"; "DOMID" for a domain's usage),
/// "help". xenstored's "log", "logfile", "memreport", "live-update" and "quota-soft" exist but are
/// not supported here (ENOSYS); an unknown command or wrong parameter count is EINVAL.
/// </summary>
internal static class ControlCommands
{
    private static readonly (string Name, string Parameters)[] s_commands =
    [
        ("check", ""),
        ("print", "<string>"),
        ("quota", "[set <name> <val>|<domid>]"),
        ("help", ""),
    ];

    private static readonly string[] s_unsupported = ["log", "logfile", "memreport", "live-update", "quota-soft"];

    private static readonly byte[] s_ok = "OK\0"u8.ToArray();

    public static byte[] Execute(Xenstored store, ReadOnlySpan<byte> payload)
    {
        var args = XsPayload.Strings(payload);
        if (args.Count == 0) throw new XenStoreException(XsErrors.EINVAL);
        string command = args[0];
        var pars = args.GetRange(1, args.Count - 1);
        switch (command)
        {
            case "check":
                if (pars.Count != 0) throw new XenStoreException(XsErrors.EINVAL);
                foreach (var problem in store.Nodes.CheckInvariants()) store.Report("check: " + problem);
                return s_ok;
            case "print":
                if (pars.Count != 1) throw new XenStoreException(XsErrors.EINVAL);
                store.Report("control: " + pars[0]);
                return s_ok;
            case "quota":
                return Quota(store, pars);
            case "help":
            {
                if (pars.Count != 0) throw new XenStoreException(XsErrors.EINVAL);
                var text = new StringBuilder();
                foreach (var (name, parameters) in s_commands) text.Append(CultureInfo.InvariantCulture, $"{name,-15} {parameters}\n");
                return RequestProcessor.Text(text.ToString());
            }
            default:
                throw new XenStoreException(s_unsupported.Contains(command) ? XsErrors.ENOSYS : XsErrors.EINVAL);
        }
    }

    private static byte[] Quota(Xenstored store, List<string> pars)
    {
        if (pars.Count == 0)
        {
            var text = new StringBuilder("Quota settings:\n");
            foreach (var name in XenStoreQuotas.Names)
                text.Append(CultureInfo.InvariantCulture,
                    $"{name,-17}: {store.GlobalQuotas.Get(name),8} {XenStoreQuotas.Describe(name)}\n");
            return RequestProcessor.Text(text.ToString());
        }
        if (pars[0] == "set")
        {
            if (pars.Count != 3) throw new XenStoreException(XsErrors.EINVAL);
            int value = CNumber.Atoi(pars[2]);
            if (value < 1) throw new XenStoreException(XsErrors.EINVAL);
            store.GlobalQuotas = store.GlobalQuotas.With(pars[1], value) ?? throw new XenStoreException(XsErrors.EINVAL);
            return s_ok;
        }
        if (pars.Count != 1) throw new XenStoreException(XsErrors.EINVAL);
        int domid = CNumber.Atoi(pars[0]);
        if (store.FindDomain(domid) is null) throw new XenStoreException(XsErrors.ENOENT);
        var usage = new StringBuilder();
        usage.Append(CultureInfo.InvariantCulture, $"Domain {domid}:\n");
        usage.Append(CultureInfo.InvariantCulture, $"{"nodes",-17}: {store.Nodes.NodeCount(domid),8}\n");
        usage.Append(CultureInfo.InvariantCulture, $"{"watches",-17}: {store.WatchCount(domid),8}\n");
        usage.Append(CultureInfo.InvariantCulture, $"{"outstanding",-17}: {0,8}\n");
        usage.Append(CultureInfo.InvariantCulture, $"{"transactions",-17}: {store.TransactionCount(domid),8}\n");
        return RequestProcessor.Text(usage.ToString());
    }
}
