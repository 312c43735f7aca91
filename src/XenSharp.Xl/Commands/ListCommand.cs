using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>`xl list [DOMAIN...]`: the domain table in xl's layout.</summary>
public static class ListCommand
{
    public static int Run(string[] args)
    {
        var wanted = args.Where(a => !a.StartsWith('-')).ToHashSet();
        var reply = Request.Call("list");
        var rows = reply.GetProperty("domains").EnumerateArray().ToList();
        if (wanted.Count > 0)
        {
            foreach (var w in wanted)
            {
                if (!rows.Any(r => r.GetProperty("name").GetString() == w || r.GetProperty("domid").GetInt32().ToString() == w))
                    return XlMain.Fail($"{w} is an invalid domain identifier (rc=-6)");
            }
            rows = rows.Where(r => wanted.Contains(r.GetProperty("name").GetString()!) || wanted.Contains(r.GetProperty("domid").GetInt32().ToString())).ToList();
        }
        var o = Console.Out;
        o.Write("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
        foreach (var r in rows)
        {
            o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-40} {1,5} {2,5} {3,5}     {4}  {5,8:F1}\n",
                r.GetProperty("name").GetString(),
                r.GetProperty("domid").GetInt32(),
                r.GetProperty("memory_mib").GetInt64(),
                r.GetProperty("vcpus").GetInt32(),
                r.GetProperty("state").GetString(),
                r.GetProperty("cpu_time").GetDouble()));
        }
        return ExitCodes.Success;
    }
}
