namespace XenSharp.Xl.Commands;

/// <summary>`xl dmesg [-c]`: the hypervisor's console log (-c clears it after printing).</summary>
public static class DmesgCommand
{
    public static int Run(string[] args)
    {
        bool clear = false;
        foreach (var a in args)
        {
            if (a == "-c") clear = true;
            else throw new XlUsageException($"xl dmesg: unknown option '{a}' (accepted: -c)");
        }
        var reply = Request.Call("dmesg", w => w.WriteBoolean("clear", clear));
        Console.Out.Write(reply.GetProperty("text").GetString());
        return ExitCodes.Success;
    }
}
