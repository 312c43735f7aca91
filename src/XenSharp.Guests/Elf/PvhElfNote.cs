using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi.Elf;

namespace XenSharp.Guests.Elf;

/// <summary>A Xen ELF note (owner "Xen") for <see cref="PvhElfWriter"/>: a type and its descriptor bytes.</summary>
public sealed record PvhElfNote(XenElfNoteType Type, ReadOnlyMemory<byte> Descriptor)
{
    /// <summary>A numeric note with a 4-byte little-endian value.</summary>
    public static PvhElfNote Numeric(XenElfNoteType type, uint value)
    {
        var d = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(d, value);
        return new PvhElfNote(type, d);
    }

    /// <summary>A numeric note with an 8-byte little-endian value.</summary>
    public static PvhElfNote Numeric64(XenElfNoteType type, ulong value)
    {
        var d = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(d, value);
        return new PvhElfNote(type, d);
    }

    /// <summary>A string note: the ASCII/UTF-8 text followed by a NUL.</summary>
    public static PvhElfNote Text(XenElfNoteType type, string value)
    {
        var d = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, d);
        return new PvhElfNote(type, d);
    }
}
