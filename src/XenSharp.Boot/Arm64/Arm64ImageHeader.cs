using System.Buffers.Binary;

namespace XenSharp.Boot.Arm64;

/// <summary>
/// The 64-byte header of an arm64 Linux <c>Image</c> (Documentation/arch/arm64/booting.rst):
/// <code>
///   0x00 u32 code0        executable code (a branch, or the EFI "MZ" stub)
///   0x04 u32 code1
///   0x08 u64 text_offset  image load offset from a 2 MiB aligned base, little endian
///   0x10 u64 image_size   effective image size (including bss), little endian; 0 before Linux 3.17
///   0x18 u64 flags        bit 0: big-endian kernel; bits 1-2: page size (0 unspecified, 1 4K,
///                         2 16K, 3 64K); bit 3: 0 = as close as possible to the start of DRAM,
///                         1 = anywhere in memory
///   0x20 u64 res2, 0x28 u64 res3, 0x30 u64 res4
///   0x38 u32 magic        "ARM\x64" (0x644d5241)
///   0x3C u32 res5         offset of the PE header (EFI stub), or 0
/// </code>
/// </summary>
public readonly record struct Arm64ImageHeader(
    uint Code0,
    uint Code1,
    ulong TextOffset,
    ulong ImageSize,
    ulong Flags,
    ulong Res2,
    ulong Res3,
    ulong Res4,
    uint Magic,
    uint Res5)
{
    public const int Size = 64;
    /// <summary>"ARM\x64" read as a little-endian u32.</summary>
    public const uint MagicValue = 0x644D_5241;
    public const int MagicOffset = 0x38;
    /// <summary>The text_offset Linux used before image_size existed (&lt; 3.17), and the one to assume when image_size is 0.</summary>
    public const ulong LegacyTextOffset = 0x80000;

    public const ulong FlagBigEndian = 1UL << 0;
    public const ulong FlagPageSizeMask = 3UL << 1;
    public const ulong FlagPhysicalPlacementAnywhere = 1UL << 3;

    /// <summary>Flags bit 0: the kernel is big-endian.</summary>
    public bool IsBigEndian => (Flags & FlagBigEndian) != 0;

    /// <summary>The kernel's page size from flags bits 1-2, or 0 when unspecified.</summary>
    public ulong KernelPageSize => ((Flags & FlagPageSizeMask) >> 1) switch
    {
        1 => 4096,
        2 => 16384,
        3 => 65536,
        _ => 0,
    };

    /// <summary>Flags bit 3: the kernel may be placed anywhere in memory (else near the start of DRAM).</summary>
    public bool PhysicalPlacementAnywhere => (Flags & FlagPhysicalPlacementAnywhere) != 0;

    /// <summary>res5: the offset of the PE/COFF header when the kernel has an EFI stub.</summary>
    public uint PeHeaderOffset => Res5;

    /// <summary>
    /// The load offset to use: text_offset, except that an image_size of 0 means a kernel older
    /// than 3.17 whose header fields may not be reliable, so 0x80000 is assumed (booting.rst).
    /// </summary>
    public ulong EffectiveTextOffset => ImageSize == 0 ? LegacyTextOffset : TextOffset;

    /// <summary>Whether the bytes carry the "ARM\x64" magic at offset 0x38.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= Size && BinaryPrimitives.ReadUInt32LittleEndian(bytes[MagicOffset..]) == MagicValue;

    /// <summary>Reads the header (no checks beyond the length).</summary>
    public static Arm64ImageHeader Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size) throw new ArgumentException($"an arm64 Image header is {Size} bytes", nameof(bytes));
        return new Arm64ImageHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x00..]),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x04..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x08..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x10..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x18..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x20..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x28..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x30..]),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x38..]),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x3C..]));
    }

    /// <summary>Writes the header (for tests and tools that make Images).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException($"an arm64 Image header is {Size} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[0x00..], Code0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[0x04..], Code1);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x08..], TextOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x10..], ImageSize);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x18..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x20..], Res2);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x28..], Res3);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[0x30..], Res4);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[0x38..], Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[0x3C..], Res5);
    }
}
