using System.Globalization;
using System.Text.Json;

namespace XenSharp.Xl.Commands;

/// <summary>The daemon's domain list, and finding domains in it by id or name as xl does.</summary>
public static class DomainTable
{
    /// <summary>The `list` reply's domains (Domain-0 first); <paramref name="withConfig"/> adds each config.</summary>
    public static List<JsonElement> Fetch(bool withConfig = false)
    {
        var reply = Request.Call("list", w => { if (withConfig) w.WriteBoolean("long", true); });
        return reply.GetProperty("domains").EnumerateArray().ToList();
    }

    public static int Id(JsonElement row) => row.GetProperty("domid").GetInt32();
    public static string Name(JsonElement row) => row.GetProperty("name").GetString() ?? "";

    /// <summary>The row for an id or a name, or null.</summary>
    public static JsonElement? Find(List<JsonElement> rows, string idOrName)
    {
        foreach (var r in rows)
            if (Id(r).ToString(CultureInfo.InvariantCulture) == idOrName) return r;
        foreach (var r in rows)
            if (Name(r) == idOrName) return r;
        return null;
    }

    /// <summary>
    /// The rows for <paramref name="wanted"/> in the order given (all rows when none), or
    /// null after printing xl's "X is an invalid domain identifier" for the first unknown one.
    /// </summary>
    public static List<JsonElement>? Select(List<JsonElement> rows, IReadOnlyList<string> wanted)
    {
        if (wanted.Count == 0) return rows;
        var picked = new List<JsonElement>();
        foreach (var w in wanted)
        {
            if (Find(rows, w) is not { } r)
            {
                Console.Error.WriteLine($"{w} is an invalid domain identifier (rc=-6)");
                return null;
            }
            picked.Add(r);
        }
        return picked;
    }
}
