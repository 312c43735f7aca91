using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl daemon [--] [NAME=VALUE ...]` runs the daemon in the foreground with those hypervisor
/// parameters (after xensharpd.conf's); `xl daemon-stop` ends a running one.
/// </summary>
public static class DaemonCommand
{
    public static int Run(string[] args)
    {
        var parameters = args.Length > 0 && args[0] == "--" ? args[1..] : args;
        if (parameters.FirstOrDefault(a => a.StartsWith('-')) is { } option)
            throw new XlUsageException($"xl daemon: unknown option '{option}' (usage: xl daemon [--] [NAME=VALUE ...])");
        return XenSharpDaemon.Run(StatePaths.Resolve(), parameters);
    }

    public static int Stop(string[] args)
    {
        var client = ControlClient.TryConnect(StatePaths.Resolve());
        if (client is null)
        {
            Console.Error.WriteLine("xl: no XenSharp daemon is running");
            return ExitCodes.Success;
        }
        using (client) Request.Call(client, "quit");
        return ExitCodes.Success;
    }
}
