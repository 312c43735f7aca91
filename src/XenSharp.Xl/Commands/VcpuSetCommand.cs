using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>`xl vcpu-set DOMAIN N`: asks the guest (cpu/K/availability in XenStore) to keep vCPUs 0..N-1 online.</summary>
public static class VcpuSetCommand
{
    public const string Usage = "xl vcpu-set <Domain> <vCPUs>";

    public static int Run(string[] args)
    {
        if (args.Length != 2 || args[0].StartsWith('-')) throw new XlUsageException($"usage: {Usage}");
        if (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return XlMain.Fail($"Invalid vCPU count: {args[1]} (accepted: a whole number, 1..maxvcpus)");
        Request.Call("vcpu-set", w =>
        {
            w.WriteString("domain", args[0]);
            w.WriteNumber("vcpus", n);
        });
        return ExitCodes.Success;
    }
}
