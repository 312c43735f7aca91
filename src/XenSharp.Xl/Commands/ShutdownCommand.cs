namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl shutdown [-w] DOMAIN` and `xl reboot [-w] DOMAIN`: ask the guest to power off or
/// reboot through XenStore (control/shutdown), as Xen's xl does for guests with PV drivers.
/// -w waits until the domain has shut down.
/// </summary>
public static class ShutdownCommand
{
    public static int Run(string[] args, string reason)
    {
        bool wait = false;
        var names = new List<string>();
        foreach (var a in args)
        {
            if (a == "-w") wait = true;
            else if (a.StartsWith('-')) throw new XlUsageException($"xl {Verb(reason)}: unknown option '{a}' (accepted: -w)");
            else names.Add(a);
        }
        if (names.Count != 1) throw new XlUsageException($"usage: xl {Verb(reason)} [-w] <Domain>");
        var reply = Request.Call("shutdown", w =>
        {
            w.WriteString("domain", names[0]);
            w.WriteString("reason", reason);
            w.WriteBoolean("wait", wait);
        });
        if (wait) Console.Error.WriteLine($"Domain {reply.GetProperty("domid").GetInt32()} has been shut down, reason code {reply.GetProperty("reason").GetString()}");
        return ExitCodes.Success;
    }

    private static string Verb(string reason) => reason == "reboot" ? "reboot" : "shutdown";
}
