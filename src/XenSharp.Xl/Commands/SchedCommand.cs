using System.Globalization;
using System.Text.Json;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl sched-credit2`, `xl sched-credit` and `xl sched-null`: show or set a domain's weight and
/// cap (-d, -w, -c) or a cpupool's scheduler parameters (-s, -p, -r, -t), in Xen's layout:
/// "Cpupool NAME: ratelimit=Nus" (credit: "tslice=Nms ratelimit=Nus"), then "Name ID Weight Cap".
/// </summary>
public static class SchedCommand
{
    public const string Credit2Usage = "xl sched-credit2 [-d <Domain> [-w <Weight>] [-c <Cap>]] [-s [-p <Pool>] [-r <RateLimitUs>]]";
    public const string CreditUsage = "xl sched-credit [-d <Domain> [-w <Weight>] [-c <Cap>]] [-s [-p <Pool>] [-t <TsliceMs>] [-r <RateLimitUs>]]";
    public const string NullUsage = "xl sched-null [-d <Domain>] [-p <Pool>]";

    public static int Credit2(string[] args) => Run("credit2", Credit2Usage, args);
    public static int Credit(string[] args) => Run("credit", CreditUsage, args);
    public static int Null(string[] args) => Run("null", NullUsage, args);

    private static int Run(string sched, string usage, string[] args)
    {
        string? domain = null, pool = null;
        int? weight = null, cap = null, ratelimit = null, tslice = null;
        bool schedParam = false;
        string cmd = "xl sched-" + sched;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value()
            {
                if (i + 1 >= args.Length) throw new XlUsageException($"{cmd}: option '{a}' needs a value (usage: {usage})");
                return args[++i];
            }
            int Number(string what)
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n)
                    ? n : throw new XlUsageException($"{cmd}: {what} \"{v}\" is not a number");
            }
            switch (a)
            {
                case "-d" or "--domain": domain = Value(); break;
                case "-p" or "--cpupool": pool = Value(); break;
                case "-s" or "--schedparam" when sched != "null": schedParam = true; break;
                case "-w" or "--weight" when sched != "null": weight = Number("weight"); break;
                case "-c" or "--cap" when sched != "null": cap = Number("cap"); break;
                case "-r" or "--ratelimit_us" when sched != "null": ratelimit = Number("ratelimit"); break;
                case "-t" or "--tslice_ms" when sched == "credit": tslice = Number("tslice"); break;
                default: throw new XlUsageException($"{cmd}: unknown option '{a}' (usage: {usage})");
            }
        }
        if (schedParam && (domain is not null || weight is not null || cap is not null))
            return XlMain.Fail("Specifying a cpupool or schedparam is not allowed with domain options.");
        if (!schedParam && (ratelimit is not null || tslice is not null))
            return XlMain.Fail($"{cmd}: -r/-t set a cpupool's parameters: add -s (usage: {usage})");
        if (domain is null && (weight is not null || cap is not null))
            return XlMain.Fail("Must specify a domain.");
        if (domain is not null && pool is not null)
            return XlMain.Fail("Specifying a cpupool is not allowed with other options.");
        try
        {
            if (domain is not null && (weight is not null || cap is not null))
            {
                Request.Call("sched-domain-set", w =>
                {
                    w.WriteString("domain", domain);
                    w.WriteString("sched", sched);
                    if (weight is { } wt) w.WriteNumber("weight", wt);
                    if (cap is { } c) w.WriteNumber("cap", c);
                });
                return ExitCodes.Success;
            }
            if (schedParam && (ratelimit is not null || tslice is not null))
            {
                Request.Call("sched-pool-set", w =>
                {
                    if (pool is not null) w.WriteString("pool", pool);
                    w.WriteString("sched", sched);
                    if (ratelimit is { } r) w.WriteNumber("ratelimit_us", r);
                    if (tslice is { } t) w.WriteNumber("tslice_ms", t);
                });
                return ExitCodes.Success;
            }
            var pools = Request.Call("sched-list").GetProperty("pools").EnumerateArray().ToList();
            if (pool is not null && !pools.Any(p => p.GetString("name") == pool))
                return XlMain.Fail($"unknown cpupool '{pool}'");
            var o = Console.Out;
            if (domain is not null)
            {
                var rows = pools.SelectMany(p => p.GetProperty("domains").EnumerateArray().Select(d => (Pool: p, Dom: d))).ToList();
                var hit = rows.FirstOrDefault(r => r.Dom.GetProperty("domid").GetInt32().ToString(CultureInfo.InvariantCulture) == domain || r.Dom.GetString("name") == domain);
                if (hit.Dom.ValueKind == JsonValueKind.Undefined)
                    return XlMain.Fail($"{domain} is an invalid domain identifier (rc=-6)");
                string used = hit.Pool.GetString("sched") ?? "";
                if (used != sched)
                    return XlMain.Fail($"{cmd}: domain {hit.Dom.GetString("name")} is in pool {hit.Pool.GetString("name")} which uses {used}");
                Header(o, sched);
                Row(o, sched, hit.Dom);
                return ExitCodes.Success;
            }
            foreach (var p in pools)
            {
                if (p.GetString("sched") != sched || (pool is not null && p.GetString("name") != pool)) continue;
                o.Write(PoolLine(sched, p));
                if (schedParam) continue;
                Header(o, sched);
                foreach (var d in p.GetProperty("domains").EnumerateArray()) Row(o, sched, d);
            }
        }
        catch (XlUsageException e)
        {
            return XlMain.Fail(e.Message.StartsWith("sched-", StringComparison.Ordinal) ? "xl " + e.Message : $"{cmd}: {e.Message}");
        }
        return ExitCodes.Success;
    }

    private static string PoolLine(string sched, JsonElement p)
    {
        string name = p.GetString("name") ?? "";
        return sched switch
        {
            "credit2" => $"Cpupool {name}: ratelimit={p.GetProperty("ratelimit_us").GetInt32()}us\n",
            "credit" => $"Cpupool {name}: tslice={p.GetProperty("tslice_ms").GetInt32()}ms ratelimit={p.GetProperty("ratelimit_us").GetInt32()}us\n",
            _ => $"Cpupool {name}: sched=null\n",
        };
    }

    private static void Header(TextWriter o, string sched)
    {
        if (sched == "null") o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4}\n", "Name", "ID"));
        else o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4} {2,6} {3,4}\n", "Name", "ID", "Weight", "Cap"));
    }

    private static void Row(TextWriter o, string sched, JsonElement d)
    {
        string name = d.GetString("name") ?? "";
        int id = d.GetProperty("domid").GetInt32();
        if (sched == "null") o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4}\n", name, id));
        else o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4} {2,6} {3,4}\n", name, id,
            d.GetProperty("weight").GetInt32(), d.GetProperty("cap").GetInt32()));
    }
}
