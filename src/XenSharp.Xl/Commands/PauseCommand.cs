namespace XenSharp.Xl.Commands;

/// <summary>`xl pause DOMAIN`: stop a running domain's vCPUs (state kept) until `xl unpause`.</summary>
public static class PauseCommand
{
    public static int Run(string[] args)
    {
        var names = args.Where(a => !a.StartsWith('-')).ToArray();
        if (names.Length != 1 || names.Length != args.Length) throw new XlUsageException("usage: xl pause <Domain>");
        Request.Call("pause", w => w.WriteString("domain", names[0]));
        return ExitCodes.Success;
    }
}
