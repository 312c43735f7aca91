using System.Buffers.Binary;

namespace XenSharp.XenStore.Wire;

/// <summary>
/// The 16-byte header in front of every message (<c>struct xsd_sockmsg</c>): type, request id,
/// transaction id and payload length, each a little-endian 32-bit word.
/// </summary>
public readonly record struct XsMessageHeader(XsMessageType Type, uint RequestId, uint TransactionId, uint Length)
{
    /// <summary>Encoded size of a header in bytes.</summary>
    public const int Size = 16;

    /// <summary>Decodes a header from the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static XsMessageHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size) throw new ArgumentException("a XenStore header is 16 bytes", nameof(source));
        return new XsMessageHeader(
            (XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
    }

    /// <summary>Encodes this header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException("a XenStore header is 16 bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Type);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], TransactionId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Length);
    }
}
