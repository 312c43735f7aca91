namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl info`: host and hypervisor facts, one "key : value" per line as xl prints them.
/// `xl info -p`: the hypervisor parameters, one "name : value" line each, followed by
/// (live) or (boot) and what is accepted; xen_commandline in `xl info` is the boot string.
/// </summary>
public static class InfoCommand
{
    public static int Run(string[] args)
    {
        bool parameters = false;
        foreach (var a in args)
        {
            if (a == "-p") parameters = true;
            else throw new XlUsageException($"xl info: unknown option '{a}' (accepted: -p)");
        }
        if (parameters) return PrintParameters();
        var reply = Request.Call("info");
        foreach (var pair in reply.GetProperty("info").EnumerateArray())
            Console.Out.Write($"{pair[0].GetString(),-23}: {pair[1].GetString()}\n");
        return ExitCodes.Success;
    }

    private static int PrintParameters()
    {
        var reply = Request.Call("get-parameters");
        foreach (var p in reply.GetProperty("parameters").EnumerateArray())
        {
            bool live = p.GetProperty("live").GetBoolean();
            Console.Out.Write($"{p.GetProperty("name").GetString(),-23}: {p.GetProperty("value").GetString()}\n");
            Console.Out.Write($"{"",-25}{(live ? "live" : "boot only")}; default {p.GetProperty("default").GetString()}; {p.GetProperty("description").GetString()}\n");
            Console.Out.Write($"{"",-25}accepted: {p.GetProperty("accepted").GetString()}\n");
        }
        return ExitCodes.Success;
    }
}
