using System.Buffers.Binary;
using XenSharp.Abi.Elf;
using XenSharp.Boot;
using XenSharp.Boot.Elf;
using XenSharp.Guests.Elf;

namespace XenSharp.Tests.Boot;

/// <summary>ElfImage parses x86 ELF32/ELF64 executables and rejects malformed ones with BootException.</summary>
public class ElfImageTests
{
    private const string Path = "images/x.bin";

    internal static byte[] SampleCode(int length = 300)
    {
        var code = new byte[length];
        for (int i = 0; i < code.Length; i++) code[i] = (byte)(i * 7 + 1);
        return code;
    }

    internal static byte[] SampleElf32(uint load = 0x100000, uint bss = 0x2000, int codeLength = 300) => new PvhElfWriter
    {
        Image = SampleCode(codeLength),
        LoadAddress = load,
        EntryAddress = load + 0x10,
        BssSize = bss,
        GuestOs = "XenSharpTest",
        GuestVersion = "0.1",
        XenVersion = "xen-3.0",
        Loader = "generic",
    }.Build();

    private static BootException Rejects(byte[] bytes) =>
        Assert.Throws<BootException>(() => ElfImage.Parse(bytes, Path));

    [Fact]
    public void Parses_elf32_from_the_writer()
    {
        var bytes = SampleElf32();
        var image = ElfImage.Parse(bytes, Path);

        Assert.Equal(Path, image.Path);
        Assert.Equal(ElfClass.Elf32, image.Class);
        Assert.Equal(ElfImage.MachineI386, image.Machine);
        Assert.Equal(ElfImage.TypeExecutable, image.Type);
        Assert.Equal(0x100010UL, image.Entry);

        var seg = Assert.Single(image.LoadSegments);
        Assert.Equal(0x100000UL, seg.PhysicalAddress);
        Assert.Equal(0x100000UL, seg.VirtualAddress);
        Assert.Equal(300UL, seg.FileSize);
        Assert.Equal(300UL + 0x2000, seg.MemorySize);
        Assert.Equal(ElfLoadSegment.FlagRead | ElfLoadSegment.FlagWrite | ElfLoadSegment.FlagExecute, seg.Flags);
        Assert.Equal(seg.PhysicalAddress % 4096, seg.FileOffset % 4096);
        Assert.Equal(SampleCode(), image.GetFileBytes(seg).ToArray());

        Assert.Equal(5, image.Notes.Count);
        Assert.All(image.Notes, n => Assert.Equal("Xen", n.Name));
        Assert.Equal((uint)XenElfNoteType.Phys32Entry, image.Notes[0].Type);
        Assert.Equal(0x100010u, BinaryPrimitives.ReadUInt32LittleEndian(image.Notes[0].Descriptor.Span));
    }

    [Fact]
    public void Parses_elf64_with_two_segments()
    {
        var text = SampleCode(5000);
        var data = new byte[] { 1, 2, 3, 4 };
        var bytes = new Elf64TestBuilder { Entry = 0xffffffff81000000 }
            .Load(0x1000000, text, vaddr: 0xffffffff81000000)
            .Load(0x1400000, data, memsz: 0x10000, vaddr: 0xffffffff81400000)
            .Note32((uint)XenElfNoteType.Phys32Entry, 0x1000040)
            .Note("GNU", 3, new byte[20])
            .Build();

        var image = ElfImage.Parse(bytes, Path);
        Assert.Equal(ElfClass.Elf64, image.Class);
        Assert.Equal(ElfImage.MachineX86_64, image.Machine);
        Assert.Equal(0xffffffff81000000, image.Entry);
        Assert.Equal(2, image.LoadSegments.Count);
        Assert.Equal(0x1000000UL, image.LoadSegments[0].PhysicalAddress);
        Assert.Equal(0xffffffff81000000, image.LoadSegments[0].VirtualAddress);
        Assert.Equal(text, image.GetFileBytes(image.LoadSegments[0]).ToArray());
        Assert.Equal(0x1400000UL, image.LoadSegments[1].PhysicalAddress);
        Assert.Equal(4UL, image.LoadSegments[1].FileSize);
        Assert.Equal(0x10000UL, image.LoadSegments[1].MemorySize);
        Assert.Equal(1, image.LoadSegments[1].Index);

        Assert.Equal(2, image.Notes.Count);
        Assert.Equal("Xen", image.Notes[0].Name);
        Assert.Equal("GNU", image.Notes[1].Name);
        Assert.Equal(3u, image.Notes[1].Type);
        Assert.Equal(20, image.Notes[1].Descriptor.Length);
    }

    [Fact]
    public void Reads_notes_with_8_byte_alignment()
    {
        var bytes = new Elf64TestBuilder { Entry = 0x1000000, NoteAlignment = 8 }
            .Load(0x1000000, SampleCode())
            .NoteText((uint)XenElfNoteType.GuestOs, "Linux")
            .Note32((uint)XenElfNoteType.Phys32Entry, 0x1000000)
            .Build();
        var image = ElfImage.Parse(bytes, Path);
        Assert.Equal(2, image.Notes.Count);
        Assert.Equal((uint)XenElfNoteType.Phys32Entry, image.Notes[1].Type);
        Assert.Equal(4, image.Notes[1].Descriptor.Length);
    }

    [Fact]
    public void Falls_back_to_note_sections_without_a_note_segment()
    {
        var bytes = new Elf64TestBuilder { Entry = 0x200000, NotesInSectionOnly = true }
            .Load(0x200000, SampleCode())
            .Note32((uint)XenElfNoteType.Phys32Entry, 0x200000)
            .NoteText((uint)XenElfNoteType.GuestOs, "Linux")
            .Build();
        var image = ElfImage.Parse(bytes, Path);
        Assert.Equal(2, image.Notes.Count);
        Assert.Equal((uint)XenElfNoteType.Phys32Entry, image.Notes[0].Type);
        Assert.Equal("Linux\0"u8.ToArray(), image.Notes[1].Descriptor.ToArray());
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x7f, (byte)'E' })]
    [InlineData(new byte[] { (byte)'M', (byte)'Z', 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff, 0, 0 })]
    public void Rejects_non_elf(byte[] bytes) =>
        Assert.Equal("images/x.bin: not an ELF file (bad magic)", Rejects(bytes).Message);

    [Fact]
    public void Rejects_a_bzimage_style_file()
    {
        var bytes = new byte[4096];
        "HdrS"u8.CopyTo(bytes.AsSpan(0x202));
        Assert.Equal("images/x.bin: not an ELF file (bad magic)", Rejects(bytes).Message);
    }

    [Fact]
    public void Rejects_truncated_header()
    {
        Assert.Equal("images/x.bin: truncated ELF header", Rejects(SampleElf32()[..20]).Message);
        Assert.Equal("images/x.bin: truncated ELF header", Rejects(SampleElf32()[..51]).Message);
    }

    [Fact]
    public void Rejects_truncated_program_header_table()
    {
        Assert.Equal("images/x.bin: truncated program header table", Rejects(SampleElf32()[..60]).Message);
    }

    [Fact]
    public void Rejects_truncated_segment()
    {
        var bytes = SampleElf32();
        var e = Rejects(bytes[..^10]);
        Assert.StartsWith("images/x.bin: PT_LOAD segment 0 (file offset 0x", e.Message);
        Assert.Contains("runs past the end of the file", e.Message);
    }

    [Fact]
    public void Rejects_wrong_machine()
    {
        var bytes = SampleElf32();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(18), 40); // EM_ARM
        Assert.Equal("images/x.bin: unsupported ELF machine 40 (XenSharp loads x86 ELF32/ELF64)", Rejects(bytes).Message);
    }

    [Fact]
    public void Rejects_big_endian_and_bad_class()
    {
        var bytes = SampleElf32();
        bytes[5] = 2;
        Assert.Contains("big-endian", Rejects(bytes).Message);
        bytes = SampleElf32();
        bytes[4] = 3;
        Assert.Equal("images/x.bin: unsupported ELF class 3 (XenSharp loads x86 ELF32/ELF64)", Rejects(bytes).Message);
    }

    [Fact]
    public void Rejects_relocatable_objects()
    {
        var bytes = SampleElf32();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(16), 1); // ET_REL
        Assert.StartsWith("images/x.bin: not an executable (ELF type 1", Rejects(bytes).Message);
    }

    [Fact]
    public void Rejects_filesz_larger_than_memsz()
    {
        var bytes = SampleElf32(bss: 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(52 + 20), 10); // p_memsz
        Assert.Contains("PT_LOAD segment 0 has p_filesz 0x12c larger than p_memsz 0xa", Rejects(bytes).Message);
    }

    [Fact]
    public void Rejects_a_note_that_runs_past_its_segment()
    {
        var bytes = SampleElf32();
        int notes = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(52 + 32 + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(notes + 4), 0xfffffff0); // descsz
        Assert.Contains("malformed note at file offset 0x", Rejects(bytes).Message);
    }

    [Fact]
    public void Malformed_input_only_ever_throws_BootException()
    {
        var valid32 = SampleElf32();
        var valid64 = new Elf64TestBuilder { Entry = 0x200000, NotesInSectionOnly = true }
            .Load(0x200000, SampleCode()).Note32((uint)XenElfNoteType.Phys32Entry, 0x200000).Build();
        var random = new Random(1234);
        foreach (var valid in new[] { valid32, valid64 })
        {
            for (int len = 0; len < Math.Min(valid.Length, 400); len++)
                TryParse(valid[..len]);
            for (int round = 0; round < 3000; round++)
            {
                var bytes = (byte[])valid.Clone();
                int flips = random.Next(1, 6);
                for (int i = 0; i < flips; i++)
                {
                    int at = random.Next(0, Math.Min(bytes.Length, 512));
                    bytes[at] = (byte)random.Next(256);
                }
                TryParse(bytes);
            }
        }

        static void TryParse(byte[] bytes)
        {
            try
            {
                var image = ElfImage.Parse(bytes, Path);
                foreach (var s in image.LoadSegments) _ = image.GetFileBytes(s).Length;
                _ = XenElfNotes.From(image).Describe();
            }
            catch (BootException)
            {
            }
        }
    }
}
