namespace XenSharp.XenStore.Wire;

/// <summary>
/// One complete message: its header and the payload the header's length announces.
/// </summary>
public readonly record struct XsMessage(XsMessageHeader Header, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The message type.</summary>
    public XsMessageType Type => Header.Type;

    /// <summary>Encodes a message (header followed by payload) into a new array.</summary>
    public static byte[] Encode(XsMessageType type, uint requestId, uint transactionId, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[XsMessageHeader.Size + payload.Length];
        new XsMessageHeader(type, requestId, transactionId, (uint)payload.Length).Write(bytes);
        payload.CopyTo(bytes.AsSpan(XsMessageHeader.Size));
        return bytes;
    }

    /// <summary>Decodes one whole message from <paramref name="bytes"/> (header + exactly its payload).</summary>
    public static XsMessage Decode(ReadOnlySpan<byte> bytes)
    {
        var header = XsMessageHeader.Read(bytes);
        if (bytes.Length - XsMessageHeader.Size != header.Length)
            throw new ArgumentException("length does not match the header", nameof(bytes));
        return new XsMessage(header, bytes[XsMessageHeader.Size..].ToArray());
    }
}
