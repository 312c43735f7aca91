using System.Globalization;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl uptime [-s] [DOMAIN...]`: how long domains have existed, in xl's layout
/// ("Name ID Uptime", [D day(s), ]hh:mm:ss); -s prints xl's short form
/// " hh:mm:ss up [D day(s), ]hh:mm, NAME (ID)". Domain-0's uptime is the daemon's.
/// </summary>
public static class UptimeCommand
{
    public static int Run(string[] args)
    {
        bool shortMode = false;
        var names = new List<string>();
        foreach (var a in args)
        {
            if (a is "-s" or "--short") shortMode = true;
            else if (a.StartsWith('-')) throw new XlUsageException($"xl uptime: unknown option '{a}' (accepted: -s)");
            else names.Add(a);
        }
        var rows = DomainTable.Select(DomainTable.Fetch(), names);
        if (rows is null) return ExitCodes.Failure;
        var o = Console.Out;
        string now = DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (!shortMode) o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4} {2}\n", "Name", "ID", "Uptime"));
        foreach (var r in rows)
        {
            long seconds = r.GetProperty("uptime").GetInt64();
            if (shortMode)
                o.Write($" {now} up {Format(seconds, true)}, {DomainTable.Name(r)} ({DomainTable.Id(r)})\n");
            else
                o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4} {2}\n", DomainTable.Name(r), DomainTable.Id(r), Format(seconds, false)));
        }
        return ExitCodes.Success;
    }

    /// <summary>xl's uptime text: "[D day[s], ]h:mm:ss" (hours padded to two columns), or without seconds in short mode.</summary>
    public static string Format(long uptime, bool shortMode)
    {
        long day = uptime / 86400, hour = uptime % 86400 / 3600, min = uptime % 3600 / 60, sec = uptime % 60;
        string days = day > 1 ? $"{day} days, " : day == 1 ? "1 day, " : "";
        return shortMode
            ? string.Format(CultureInfo.InvariantCulture, "{0}{1,2}:{2:00}", days, hour, min)
            : string.Format(CultureInfo.InvariantCulture, "{0}{1,2}:{2:00}:{3:00}", days, hour, min, sec);
    }
}
