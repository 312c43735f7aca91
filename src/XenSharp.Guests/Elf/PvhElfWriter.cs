using System.Buffers.Binary;
using XenSharp.Abi.Elf;

namespace XenSharp.Guests.Elf;

/// <summary>
/// Builds a minimal PVH kernel file: a little-endian ELF32 (EM_386, ET_EXEC) with one RWX
/// PT_LOAD holding the image (plus zeroed bss) at a physical address, and one PT_NOTE holding
/// the Xen notes, XEN_ELFNOTE_PHYS32_ENTRY first. Notes are 4-byte aligned with name "Xen",
/// which is what Xen's loader, XenSharp's and QEMU's <c>-kernel</c> PVH support look for.
/// </summary>
public sealed class PvhElfWriter
{
    private const int EhdrSize = 52, PhdrSize = 32, PageSize = 4096;
    private const ushort EtExec = 2, Em386 = 3;
    private const uint PtLoad = 1, PtNote = 4;
    private const uint PfX = 1, PfW = 2, PfR = 4;
    private static ReadOnlySpan<byte> XenName => "Xen\0"u8;

    /// <summary>The code and data bytes, loaded at <see cref="LoadAddress"/>.</summary>
    public required ReadOnlyMemory<byte> Image { get; init; }

    /// <summary>Physical (and virtual) load address of <see cref="Image"/>.</summary>
    public required uint LoadAddress { get; init; }

    /// <summary>The 32-bit physical entry point (XEN_ELFNOTE_PHYS32_ENTRY and e_entry).</summary>
    public required uint EntryAddress { get; init; }

    /// <summary>Zero-filled bytes after the image (p_memsz - p_filesz).</summary>
    public uint BssSize { get; init; }

    /// <summary>XEN_ELFNOTE_GUEST_OS, when not null.</summary>
    public string? GuestOs { get; init; }

    /// <summary>XEN_ELFNOTE_GUEST_VERSION, when not null.</summary>
    public string? GuestVersion { get; init; }

    /// <summary>XEN_ELFNOTE_XEN_VERSION, when not null.</summary>
    public string? XenVersion { get; init; }

    /// <summary>XEN_ELFNOTE_LOADER, when not null.</summary>
    public string? Loader { get; init; }

    /// <summary>Further Xen notes, emitted after the ones above.</summary>
    public IReadOnlyList<PvhElfNote> Notes { get; init; } = [];

    /// <summary>Produces the ELF file bytes.</summary>
    /// <exception cref="ArgumentException">the image does not fit below 4 GiB, the entry is outside it, or <see cref="Notes"/> repeats PHYS32_ENTRY.</exception>
    public byte[] Build()
    {
        ulong memsz = (ulong)Image.Length + BssSize;
        if ((ulong)LoadAddress + memsz > 1UL << 32)
            throw new ArgumentException($"image 0x{LoadAddress:x}+0x{memsz:x} does not fit below 4 GiB");
        if (EntryAddress < LoadAddress || EntryAddress >= (ulong)LoadAddress + memsz)
            throw new ArgumentException($"entry 0x{EntryAddress:x} is outside the image 0x{LoadAddress:x}..0x{(ulong)LoadAddress + memsz:x}");
        if (Notes.Any(n => n.Type == XenElfNoteType.Phys32Entry))
            throw new ArgumentException("PHYS32_ENTRY is always emitted from EntryAddress; do not pass it in Notes");

        var notes = new List<PvhElfNote> { PvhElfNote.Numeric(XenElfNoteType.Phys32Entry, EntryAddress) };
        if (GuestOs is not null) notes.Add(PvhElfNote.Text(XenElfNoteType.GuestOs, GuestOs));
        if (GuestVersion is not null) notes.Add(PvhElfNote.Text(XenElfNoteType.GuestVersion, GuestVersion));
        if (XenVersion is not null) notes.Add(PvhElfNote.Text(XenElfNoteType.XenVersion, XenVersion));
        if (Loader is not null) notes.Add(PvhElfNote.Text(XenElfNoteType.Loader, Loader));
        notes.AddRange(Notes);

        int notesOffset = EhdrSize + 2 * PhdrSize;
        int notesSize = notes.Sum(n => 12 + XenName.Length + Align4(n.Descriptor.Length));
        // p_offset ≡ p_vaddr (mod page size), as the ELF spec asks of loadable segments.
        int imageOffset = AlignUp(notesOffset + notesSize, PageSize) + (int)(LoadAddress % PageSize);

        var file = new byte[imageOffset + Image.Length];
        Span<byte> f = file;

        // ELF header.
        f[0] = 0x7f; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F';
        f[4] = 1; // ELFCLASS32
        f[5] = 1; // ELFDATA2LSB
        f[6] = 1; // EV_CURRENT
        U16(f, 16, EtExec);
        U16(f, 18, Em386);
        U32(f, 20, 1); // e_version
        U32(f, 24, EntryAddress);
        U32(f, 28, EhdrSize); // e_phoff
        U32(f, 32, 0); // e_shoff
        U32(f, 36, 0); // e_flags
        U16(f, 40, EhdrSize);
        U16(f, 42, PhdrSize);
        U16(f, 44, 2); // e_phnum
        U16(f, 46, 0); // e_shentsize
        U16(f, 48, 0); // e_shnum
        U16(f, 50, 0); // e_shstrndx

        // PT_LOAD.
        var load = f.Slice(EhdrSize, PhdrSize);
        U32(load, 0, PtLoad);
        U32(load, 4, (uint)imageOffset);
        U32(load, 8, LoadAddress);
        U32(load, 12, LoadAddress);
        U32(load, 16, (uint)Image.Length);
        U32(load, 20, (uint)memsz);
        U32(load, 24, PfR | PfW | PfX);
        U32(load, 28, PageSize);

        // PT_NOTE.
        var note = f.Slice(EhdrSize + PhdrSize, PhdrSize);
        U32(note, 0, PtNote);
        U32(note, 4, (uint)notesOffset);
        U32(note, 8, 0);
        U32(note, 12, 0);
        U32(note, 16, (uint)notesSize);
        U32(note, 20, 0);
        U32(note, 24, PfR);
        U32(note, 28, 4);

        int at = notesOffset;
        foreach (var n in notes)
        {
            U32(f, at, (uint)XenName.Length);
            U32(f, at + 4, (uint)n.Descriptor.Length);
            U32(f, at + 8, (uint)n.Type);
            XenName.CopyTo(f[(at + 12)..]);
            n.Descriptor.Span.CopyTo(f[(at + 12 + XenName.Length)..]);
            at += 12 + XenName.Length + Align4(n.Descriptor.Length);
        }

        Image.Span.CopyTo(f[imageOffset..]);
        return file;
    }

    private static int Align4(int value) => (value + 3) & ~3;
    private static int AlignUp(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);
    private static void U16(Span<byte> s, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(s[offset..], value);
    private static void U32(Span<byte> s, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(s[offset..], value);
}
