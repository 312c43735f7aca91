using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

/// <summary>A decoded message received by a <see cref="TestClient"/>.</summary>
public sealed record Received(XsMessageType Type, uint RequestId, uint TransactionId, byte[] Payload)
{
    public bool IsError => Type == XsMessageType.Error;

    /// <summary>The error name of an ERROR reply.</summary>
    public string? Error => IsError ? Strings[0] : null;

    /// <summary>The NUL-terminated strings of the payload.</summary>
    public List<string> Strings => XsPayload.Strings(Payload);

    /// <summary>The payload as Latin-1 text, with one trailing NUL removed.</summary>
    public string Text => XsPayload.Text(Payload.Length > 0 && Payload[^1] == 0 ? Payload.AsSpan(0, Payload.Length - 1) : Payload);

    public override string ToString() => IsError ? $"ERROR {Error}" : $"{Type} '{Text.Replace('\0', '|')}'";
}
