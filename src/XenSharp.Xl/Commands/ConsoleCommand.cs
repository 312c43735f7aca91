namespace XenSharp.Xl.Commands;

/// <summary>`xl console DOMAIN`: show a domain's console until it ends (Ctrl-C detaches).</summary>
public static class ConsoleCommand
{
    public static int Run(string[] args)
    {
        var names = args.Where(a => !a.StartsWith('-')).ToArray();
        if (names.Length != 1) throw new XlUsageException("usage: xl console <Domain>");
        return Attach(names[0]);
    }

    public static int Attach(string domain, bool print = true)
    {
        var client = DaemonConnection.Connect();
        Request.Call(client, "console", w => w.WriteString("domain", domain));
        return ConsoleStream.Pump(client, print);
    }
}
