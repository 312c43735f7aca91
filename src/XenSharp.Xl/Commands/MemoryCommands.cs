using XenSharp.Toolstack.Domains;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl mem-set DOMAIN MEM` (the balloon target, memory/target) and `xl mem-max DOMAIN MEM` (the
/// domain's maximum). MEM is xl's size: digits then b, k, m, g or t (MiB without a suffix).
/// </summary>
public static class MemoryCommands
{
    public const string MemSetUsage = "xl mem-set <Domain> <Mem>";
    public const string MemMaxUsage = "xl mem-max <Domain> <Mem>";

    public static int MemSet(string[] args) => Run(args, "mem-set", MemSetUsage);
    public static int MemMax(string[] args) => Run(args, "mem-max", MemMaxUsage);

    private static int Run(string[] args, string cmd, string usage)
    {
        if (args.Length != 2 || args[0].StartsWith('-')) throw new XlUsageException($"usage: {usage}");
        if (DomainManager.ParseMemoryKiB(args[1]) is not { } kib)
            return XlMain.Fail($"invalid memory size: {args[1]} (accepted: a whole number with an optional b, k, m, g or t suffix; MiB without one)");
        Request.Call(cmd, w =>
        {
            w.WriteString("domain", args[0]);
            w.WriteNumber("memory_kib", kib);
        });
        return ExitCodes.Success;
    }
}
