namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl dump-core DOMAIN [FILE]`: the daemon writes the domain's ELF core file (pausing it while it
/// writes; a running domain keeps running) to FILE, or to a new file in its dump directory.
/// </summary>
public static class DumpCoreCommand
{
    public const string Usage = "xl dump-core <Domain> [Filename]";

    public static int Run(string[] args)
    {
        if (args.Length is < 1 or > 2 || args.Any(a => a.StartsWith('-'))) throw new XlUsageException($"usage: {Usage}");
        var reply = Request.Call("dump-core", w =>
        {
            w.WriteString("domain", args[0]);
            if (args.Length == 2) w.WriteString("file", args[1]);
            w.WriteString("cwd", Environment.CurrentDirectory);
        });
        Console.Out.Write($"{reply.GetProperty("path").GetString()}\n");
        return ExitCodes.Success;
    }
}
