using System.Buffers.Binary;
using XenSharp.Abi.Elf;
using XenSharp.Guests.Elf;

namespace XenSharp.Tests.Boot;

/// <summary>PvhElfWriter's byte layout: what QEMU's and Xen's PVH loaders expect.</summary>
public class PvhElfWriterTests
{
    private static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
    private static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));

    [Fact]
    public void Emits_an_elf32_exec_with_one_load_and_one_note_segment()
    {
        var elf = ElfImageTests.SampleElf32(load: 0x100000, bss: 0x1000);

        Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 1, 1 }, elf[..7]);
        Assert.Equal(2, U16(elf, 16));   // ET_EXEC
        Assert.Equal(3, U16(elf, 18));   // EM_386
        Assert.Equal(0x100010u, U32(elf, 24));
        Assert.Equal(52u, U32(elf, 28)); // e_phoff
        Assert.Equal(52, U16(elf, 40));
        Assert.Equal(32, U16(elf, 42));
        Assert.Equal(2, U16(elf, 44));

        // PT_LOAD, RWX.
        Assert.Equal(1u, U32(elf, 52));
        Assert.Equal(0x100000u, U32(elf, 52 + 12));
        Assert.Equal(300u, U32(elf, 52 + 16));
        Assert.Equal(300u + 0x1000, U32(elf, 52 + 20));
        Assert.Equal(7u, U32(elf, 52 + 24));

        // PT_NOTE, 4-byte aligned, PHYS32_ENTRY first with name "Xen\0".
        Assert.Equal(4u, U32(elf, 84));
        Assert.Equal(4u, U32(elf, 84 + 28));
        int notes = (int)U32(elf, 84 + 4);
        Assert.Equal(0, notes % 4);
        Assert.Equal(4u, U32(elf, notes));
        Assert.Equal(4u, U32(elf, notes + 4));
        Assert.Equal(18u, U32(elf, notes + 8));
        Assert.Equal("Xen\0"u8.ToArray(), elf[(notes + 12)..(notes + 16)]);
        Assert.Equal(0x100010u, U32(elf, notes + 16));

        // Not mistaken for a Linux bzImage by a -kernel loader.
        Assert.NotEqual(0x53726448u, U32(elf, 0x202));
    }

    [Fact]
    public void Pads_string_notes_to_four_bytes()
    {
        var elf = new PvhElfWriter
        {
            Image = new byte[] { 0xf4 },
            LoadAddress = 0x100000,
            EntryAddress = 0x100000,
            GuestOs = "Abc", // 4 bytes with NUL
            GuestVersion = "12345", // 6 bytes with NUL, padded to 8
            Notes = [PvhElfNote.Numeric64(XenElfNoteType.Entry, 0x100000)],
        }.Build();
        int notes = (int)U32(elf, 84 + 4);
        int second = notes + 12 + 4 + 4;
        Assert.Equal(4u, U32(elf, second + 4));
        Assert.Equal(6u, U32(elf, second + 8));
        int third = second + 12 + 4 + 4;
        Assert.Equal(6u, U32(elf, third + 4));
        Assert.Equal(7u, U32(elf, third + 8));
        int fourth = third + 12 + 4 + 8;
        Assert.Equal(8u, U32(elf, fourth + 4));
        Assert.Equal(1u, U32(elf, fourth + 8));
        Assert.Equal(fourth + 12 + 4 + 8 - notes, (int)U32(elf, 84 + 16)); // p_filesz covers every note
    }

    [Fact]
    public void Rejects_inconsistent_input()
    {
        Assert.Throws<ArgumentException>(() => new PvhElfWriter
        {
            Image = new byte[16], LoadAddress = 0x100000, EntryAddress = 0x200000,
        }.Build());
        Assert.Throws<ArgumentException>(() => new PvhElfWriter
        {
            Image = new byte[16], LoadAddress = 0xfffff000, EntryAddress = 0xfffff000, BssSize = 0x2000,
        }.Build());
        Assert.Throws<ArgumentException>(() => new PvhElfWriter
        {
            Image = new byte[16], LoadAddress = 0x100000, EntryAddress = 0x100000,
            Notes = [PvhElfNote.Numeric(XenElfNoteType.Phys32Entry, 0x100000)],
        }.Build());
    }
}
