namespace XenSharp.Xl.Commands;

/// <summary>`xl unpause DOMAIN`: start a domain created with `xl create -p`, or resume one paused by `xl pause`.</summary>
public static class UnpauseCommand
{
    public static int Run(string[] args)
    {
        var names = args.Where(a => !a.StartsWith('-')).ToArray();
        if (names.Length != 1 || names.Length != args.Length) throw new XlUsageException("usage: xl unpause <Domain>");
        Request.Call("unpause", w => w.WriteString("domain", names[0]));
        return ExitCodes.Success;
    }
}
