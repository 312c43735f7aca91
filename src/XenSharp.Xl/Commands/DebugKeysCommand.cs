namespace XenSharp.Xl.Commands;

/// <summary>`xl debug-keys KEYS`: runs Xen's debug-key handlers; their output is in `xl dmesg`.</summary>
public static class DebugKeysCommand
{
    public static int Run(string[] args)
    {
        if (args.Length != 1 || args[0].Length == 0)
            throw new XlUsageException("usage: xl debug-keys <Keys>  (h lists the keys; the output is in `xl dmesg`)");
        Request.Call("debug-keys", w => w.WriteString("keys", args[0]));
        return ExitCodes.Success;
    }
}
