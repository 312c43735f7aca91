using System.Text;

namespace XenSharp.XenStore.Wire;

/// <summary>
/// Payload helpers. Most payloads are NUL-terminated strings back to back; strings are handled as
/// Latin-1 so that every byte survives the round trip (paths are ASCII anyway, tokens and values
/// are opaque bytes).
/// </summary>
public static class XsPayload
{
    /// <summary>Number of NUL bytes, i.e. of complete strings (<c>xenstore_count_strings</c>).</summary>
    public static int CountStrings(ReadOnlySpan<byte> payload)
    {
        int n = 0;
        foreach (byte b in payload)
            if (b == 0) n++;
        return n;
    }

    /// <summary>
    /// The NUL-terminated strings of a payload, in order. Bytes after the last NUL are not part of
    /// any string and are ignored (as xenstored's <c>get_strings</c> does).
    /// </summary>
    public static List<string> Strings(ReadOnlySpan<byte> payload)
    {
        var result = new List<string>();
        while (true)
        {
            int nul = payload.IndexOf((byte)0);
            if (nul < 0) return result;
            result.Add(Encoding.Latin1.GetString(payload[..nul]));
            payload = payload[(nul + 1)..];
        }
    }

    /// <summary>
    /// The single argument of a one-argument request: the payload must be non-empty and contain
    /// exactly one NUL, at its end (xenstored's <c>onearg</c>). Null otherwise.
    /// </summary>
    public static string? OneArgument(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty || payload.IndexOf((byte)0) != payload.Length - 1) return null;
        return Encoding.Latin1.GetString(payload[..^1]);
    }

    /// <summary>Encodes strings each followed by a NUL.</summary>
    public static byte[] FromStrings(params string[] strings)
    {
        int len = 0;
        foreach (var s in strings) len += s.Length + 1;
        var bytes = new byte[len];
        int at = 0;
        foreach (var s in strings)
        {
            at += Encoding.Latin1.GetBytes(s, bytes.AsSpan(at));
            bytes[at++] = 0;
        }
        return bytes;
    }

    /// <summary>Encodes one string followed by raw bytes (the WRITE layout: path NUL value).</summary>
    public static byte[] StringThenBytes(string first, ReadOnlySpan<byte> rest)
    {
        var bytes = new byte[first.Length + 1 + rest.Length];
        Encoding.Latin1.GetBytes(first, bytes);
        rest.CopyTo(bytes.AsSpan(first.Length + 1));
        return bytes;
    }

    /// <summary>Decodes a whole payload as Latin-1 text (no NUL handling).</summary>
    public static string Text(ReadOnlySpan<byte> payload) => Encoding.Latin1.GetString(payload);
}
