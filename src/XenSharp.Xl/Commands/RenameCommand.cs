namespace XenSharp.Xl.Commands;

/// <summary>`xl rename DOMAIN NEWNAME`: give a domain a new name.</summary>
public static class RenameCommand
{
    public static int Run(string[] args)
    {
        if (args.Length != 2 || args.Any(a => a.StartsWith('-'))) throw new XlUsageException("usage: xl rename <Domain> <NewDomainName>");
        try
        {
            Request.Call("rename", w =>
            {
                w.WriteString("domain", args[0]);
                w.WriteString("new_name", args[1]);
            });
        }
        catch (XlUsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return XlMain.Fail($"Can't rename domain '{args[0]}'.");
        }
        return ExitCodes.Success;
    }
}
