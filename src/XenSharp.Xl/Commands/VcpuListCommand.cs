using XenSharp.Toolstack.Daemon;
using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl vcpu-list [DOMAIN...]`: one line per vCPU in xl's columns "Name ID VCPU CPU State
/// Time(s) Affinity (Hard / Soft)". CPU is the host CPU the vCPU's thread last ran on ("-"
/// when unknown or offline); State is xl's three letters: r running, b blocked, p paused
/// (a paused domain) or offline (with CPU "-"). CPU is the pCPU the scheduler gave the vCPU
/// ("-" when it holds none); the affinities are "all" or the pCPUs of the mask ("0-1,3").
/// </summary>
public static class VcpuListCommand
{
    public static int Run(string[] args)
    {
        foreach (var a in args)
            if (a.StartsWith('-')) throw new XlUsageException($"xl vcpu-list: unknown option '{a}' (usage: xl vcpu-list [Domain...])");
        var reply = Request.Call("vcpu-list");
        var all = reply.GetProperty("domains").EnumerateArray().ToList();
        var rows = DomainTable.Select(all, args);
        if (rows is null) return ExitCodes.Failure;
        var o = Console.Out;
        o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-32} {1,5} {2,5} {3,5} {4,5} {5,9} {6}\n",
            "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)"));
        foreach (var d in rows)
        {
            foreach (var v in d.GetProperty("vcpus").EnumerateArray())
            {
                int cpu = v.GetProperty("cpu").GetInt32();
                string state = v.GetProperty("state").GetString() switch
                {
                    "r" => "r--",
                    "b" => "-b-",
                    "p" => "--p",
                    _ => v.GetProperty("online").GetBoolean() ? "---" : "--p",
                };
                o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-32} {1,5} {2,5}{3,5} {4,5} {5,9:F1}  {6} / {7}\n",
                    DomainTable.Name(d), DomainTable.Id(d), v.GetProperty("vcpu").GetInt32(),
                    cpu >= 0 ? cpu.ToString(CultureInfo.InvariantCulture) : "-",
                    state, v.GetProperty("cpu_time").GetDouble(),
                    v.GetString("hard") ?? "all", v.GetString("soft") ?? "all"));
            }
        }
        return ExitCodes.Success;
    }
}
