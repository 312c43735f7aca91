using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl shutdown [-w] <-a|DOMAIN>` and `xl reboot [-w] <-a|DOMAIN>`: ask the guest to power off
/// or reboot through XenStore (control/shutdown), as Xen's xl does for guests with PV drivers.
/// -w waits until the domain has shut down; -a asks every guest domain (not Domain-0, nor a
/// domain already shut down and preserved), and with -w waits for all of them.
/// </summary>
public static class ShutdownCommand
{
    public static int Run(string[] args, string reason)
    {
        bool wait = false, all = false;
        var names = new List<string>();
        foreach (var a in args)
        {
            switch (a)
            {
                case "-w" or "--wait": wait = true; break;
                case "-a" or "--all": all = true; break;
                case "-aw" or "-wa": all = wait = true; break;
                default:
                    if (a.StartsWith('-')) throw new XlUsageException($"xl {Verb(reason)}: unknown option '{a}' (accepted: -a, -w)");
                    names.Add(a);
                    break;
            }
        }
        if (all && names.Count > 0) throw new XlUsageException($"xl {Verb(reason)}: -a takes no domain (usage: xl {Verb(reason)} [-w] <-a|Domain>)");
        if (all) return RunAll(reason, wait);
        if (names.Count != 1)
            throw new XlUsageException(names.Count == 0
                ? $"You must specify -a or a domain id. (usage: xl {Verb(reason)} [-w] <-a|Domain>)"
                : $"usage: xl {Verb(reason)} [-w] <-a|Domain>");
        var reply = Request.Call("shutdown", w =>
        {
            w.WriteString("domain", names[0]);
            w.WriteString("reason", reason);
            w.WriteBoolean("wait", wait);
        });
        if (wait) Console.Error.WriteLine(ShutDownLine(reply));
        return ExitCodes.Success;
    }

    private static string ShutDownLine(System.Text.Json.JsonElement reply) =>
        $"Domain {reply.GetProperty("domid").GetInt32()} has been shut down, reason code {reply.GetProperty("reason").GetString()}";

    private static int RunAll(string reason, bool wait)
    {
        var targets = DomainTable.Fetch()
            .Where(r => DomainTable.Id(r) != 0)
            .Where(r => r.GetProperty("state").GetString() is not { } s || (!s.Contains('s') && !s.Contains('d')))
            .Select(r => DomainTable.Id(r).ToString(CultureInfo.InvariantCulture))
            .ToList();
        if (!wait)
        {
            foreach (var id in targets)
                Request.Call("shutdown", w => { w.WriteString("domain", id); w.WriteString("reason", reason); w.WriteBoolean("wait", false); });
            return ExitCodes.Success;
        }
        Console.Error.WriteLine($"Waiting for {targets.Count} domains");
        var output = new object();
        int failures = 0;
        // One connection per domain, each waiting for its domain's end.
        var tasks = targets.Select(id => Task.Run(() =>
        {
            try
            {
                var reply = Request.Call("shutdown", w => { w.WriteString("domain", id); w.WriteString("reason", reason); w.WriteBoolean("wait", true); });
                lock (output) Console.Error.WriteLine(ShutDownLine(reply));
            }
            catch (XlUsageException e)
            {
                Interlocked.Increment(ref failures);
                lock (output) Console.Error.WriteLine(e.Message);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static string Verb(string reason) => reason == "reboot" ? "reboot" : "shutdown";
}
