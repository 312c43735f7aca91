using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Tests.Boot;

/// <summary>
/// Test-only writer of little-endian ELF64 executables: PT_LOAD segments, and notes either in
/// a PT_NOTE segment or (to exercise the fallback) only in an SHT_NOTE section.
/// </summary>
internal sealed class Elf64TestBuilder
{
    public ushort Machine { get; init; } = 62;
    public ulong Entry { get; init; }
    public bool NotesInSectionOnly { get; init; }
    public int NoteAlignment { get; init; } = 4;

    public List<(ulong PhysicalAddress, ulong VirtualAddress, byte[] Bytes, ulong MemorySize)> Segments { get; } = [];
    public List<(string Name, uint Type, byte[] Descriptor)> Notes { get; } = [];

    public Elf64TestBuilder Load(ulong paddr, byte[] bytes, ulong memsz = 0, ulong vaddr = 0)
    {
        Segments.Add((paddr, vaddr == 0 ? paddr : vaddr, bytes, Math.Max(memsz, (ulong)bytes.Length)));
        return this;
    }

    public Elf64TestBuilder Note(string name, uint type, byte[] descriptor)
    {
        Notes.Add((name, type, descriptor));
        return this;
    }

    public Elf64TestBuilder Note64(uint type, ulong value)
    {
        var d = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(d, value);
        return Note("Xen", type, d);
    }

    public Elf64TestBuilder Note32(uint type, uint value)
    {
        var d = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(d, value);
        return Note("Xen", type, d);
    }

    public Elf64TestBuilder NoteText(uint type, string value) =>
        Note("Xen", type, Encoding.ASCII.GetBytes(value + "\0"));

    public byte[] Build()
    {
        const int ehdr = 64, phdr = 56, shdr = 64;
        int align = NoteAlignment;
        var notes = new MemoryStream();
        foreach (var (name, type, desc) in Notes)
        {
            var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
            WriteU32(notes, (uint)nameBytes.Length);
            WriteU32(notes, (uint)desc.Length);
            WriteU32(notes, type);
            notes.Write(nameBytes);
            Pad(notes, align);
            notes.Write(desc);
            Pad(notes, align);
        }
        byte[] noteBlob = notes.ToArray();

        bool noteSegment = Notes.Count > 0 && !NotesInSectionOnly;
        int phnum = Segments.Count + (noteSegment ? 1 : 0);
        int noteOffset = Align(ehdr + phnum * phdr, 8);
        int cursor = noteOffset + noteBlob.Length;
        var segmentOffsets = new int[Segments.Count];
        for (int i = 0; i < Segments.Count; i++)
        {
            cursor = Align(cursor, 4096) + (int)(Segments[i].PhysicalAddress % 4096);
            segmentOffsets[i] = cursor;
            cursor += Segments[i].Bytes.Length;
        }
        bool sections = NotesInSectionOnly && Notes.Count > 0;
        int shoff = Align(cursor, 8);
        int total = sections ? shoff + 2 * shdr : cursor;

        var f = new byte[total];
        f[0] = 0x7f; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F';
        f[4] = 2; f[5] = 1; f[6] = 1;
        U16(f, 16, 2);
        U16(f, 18, Machine);
        U32(f, 20, 1);
        U64(f, 24, Entry);
        U64(f, 32, ehdr);
        U64(f, 40, sections ? (ulong)shoff : 0);
        U16(f, 52, ehdr);
        U16(f, 54, phdr);
        U16(f, 56, (ushort)phnum);
        U16(f, 58, sections ? (ushort)shdr : (ushort)0);
        U16(f, 60, sections ? (ushort)2 : (ushort)0);

        for (int i = 0; i < Segments.Count; i++)
        {
            int p = ehdr + i * phdr;
            var s = Segments[i];
            U32(f, p, 1);
            U32(f, p + 4, 7);
            U64(f, p + 8, (ulong)segmentOffsets[i]);
            U64(f, p + 16, s.VirtualAddress);
            U64(f, p + 24, s.PhysicalAddress);
            U64(f, p + 32, (ulong)s.Bytes.Length);
            U64(f, p + 40, s.MemorySize);
            U64(f, p + 48, 4096);
            s.Bytes.CopyTo(f, segmentOffsets[i]);
        }
        if (noteSegment)
        {
            int p = ehdr + Segments.Count * phdr;
            U32(f, p, 4);
            U32(f, p + 4, 4);
            U64(f, p + 8, (ulong)noteOffset);
            U64(f, p + 32, (ulong)noteBlob.Length);
            U64(f, p + 48, (ulong)align);
        }
        noteBlob.CopyTo(f, noteOffset);
        if (sections)
        {
            int s = shoff + shdr; // section 0 is the null section
            U32(f, s + 4, 7); // SHT_NOTE
            U64(f, s + 24, (ulong)noteOffset);
            U64(f, s + 32, (ulong)noteBlob.Length);
            U64(f, s + 48, (ulong)align);
        }
        return f;
    }

    private static int Align(int v, int a) => (v + a - 1) / a * a;
    private static void Pad(MemoryStream s, int a) { while (s.Length % a != 0) s.WriteByte(0); }
    private static void WriteU32(MemoryStream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }
    private static void U16(byte[] f, int o, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(o), v);
    private static void U32(byte[] f, int o, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(o), v);
    private static void U64(byte[] f, int o, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(o), v);
}
