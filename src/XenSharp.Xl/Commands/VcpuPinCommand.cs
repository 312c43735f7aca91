namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl vcpu-pin [-f|--force] DOMAIN VCPU|all HARD [SOFT]`: sets the hard (and soft) affinity of
/// one vCPU or all. HARD or SOFT "-" keeps that affinity as it is; a mask is xl's CPU list
/// ("0-3,^2", "all"). -f is accepted for compatibility (XenSharp has no temporary pinning).
/// </summary>
public static class VcpuPinCommand
{
    public const string Usage = "xl vcpu-pin [-f|--force] <Domain> <VCPU|all> <Hard affinity|-> [Soft affinity|-]";

    public static int Run(string[] args)
    {
        var positional = new List<string>();
        foreach (var a in args)
        {
            if (a is "-f" or "--force") continue;
            if (a.StartsWith('-') && a != "-") throw new XlUsageException($"xl vcpu-pin: unknown option '{a}' (usage: {Usage})");
            positional.Add(a);
        }
        if (positional.Count is < 3 or > 4) throw new XlUsageException($"usage: {Usage}");
        try
        {
            Request.Call("vcpu-pin", w =>
            {
                w.WriteString("domain", positional[0]);
                w.WriteString("vcpu", positional[1]);
                w.WriteString("hard", positional[2]);
                if (positional.Count == 4) w.WriteString("soft", positional[3]);
            });
        }
        catch (XlUsageException e)
        {
            return XlMain.Fail("xl vcpu-pin: " + e.Message);
        }
        return ExitCodes.Success;
    }
}
