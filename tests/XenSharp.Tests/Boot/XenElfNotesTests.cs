using XenSharp.Abi.Elf;
using XenSharp.Boot;
using XenSharp.Boot.Elf;
using XenSharp.Guests.Elf;

namespace XenSharp.Tests.Boot;

/// <summary>XenElfNotes decodes the "Xen" notes (4- and 8-byte numerics, strings) and describes them.</summary>
public class XenElfNotesTests
{
    private const string Path = "images/kernel";

    [Fact]
    public void Decodes_writer_notes()
    {
        var bytes = new PvhElfWriter
        {
            Image = ElfImageTests.SampleCode(),
            LoadAddress = 0x1000000,
            EntryAddress = 0x1000000,
            GuestOs = "Linux",
            GuestVersion = "6.8",
            XenVersion = "xen-3.0",
            Loader = "generic",
            Notes =
            [
                PvhElfNote.Numeric(XenElfNoteType.SupportedFeatures, 0x801),
                PvhElfNote.Text(XenElfNoteType.Features, "!writable_page_tables|pae_pgdir_above_4gb"),
                PvhElfNote.Numeric(XenElfNoteType.HypercallPage, 0x1001000),
            ],
        }.Build();

        var notes = XenElfNotes.From(ElfImage.Parse(bytes, Path));
        Assert.Equal(0x1000000u, notes.Phys32Entry);
        Assert.Equal("Linux", notes.GuestOs);
        Assert.Equal("6.8", notes.GuestVersion);
        Assert.Equal("xen-3.0", notes.XenVersion);
        Assert.Equal("generic", notes.Loader);
        Assert.Equal(0x801u, notes.SupportedFeatures);
        Assert.Equal("!writable_page_tables|pae_pgdir_above_4gb", notes.Features);
        Assert.Equal(0x1001000UL, notes.HypercallPage);
        Assert.Null(notes.Entry);
        Assert.Null(notes.Phys32Reloc);
        Assert.Equal(8, notes.All.Count);

        var lines = notes.Describe();
        Assert.Equal("PHYS32_ENTRY = 0x1000000", lines[0]);
        Assert.Equal("GUEST_OS = Linux", lines[1]);
        Assert.Contains("GUEST_VERSION = 6.8", lines);
        Assert.Contains("XEN_VERSION = xen-3.0", lines);
        Assert.Contains("LOADER = generic", lines);
        Assert.Contains("SUPPORTED_FEATURES = 0x801", lines);
        Assert.Contains("HYPERCALL_PAGE = 0x1001000", lines);
    }

    [Fact]
    public void Decodes_8_byte_numeric_notes()
    {
        var bytes = new Elf64TestBuilder { Entry = 0xffffffff81000000 }
            .Load(0x1000000, ElfImageTests.SampleCode())
            .Note64((uint)XenElfNoteType.Entry, 0xffffffff81000000)
            .Note64((uint)XenElfNoteType.HypercallPage, 0xffffffff81001000)
            .Note64((uint)XenElfNoteType.VirtBase, 0xffffffff80000000)
            .Note64((uint)XenElfNoteType.PaddrOffset, 0)
            .Note64((uint)XenElfNoteType.InitP2m, 0x8000000000)
            .Note64((uint)XenElfNoteType.Phys32Entry, 0x1000040)
            .Note32((uint)XenElfNoteType.SuspendCancel, 1)
            .NoteText((uint)XenElfNoteType.PaeMode, "yes")
            .NoteText((uint)XenElfNoteType.Info, "FOO=bar")
            .Note("Xen", (uint)XenElfNoteType.Phys32Reloc, [0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x01])
            .Note("Xen", (uint)XenElfNoteType.L1MfnValid, [1, 2, 3, 4, 5, 6, 7, 8])
            .Note("Xen", 99, [0xab])
            .Build();

        var notes = XenElfNotes.From(ElfImage.Parse(bytes, Path));
        Assert.Equal(0xffffffff81000000, notes.Entry);
        Assert.Equal(0xffffffff81001000, notes.HypercallPage);
        Assert.Equal(0xffffffff80000000, notes.VirtBase);
        Assert.Equal(0UL, notes.PaddrOffset);
        Assert.Equal(0x8000000000UL, notes.InitP2m);
        Assert.Equal(0x1000040u, notes.Phys32Entry);
        Assert.Equal(1UL, notes.SuspendCancel);
        Assert.Equal("yes", notes.PaeMode);
        Assert.Equal(["FOO=bar"], notes.Info);
        Assert.Equal((0x200000u, 0x1000000u, uint.MaxValue), notes.Phys32Reloc);

        var lines = notes.Describe();
        Assert.Contains("ENTRY = 0xffffffff81000000", lines);
        Assert.Contains("PADDR_OFFSET = 0x0", lines);
        Assert.Contains("PHYS32_ENTRY = 0x1000040", lines);
        Assert.Contains("INFO = FOO=bar", lines);
        Assert.Contains("PHYS32_RELOC = relocatable (align 0x200000, min 0x1000000, max 0xffffffff)", lines);
        Assert.Contains("L1_MFN_VALID = <8 bytes: 0102030405060708>", lines);
        Assert.Contains("type 99 = <1 bytes: ab>", lines);
    }

    [Fact]
    public void Ignores_notes_of_other_owners_and_takes_the_last_duplicate()
    {
        var notes = XenElfNotes.Decode(
        [
            new ElfNote("GNU", (uint)XenElfNoteType.Phys32Entry, new byte[] { 1, 0, 0, 0 }, 0),
            new ElfNote("Xen", (uint)XenElfNoteType.GuestOs, "Mini-OS\0"u8.ToArray(), 0),
            new ElfNote("Xen", (uint)XenElfNoteType.GuestOs, "Linux\0"u8.ToArray(), 0),
            new ElfNote("Xenon", (uint)XenElfNoteType.GuestOs, "Nope\0"u8.ToArray(), 0),
        ], Path);
        Assert.Null(notes.Phys32Entry);
        Assert.Equal("Linux", notes.GuestOs);
        Assert.Equal(["GUEST_OS = Mini-OS", "GUEST_OS = Linux"], notes.Describe());
    }

    [Fact]
    public void Describe_replaces_control_characters()
    {
        var notes = XenElfNotes.Decode([new ElfNote("Xen", (uint)XenElfNoteType.GuestOs, "a\nb\u001b"u8.ToArray(), 0)], Path);
        Assert.Equal("a\nb\u001b", notes.GuestOs);
        Assert.Equal(["GUEST_OS = a?b?"], notes.Describe());
    }

    [Fact]
    public void Rejects_a_numeric_note_of_the_wrong_size()
    {
        var e = Assert.Throws<BootException>(() => XenElfNotes.Decode(
            [new ElfNote("Xen", (uint)XenElfNoteType.Phys32Entry, new byte[] { 0, 0, 16 }, 0)], Path));
        Assert.Equal("images/kernel: Xen note PHYS32_ENTRY (18) has a 3-byte value; it must be 4 or 8 bytes", e.Message);
    }

    [Fact]
    public void Rejects_a_phys32_entry_above_4_GiB()
    {
        var e = Assert.Throws<BootException>(() => XenElfNotes.Decode(
            [new ElfNote("Xen", (uint)XenElfNoteType.Phys32Entry, BitConverter.GetBytes(0x100000000UL), 0)], Path));
        Assert.StartsWith("images/kernel: Xen note PHYS32_ENTRY (18) is 0x100000000, above 4 GiB", e.Message);
    }

    [Fact]
    public void Names_follow_elfnote_h()
    {
        Assert.Equal("PHYS32_ENTRY", XenElfNotes.NameOf(18));
        Assert.Equal("L1_MFN_VALID", XenElfNotes.NameOf(13));
        Assert.Equal("DUMPCORE_FORMAT_VERSION", XenElfNotes.NameOf(0x2000003));
        Assert.Equal("type 1234", XenElfNotes.NameOf(1234));
    }
}
