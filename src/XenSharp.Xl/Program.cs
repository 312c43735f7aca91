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
            if (args.Length == 0)
            {
                Console.Out.Write(Usage);
                return ExitCodes.Failure;
            }
            if (args[0] is "-h" or "--help") args = ["help", .. args[1..]];
            string[] rest = args[1..];
            try
            {
                if (CommandTable.Find(args[0]) is not { } command)
                    return Fail($"xl: unknown command '{args[0]}' (try `xl help`)");
                if (command.Name != "help" && rest.TakeWhile(a => a != "--").Any(a => a is "-h" or "--help"))
                {
                    Console.Out.Write(HelpCommand.CommandUsage(command));
                    return ExitCodes.Success;
                }
                return command.Run(rest);
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

        /// <summary>`xl help`: every command with its one-line summary.</summary>
        public static string Usage
        {
            get
            {
                var text = new System.Text.StringBuilder();
                text.Append("Usage: xl <subcommand> [args]\n\nXenSharp's xl: manage Xen guests on this host.\n\n");
                foreach (var c in CommandTable.All) text.Append($" {c.Name,-16}{c.Summary}\n");
                text.Append("\n`xl help <subcommand>` or `xl <subcommand> -h` shows the usage of one.\n");
                return text.ToString();
            }
        }
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
