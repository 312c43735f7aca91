namespace XenSharp.Xl.Commands;

/// <summary>`xl destroy DOMAIN`: terminate a domain immediately.</summary>
public static class DestroyCommand
{
    public static int Run(string[] args)
    {
        var names = args.Where(a => !a.StartsWith('-')).ToArray();
        if (names.Length != 1) throw new XlUsageException("usage: xl destroy <Domain>");
        Request.Call("destroy", w => w.WriteString("domain", names[0]));
        return ExitCodes.Success;
    }
}
