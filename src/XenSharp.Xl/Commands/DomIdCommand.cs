using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>`xl domid NAME` prints a domain's id; `xl domname ID` prints a domain's name.</summary>
public static class DomIdCommand
{
    public static int DomId(string[] args)
    {
        if (args.Length != 1 || args[0].StartsWith('-')) throw new XlUsageException("usage: xl domid <DomainName>");
        string name = args[0];
        var row = DomainTable.Fetch().FirstOrDefault(r => DomainTable.Name(r) == name);
        if (row.ValueKind == System.Text.Json.JsonValueKind.Undefined)
            return XlMain.Fail($"Can't get domid of domain name '{name}', maybe this domain does not exist.");
        Console.Out.Write(DomainTable.Id(row).ToString(CultureInfo.InvariantCulture) + "\n");
        return ExitCodes.Success;
    }

    public static int DomName(string[] args)
    {
        if (args.Length != 1 || args[0].StartsWith('-')) throw new XlUsageException("usage: xl domname <DomainId>");
        if (!uint.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint id))
            return XlMain.Fail($"Invalid domain id '{args[0]}'.");
        var row = DomainTable.Fetch().FirstOrDefault(r => DomainTable.Id(r) == id);
        if (row.ValueKind == System.Text.Json.JsonValueKind.Undefined)
            return XlMain.Fail($"Can't get domain name of domain id '{id}', maybe this domain does not exist.");
        Console.Out.Write(DomainTable.Name(row) + "\n");
        return ExitCodes.Success;
    }
}
