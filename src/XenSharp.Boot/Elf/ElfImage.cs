using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Boot.Elf;

/// <summary>
/// A parsed little-endian ELF executable: x86 (ELF32 or ELF64) or, through
/// <see cref="Parse(ReadOnlyMemory{byte}, string, ElfTarget)"/>, AArch64 (ELF64): its class, machine, entry,
/// PT_LOAD segments and notes. Every offset and size read from the file is bounds-checked;
/// a malformed file gives a <see cref="BootException"/> that names the path and the problem.
/// </summary>
public sealed class ElfImage
{
    /// <summary>EM_386.</summary>
    public const ushort MachineI386 = 3;
    /// <summary>EM_X86_64.</summary>
    public const ushort MachineX86_64 = 62;
    /// <summary>EM_ARM (AArch32).</summary>
    public const ushort MachineArm = 40;
    /// <summary>EM_AARCH64.</summary>
    public const ushort MachineAArch64 = 183;
    /// <summary>ET_EXEC.</summary>
    public const ushort TypeExecutable = 2;
    /// <summary>ET_DYN.</summary>
    public const ushort TypeSharedObject = 3;
    /// <summary>PT_LOAD.</summary>
    public const uint ProgramTypeLoad = 1;
    /// <summary>PT_NOTE.</summary>
    public const uint ProgramTypeNote = 4;
    /// <summary>SHT_NOTE.</summary>
    public const uint SectionTypeNote = 7;

    private const int Elf32HeaderSize = 52, Elf64HeaderSize = 64;
    private const int Elf32PhdrSize = 32, Elf64PhdrSize = 56;
    private const int Elf32ShdrSize = 40, Elf64ShdrSize = 64;
    private const int NoteHeaderSize = 12;

    private readonly ReadOnlyMemory<byte> _bytes;

    /// <summary>The path the image was read from (used in messages only).</summary>
    public string Path { get; }

    /// <summary>ELF32 or ELF64.</summary>
    public ElfClass Class { get; }

    /// <summary>e_machine (<see cref="MachineI386"/>, <see cref="MachineX86_64"/> or <see cref="MachineAArch64"/>).</summary>
    public ushort Machine { get; }

    /// <summary>e_type (<see cref="TypeExecutable"/> or <see cref="TypeSharedObject"/>).</summary>
    public ushort Type { get; }

    /// <summary>e_entry.</summary>
    public ulong Entry { get; }

    /// <summary>The PT_LOAD program headers, in table order.</summary>
    public IReadOnlyList<ElfLoadSegment> LoadSegments { get; }

    /// <summary>All notes of the PT_NOTE segments, or of the SHT_NOTE sections when there is no PT_NOTE.</summary>
    public IReadOnlyList<ElfNote> Notes { get; }

    /// <summary>The whole file.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    private ElfImage(ReadOnlyMemory<byte> bytes, string path, ElfClass elfClass, ushort machine, ushort type,
        ulong entry, ElfLoadSegment[] loadSegments, ElfNote[] notes)
    {
        _bytes = bytes;
        Path = path;
        Class = elfClass;
        Machine = machine;
        Type = type;
        Entry = entry;
        LoadSegments = loadSegments;
        Notes = notes;
    }

    /// <summary>The file bytes of a PT_LOAD segment (p_filesz bytes at p_offset; checked at parse time).</summary>
    public ReadOnlySpan<byte> GetFileBytes(ElfLoadSegment segment) =>
        _bytes.Span.Slice((int)segment.FileOffset, (int)segment.FileSize);

    /// <summary>Whether the bytes start with the ELF magic (\x7fELF).</summary>
    public static bool HasElfMagic(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 4 && bytes[0] == 0x7f && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F';

    /// <summary>Parses an ELF executable; <paramref name="path"/> is only used in error messages.</summary>
    /// <exception cref="BootException">the bytes are not a well-formed little-endian x86 ELF executable.</exception>
    public static ElfImage Parse(ReadOnlyMemory<byte> bytes, string path) => Parse(bytes, path, ElfTarget.X86);

    /// <summary>
    /// Parses an ELF executable for the builder of <paramref name="target"/>: x86 takes EM_386 and
    /// EM_X86_64 (ELF32 or ELF64), Arm64 takes EM_AARCH64 (ELF64 only). A kernel of the other
    /// architecture is rejected with a message naming the file and both machines.
    /// </summary>
    /// <exception cref="BootException">the bytes are not a well-formed little-endian ELF executable for <paramref name="target"/>.</exception>
    public static ElfImage Parse(ReadOnlyMemory<byte> bytes, string path, ElfTarget target)
    {
        bool arm = target == ElfTarget.Arm64;
        string accepted = arm ? "AArch64 ELF64" : "x86 ELF32/ELF64";
        ReadOnlySpan<byte> file = bytes.Span;
        if (!HasElfMagic(file))
            throw Fail(path, "not an ELF file (bad magic)");
        if (file.Length < 16)
            throw Fail(path, "truncated ELF header");

        byte cls = file[4];
        if (cls != (byte)ElfClass.Elf32 && cls != (byte)ElfClass.Elf64)
            throw Fail(path, $"unsupported ELF class {cls} (XenSharp loads {accepted})");
        var elfClass = (ElfClass)cls;
        bool is64 = elfClass == ElfClass.Elf64;

        byte data = file[5];
        if (data != 1)
            throw Fail(path, data == 2
                ? $"big-endian ELF file (XenSharp loads little-endian {accepted})"
                : $"unsupported ELF data encoding {data} (XenSharp loads little-endian {accepted})");

        int headerSize = is64 ? Elf64HeaderSize : Elf32HeaderSize;
        if (file.Length < headerSize)
            throw Fail(path, "truncated ELF header");

        ushort type = U16(file, 16);
        ushort machine = U16(file, 18);
        if (arm)
        {
            if (machine is MachineI386 or MachineX86_64)
                throw Fail(path, $"ELF machine {machine} ({MachineName(machine)}) is an x86 kernel, but this is an ARM domain (the ARM builder loads AArch64 ELF64 or an arm64 Image)");
            if (machine != MachineAArch64)
                throw Fail(path, $"unsupported ELF machine {machine}{NameSuffix(machine)} (XenSharp loads {accepted})");
            if (!is64)
                throw Fail(path, "ELF32 AArch64 (ILP32) file; XenSharp's ARM builder loads AArch64 ELF64");
        }
        else if (machine == MachineAArch64)
            throw Fail(path, $"ELF machine {machine} ({MachineName(machine)}) is an ARM kernel, but this is an x86 domain (XenSharp loads {accepted} here)");
        else if (machine != MachineI386 && machine != MachineX86_64)
            throw Fail(path, $"unsupported ELF machine {machine} (XenSharp loads {accepted})");
        if (type != TypeExecutable && type != TypeSharedObject)
            throw Fail(path, $"not an executable (ELF type {type}; expected ET_EXEC or ET_DYN)");

        ulong entry, phoff, shoff;
        int phentsize, phnum, shentsize, shnum;
        if (is64)
        {
            entry = U64(file, 24);
            phoff = U64(file, 32);
            shoff = U64(file, 40);
            phentsize = U16(file, 54);
            phnum = U16(file, 56);
            shentsize = U16(file, 58);
            shnum = U16(file, 60);
        }
        else
        {
            entry = U32(file, 24);
            phoff = U32(file, 28);
            shoff = U32(file, 32);
            phentsize = U16(file, 42);
            phnum = U16(file, 44);
            shentsize = U16(file, 46);
            shnum = U16(file, 48);
        }

        var loads = new List<ElfLoadSegment>();
        var notes = new List<ElfNote>();
        bool sawNoteSegment = false;

        if (phnum > 0)
        {
            int minPhent = is64 ? Elf64PhdrSize : Elf32PhdrSize;
            if (phentsize < minPhent)
                throw Fail(path, $"bad program header entry size {phentsize} (expected at least {minPhent})");
            if (!InFile(file, phoff, (ulong)phentsize * (ulong)phnum))
                throw Fail(path, "truncated program header table");

            for (int i = 0; i < phnum; i++)
            {
                var ph = file.Slice((int)phoff + i * phentsize, minPhent);
                uint pType = U32(ph, 0);
                ulong offset, vaddr, paddr, filesz, memsz, align;
                uint flags;
                if (is64)
                {
                    flags = U32(ph, 4);
                    offset = U64(ph, 8);
                    vaddr = U64(ph, 16);
                    paddr = U64(ph, 24);
                    filesz = U64(ph, 32);
                    memsz = U64(ph, 40);
                    align = U64(ph, 48);
                }
                else
                {
                    offset = U32(ph, 4);
                    vaddr = U32(ph, 8);
                    paddr = U32(ph, 12);
                    filesz = U32(ph, 16);
                    memsz = U32(ph, 20);
                    flags = U32(ph, 24);
                    align = U32(ph, 28);
                }

                if (pType == ProgramTypeLoad)
                {
                    if (!InFile(file, offset, filesz))
                        throw Fail(path, $"PT_LOAD segment {i} (file offset 0x{offset:x}, 0x{filesz:x} bytes) runs past the end of the file (0x{file.Length:x} bytes)");
                    if (filesz > memsz)
                        throw Fail(path, $"PT_LOAD segment {i} has p_filesz 0x{filesz:x} larger than p_memsz 0x{memsz:x}");
                    if (paddr + memsz < paddr)
                        throw Fail(path, $"PT_LOAD segment {i} (p_paddr 0x{paddr:x}, p_memsz 0x{memsz:x}) wraps around the address space");
                    loads.Add(new ElfLoadSegment(i, paddr, vaddr, offset, filesz, memsz, flags, align));
                }
                else if (pType == ProgramTypeNote)
                {
                    sawNoteSegment = true;
                    if (!InFile(file, offset, filesz))
                        throw Fail(path, $"PT_NOTE segment {i} (file offset 0x{offset:x}, 0x{filesz:x} bytes) runs past the end of the file (0x{file.Length:x} bytes)");
                    ReadNotes(bytes, (int)offset, (int)filesz, align == 8 ? 8 : 4, $"PT_NOTE segment {i}", path, notes);
                }
            }
        }

        if (!sawNoteSegment && shnum > 0 && shoff != 0)
        {
            int minShent = is64 ? Elf64ShdrSize : Elf32ShdrSize;
            if (shentsize < minShent)
                throw Fail(path, $"bad section header entry size {shentsize} (expected at least {minShent})");
            if (!InFile(file, shoff, (ulong)shentsize * (ulong)shnum))
                throw Fail(path, "truncated section header table");

            for (int i = 0; i < shnum; i++)
            {
                var sh = file.Slice((int)shoff + i * shentsize, minShent);
                if (U32(sh, 4) != SectionTypeNote) continue;
                ulong offset = is64 ? U64(sh, 24) : U32(sh, 16);
                ulong size = is64 ? U64(sh, 32) : U32(sh, 20);
                ulong align = is64 ? U64(sh, 48) : U32(sh, 32);
                if (!InFile(file, offset, size))
                    throw Fail(path, $"SHT_NOTE section {i} (file offset 0x{offset:x}, 0x{size:x} bytes) runs past the end of the file (0x{file.Length:x} bytes)");
                ReadNotes(bytes, (int)offset, (int)size, align == 8 ? 8 : 4, $"SHT_NOTE section {i}", path, notes);
            }
        }

        return new ElfImage(bytes, path, elfClass, machine, type, entry, loads.ToArray(), notes.ToArray());
    }

    private static void ReadNotes(ReadOnlyMemory<byte> bytes, int start, int length, int align, string where, string path, List<ElfNote> notes)
    {
        ReadOnlySpan<byte> area = bytes.Span.Slice(start, length);
        int pos = 0;
        while (area.Length - pos >= NoteHeaderSize)
        {
            uint namesz = U32(area, pos);
            uint descsz = U32(area, pos + 4);
            uint type = U32(area, pos + 8);
            // Padding is measured from the note's start, as binutils does (for 4-byte notes the
            // 12-byte header keeps this the same as padding the name itself).
            ulong nameStart = (ulong)pos + NoteHeaderSize;
            ulong descStart = AlignUp(nameStart + namesz, (ulong)align);
            ulong descEnd = descStart + descsz;
            if (nameStart + namesz > (ulong)area.Length || descEnd > (ulong)area.Length)
                throw Fail(path, $"malformed note at file offset 0x{start + pos:x} in {where}: name ({namesz} bytes) or descriptor ({descsz} bytes) runs past the end of the notes");

            ReadOnlySpan<byte> nameBytes = area.Slice((int)nameStart, (int)namesz);
            int nul = nameBytes.IndexOf((byte)0);
            if (nul >= 0) nameBytes = nameBytes[..nul];
            string name = Encoding.Latin1.GetString(nameBytes);

            notes.Add(new ElfNote(name, type, bytes.Slice(start + (int)descStart, (int)descsz), (ulong)(start + pos)));

            ulong next = AlignUp(descEnd, (ulong)align);
            if (next >= (ulong)area.Length) break;
            pos = (int)next;
        }
    }

    /// <summary>A readable name for an e_machine value XenSharp knows, or null.</summary>
    public static string? MachineName(ushort machine) => machine switch
    {
        MachineI386 => "i386",
        MachineX86_64 => "x86-64",
        MachineArm => "ARM",
        MachineAArch64 => "AArch64",
        _ => null,
    };

    private static string NameSuffix(ushort machine) => MachineName(machine) is { } name ? $" ({name})" : "";

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);

    private static bool InFile(ReadOnlySpan<byte> file, ulong offset, ulong length) =>
        offset <= (ulong)file.Length && length <= (ulong)file.Length - offset;

    private static BootException Fail(string path, string problem) => new($"{path}: {problem}");

    private static ushort U16(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(s[offset..]);
    private static uint U32(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);
    private static ulong U64(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(s[offset..]);
}
