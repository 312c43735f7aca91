using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl list [-l] [-v] [DOMAIN...]`: the domain table in xl's layout; -v adds the UUID,
/// shutdown reason code and security label columns; -l prints a JSON array of domain
/// objects (domid, name, uuid, state, memory, vcpus, config) instead.
/// </summary>
public static class ListCommand
{
    public static int Run(string[] args)
    {
        bool longFormat = false, verbose = false;
        var wanted = new List<string>();
        foreach (var a in args)
        {
            switch (a)
            {
                case "-l" or "--long": longFormat = true; break;
                case "-v" or "--verbose": verbose = true; break;
                case "-lv" or "-vl": longFormat = verbose = true; break;
                default:
                    if (a.StartsWith('-')) throw new XlUsageException($"xl list: unknown option '{a}' (accepted: -l, -v)");
                    wanted.Add(a);
                    break;
            }
        }
        var rows = DomainTable.Select(DomainTable.Fetch(withConfig: longFormat), wanted.Distinct().ToList());
        if (rows is null) return ExitCodes.Failure;
        if (longFormat) return PrintJson(rows);

        var o = Console.Out;
        o.Write("Name                                        ID   Mem VCPUs\tState\tTime(s)");
        if (verbose) o.Write("   UUID                            Reason-Code\tSecurity Label");
        o.Write("\n");
        foreach (var r in rows)
        {
            o.Write(string.Format(CultureInfo.InvariantCulture, "{0,-40} {1,5} {2,5} {3,5}     {4}  {5,8:F1}",
                r.GetProperty("name").GetString(),
                r.GetProperty("domid").GetInt32(),
                r.GetProperty("memory_mib").GetInt64(),
                r.GetProperty("vcpus").GetInt32(),
                r.GetProperty("state").GetString(),
                r.GetProperty("cpu_time").GetDouble()));
            if (verbose)
            {
                string reason = r.TryGetProperty("shutdown_reason", out var sr) ? sr.GetInt32().ToString("x", CultureInfo.InvariantCulture) : "-";
                o.Write(string.Format(CultureInfo.InvariantCulture, " {0} {1,8} {2,16}", r.GetProperty("uuid").GetString(), reason, "-"));
            }
            o.Write("\n");
        }
        return ExitCodes.Success;
    }

    private static int PrintJson(List<JsonElement> rows)
    {
        var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartArray();
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteNumber("domid", r.GetProperty("domid").GetInt32());
                w.WriteString("name", r.GetProperty("name").GetString());
                w.WriteString("uuid", r.GetProperty("uuid").GetString());
                w.WriteString("state", r.GetProperty("state").GetString());
                w.WriteNumber("memory", r.GetProperty("memory_mib").GetInt64());
                w.WriteNumber("vcpus", r.GetProperty("vcpus").GetInt32());
                w.WritePropertyName("config");
                if (r.TryGetProperty("config", out var config)) config.WriteTo(w);
                else w.WriteNullValue();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        stdout.Write("\n"u8);
        stdout.Flush();
        return ExitCodes.Success;
    }
}
