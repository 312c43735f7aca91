namespace XenSharp.Xl.Commands;

/// <summary>`xl info`: host and hypervisor facts, one "key : value" per line as xl prints them.</summary>
public static class InfoCommand
{
    public static int Run(string[] args)
    {
        var reply = Request.Call("info");
        foreach (var pair in reply.GetProperty("info").EnumerateArray())
            Console.Out.Write($"{pair[0].GetString(),-23}: {pair[1].GetString()}\n");
        return ExitCodes.Success;
    }
}
