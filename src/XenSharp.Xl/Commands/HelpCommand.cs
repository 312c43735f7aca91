namespace XenSharp.Xl.Commands;

/// <summary>`xl help [COMMAND]` and `xl COMMAND -h`: the command list, or one command's usage. Exit 0.</summary>
public static class HelpCommand
{
    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Out.Write(XlMain.Usage);
            return ExitCodes.Success;
        }
        if (args.Length > 1) throw new XlUsageException("usage: xl help [Command]");
        var command = CommandTable.Find(args[0])
            ?? throw new XlUsageException($"xl help: unknown command '{args[0]}' (try `xl help` for the list)");
        Console.Out.Write(CommandUsage(command));
        return ExitCodes.Success;
    }

    public static string CommandUsage(XlCommand c)
    {
        var text = $"Usage: {c.Usage}\n\n{c.Summary}.\n";
        if (c.Details.Length > 0) text += "\n" + c.Details.TrimEnd('\n') + "\n";
        return text;
    }
}
