namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl set-parameters "NAME=VALUE ..."`: changes live hypervisor parameters, all or nothing.
/// Prints nothing on success (as Xen's xl); a refusal names each bad parameter and what is
/// accepted, and exits 1 with nothing changed.
/// </summary>
public static class SetParametersCommand
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args.Any(a => a.StartsWith('-')))
            throw new XlUsageException("usage: xl set-parameters <Params>  (Params: \"NAME=VALUE ...\"; `xl info -p` lists them)");
        string text = string.Join(' ', args);
        try
        {
            Request.Call("set-parameters", w => w.WriteString("params", text));
        }
        catch (XlUsageException e)
        {
            throw new XlUsageException("xl set-parameters: " + e.Message);
        }
        return ExitCodes.Success;
    }
}
