using System.Text;
using System.Text.Json;

namespace XenSharp.Toolstack.Daemon;

/// <summary>Builds one protocol line: a JSON object written with Utf8JsonWriter, then '\n'.</summary>
public static class JsonLine
{
    public static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static byte[] Error(string message) => Write(w =>
    {
        w.WriteBoolean("ok", false);
        w.WriteString("error", message);
    });

    public static byte[] Ok(Action<Utf8JsonWriter>? body = null) => Write(w =>
    {
        w.WriteBoolean("ok", true);
        body?.Invoke(w);
    });

    public static string? GetString(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    public static bool GetBool(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.True;

    public static string Text(byte[] line) => Encoding.UTF8.GetString(line);
}
