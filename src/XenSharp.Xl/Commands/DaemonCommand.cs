using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>`xl daemon` runs the daemon in the foreground; `xl daemon-stop` ends a running one.</summary>
public static class DaemonCommand
{
    public static int Run(string[] args) => XenSharpDaemon.Run(StatePaths.Resolve());

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
