namespace XenSharp.Boot.Elf;

/// <summary>
/// One ELF note: the owner <paramref name="Name"/> (without its NUL), the n_type and the
/// descriptor bytes, plus where the note header sits in the file.
/// </summary>
public sealed record ElfNote(string Name, uint Type, ReadOnlyMemory<byte> Descriptor, ulong FileOffset);
