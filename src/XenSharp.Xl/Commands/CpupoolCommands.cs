using System.Globalization;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl cpupool-list [-c] [Pool]`, `cpupool-create [ConfigFile] [key=value...]` (keys name, sched,
/// cpus), `cpupool-destroy Pool`, `cpupool-cpu-add Pool CPUs`, `cpupool-cpu-remove Pool CPUs`,
/// `cpupool-migrate Domain Pool`. Every refusal is one line on stderr and exit 1.
/// </summary>
public static class CpupoolCommands
{
    public static int List(string[] args)
    {
        bool cpus = false;
        string? only = null;
        foreach (var a in args)
        {
            if (a is "-c" or "--cpus") cpus = true;
            else if (a.StartsWith('-')) throw new XlUsageException($"xl cpupool-list: unknown option '{a}' (usage: xl cpupool-list [-c|--cpus] [CpuPool])");
            else if (only is null) only = a;
            else throw new XlUsageException("usage: xl cpupool-list [-c|--cpus] [CpuPool]");
        }
        List<System.Text.Json.JsonElement> pools;
        try
        {
            pools = Request.Call("cpupool-list").GetProperty("pools").EnumerateArray().ToList();
        }
        catch (XlUsageException e)
        {
            return XlMain.Fail("xl cpupool-list: " + e.Message);
        }
        if (only is not null && !pools.Any(p => p.GetString("name") == only))
            return XlMain.Fail($"Pool '{only}' does not exist");
        var o = Console.Out;
        o.Write(cpus ? $"{"Name",-19}CPU list\n" : $"{"Name",-19}CPUs   Sched     Active   Domain count\n");
        foreach (var p in pools)
        {
            string name = p.GetString("name") ?? "";
            if (only is not null && name != only) continue;
            if (cpus)
            {
                string list = p.GetString("cpus") ?? "";
                string expanded = list.Length == 0 ? "" : string.Join(",", ExpandCpus(list));
                o.Write($"{name,-19}{expanded}\n");
            }
            else
            {
                o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-19}{1,3} {2,9}       y       {3,4}\n",
                    name, p.GetProperty("cpu_count").GetInt32(), p.GetString("sched"), p.GetProperty("domain_count").GetInt32()));
            }
        }
        return ExitCodes.Success;
    }

    /// <summary>"0-2,5" → 0,1,2,5 (xl -c prints each pCPU).</summary>
    private static IEnumerable<int> ExpandCpus(string list)
    {
        foreach (var part in list.Split(','))
        {
            int dash = part.IndexOf('-');
            int a = int.Parse(dash < 0 ? part : part[..dash], CultureInfo.InvariantCulture);
            int b = dash < 0 ? a : int.Parse(part[(dash + 1)..], CultureInfo.InvariantCulture);
            for (int c = a; c <= b; c++) yield return c;
        }
    }

    public const string CreateUsage = "xl cpupool-create [-n|--dryrun] [ConfigFile] [name=\"Pool\"] [sched=\"credit2|credit|null\"] [cpus=\"CPUs\"]";

    public static int Create(string[] args)
    {
        bool dryRun = false;
        string? file = null;
        var overrides = new List<string>();
        foreach (var a in args)
        {
            if (a is "-n" or "--dryrun") dryRun = true;
            else if (a.StartsWith('-')) throw new XlUsageException($"xl cpupool-create: unknown option '{a}' (usage: {CreateUsage})");
            else if (a.Contains('=')) overrides.Add(a);
            else if (file is null) file = a;
            else throw new XlUsageException($"usage: {CreateUsage}");
        }
        string name;
        string? sched, cpus;
        string source = file ?? "command line";
        try
        {
            string text = "";
            if (file is not null)
            {
                if (!File.Exists(file)) return XlMain.Fail($"Failed to read config file: {file}: No such file or directory");
                text = File.ReadAllText(file);
            }
            var cfg = XlConfigParser.Parse(text, file ?? "<command line>");
            if (overrides.Count > 0) cfg = cfg.ApplyOverrides(overrides);
            name = cfg.Find("name")?.Value.ScalarText ?? "";
            if (name.Length == 0) return XlMain.Fail("Missing cpupool name!");
            sched = cfg.Find("sched")?.Value.ScalarText;
            cpus = cfg.Find("cpus") is { } c
                ? c.Value is XlList l ? string.Join(",", l.Items.Select(i => i.ScalarText)) : c.Value.ScalarText
                : null;
        }
        catch (XlConfigException e)
        {
            return XlMain.Fail($"Failed to parse config file: {e.Message}");
        }
        Console.Out.Write($"Using config file \"{source}\"\n");
        if (dryRun)
        {
            Console.Out.Write($"cpupool name:   {name}\nscheduler:      {sched ?? "(Pool-0's)"}\ncpus:           {cpus ?? "none"}\n");
            return ExitCodes.Success;
        }
        System.Text.Json.JsonElement reply;
        try
        {
            reply = Request.Call("cpupool-create", w =>
            {
                w.WriteString("name", name);
                if (sched is not null) w.WriteString("sched", sched);
                if (cpus is not null) w.WriteString("cpus", cpus);
            });
        }
        catch (XlUsageException e)
        {
            return XlMain.Fail("xl " + e.Message);
        }
        Console.Out.Write($"cpupool name:   {name}\nscheduler:      {reply.GetString("sched")}\nnumber of cpus: {reply.GetProperty("cpu_count").GetInt32()}\n");
        return ExitCodes.Success;
    }

    public static int Destroy(string[] args) => Simple(args, 1, "xl cpupool-destroy <CpuPool>", "cpupool-destroy",
        w => w.WriteString("pool", args[0]));

    public static int CpuAdd(string[] args) => Simple(args, 2, "xl cpupool-cpu-add <CpuPool> <CPUs>", "cpupool-cpu-add",
        w => { w.WriteString("pool", args[0]); w.WriteString("cpus", args[1]); });

    public static int CpuRemove(string[] args) => Simple(args, 2, "xl cpupool-cpu-remove <CpuPool> <CPUs>", "cpupool-cpu-remove",
        w => { w.WriteString("pool", args[0]); w.WriteString("cpus", args[1]); });

    public static int Migrate(string[] args) => Simple(args, 2, "xl cpupool-migrate <Domain> <CpuPool>", "cpupool-migrate",
        w => { w.WriteString("domain", args[0]); w.WriteString("pool", args[1]); });

    private static int Simple(string[] args, int count, string usage, string cmd, Action<System.Text.Json.Utf8JsonWriter> body)
    {
        if (args.Length != count || args.Any(a => a.StartsWith('-') && a.Length > 1 && !char.IsAsciiDigit(a[1])))
            throw new XlUsageException($"usage: {usage}");
        try
        {
            Request.Call(cmd, body);
        }
        catch (XlUsageException e)
        {
            return XlMain.Fail(e.Message.StartsWith(cmd, StringComparison.Ordinal) ? "xl " + e.Message : $"xl {cmd}: {e.Message}");
        }
        return ExitCodes.Success;
    }
}
