using XenSharp.Xl;
using XenSharp.Xl.Commands;

// xl: the XenSharp toolstack's command line, as Xen users know it.
return XlMain.Run(args);

namespace XenSharp.Xl
{
    /// <summary>Command dispatch and the usage text.</summary>
    public static class XlMain
    {
        public static int Run(string[] args)
        {
            if (args.Length == 0 || args[0] is "help" or "-h" or "--help")
            {
                Console.Out.Write(Usage);
                return args.Length == 0 ? ExitCodes.Failure : ExitCodes.Success;
            }
            string[] rest = args[1..];
            try
            {
                return args[0] switch
                {
                    "create" => CreateCommand.Run(rest),
                    "list" => ListCommand.Run(rest),
                    "destroy" => DestroyCommand.Run(rest),
                    "console" => ConsoleCommand.Run(rest),
                    "dmesg" => DmesgCommand.Run(rest),
                    "info" => InfoCommand.Run(rest),
                    "unpause" => UnpauseCommand.Run(rest),
                    "pause" => PauseCommand.Run(rest),
                    "domid" => DomIdCommand.DomId(rest),
                    "domname" => DomIdCommand.DomName(rest),
                    "rename" => RenameCommand.Run(rest),
                    "uptime" => UptimeCommand.Run(rest),
                    "vcpu-list" => VcpuListCommand.Run(rest),
                    "shutdown" => ShutdownCommand.Run(rest, "poweroff"),
                    "reboot" => ShutdownCommand.Run(rest, "reboot"),
                    "daemon" => DaemonCommand.Run(rest),
                    "daemon-stop" => DaemonCommand.Stop(rest),
                    _ => Fail($"xl: unknown command '{args[0]}' (try `xl help`)"),
                };
            }
            catch (XlUsageException e)
            {
                Console.Error.WriteLine(e.Message);
                return ExitCodes.Failure;
            }
        }

        public static int Fail(string message)
        {
            Console.Error.WriteLine(message);
            return ExitCodes.Failure;
        }

        public const string Usage = """
            Usage: xl <subcommand> [args]

            XenSharp's xl: manage Xen guests on this host.

             create        Create a domain from config file <filename>
                           xl create [-c] [-p] [-n] [-q] [-F] <ConfigFile> [key=value ...]
                           (-n: dry run, print the parsed config; -q: quiet; -F: stay in
                           the foreground until the domain is gone)
             list          List information about all/some domains (-l: JSON, -v: verbose)
             destroy       Terminate a domain immediately
             console       Attach to domain's console
             dmesg         Read and/or clear the hypervisor's message buffer (-c clears)
             info          Get information about the Xen host
             pause         Pause execution of a domain
             unpause       Unpause a paused domain
             domid         Convert a domain name to domain id
             domname       Convert a domain id to domain name
             rename        Rename a domain
             uptime        Print uptime for all/some domains (-s: short form)
             vcpu-list     List the VCPUs for all/some domains
             shutdown      Issue a shutdown signal to a domain (-w waits for it)
             reboot        Issue a reboot signal to a domain (-w waits for it)
             daemon        Run the XenSharp daemon in the foreground (xl starts it when needed)
             daemon-stop   Stop the daemon, destroying its domains
             help          Show this text

            """;
    }

    /// <summary>xl's exit codes.</summary>
    public static class ExitCodes
    {
        public const int Success = 0;
        public const int Failure = 1;
        /// <summary>`xl create -c`: the guest crashed (or its watchdog fired).</summary>
        public const int GuestCrashed = 2;
    }

    /// <summary>Bad command-line usage; the message says what is accepted.</summary>
    public sealed class XlUsageException(string message) : Exception(message);
}
