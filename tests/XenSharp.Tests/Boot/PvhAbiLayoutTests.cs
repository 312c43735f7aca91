using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Abi.Elf;
using XenSharp.Abi.Pvh;

namespace XenSharp.Tests.Boot;

/// <summary>The PVH ABI structs match Xen's arch-x86/hvm/start_info.h and elfnote.h.</summary>
public class PvhAbiLayoutTests
{
    [Fact]
    public void Sizes_match_xen()
    {
        Assert.Equal(56, Unsafe.SizeOf<HvmStartInfo>());
        Assert.Equal(32, Unsafe.SizeOf<HvmModlistEntry>());
        Assert.Equal(24, Unsafe.SizeOf<HvmMemmapTableEntry>());
        Assert.Equal(HvmStartInfo.StructSize, Unsafe.SizeOf<HvmStartInfo>());
        Assert.Equal(HvmModlistEntry.StructSize, Unsafe.SizeOf<HvmModlistEntry>());
        Assert.Equal(HvmMemmapTableEntry.StructSize, Unsafe.SizeOf<HvmMemmapTableEntry>());
    }

    [Theory]
    [InlineData(nameof(HvmStartInfo.Magic), 0)]
    [InlineData(nameof(HvmStartInfo.Version), 4)]
    [InlineData(nameof(HvmStartInfo.Flags), 8)]
    [InlineData(nameof(HvmStartInfo.NrModules), 12)]
    [InlineData(nameof(HvmStartInfo.ModlistPaddr), 16)]
    [InlineData(nameof(HvmStartInfo.CmdlinePaddr), 24)]
    [InlineData(nameof(HvmStartInfo.RsdpPaddr), 32)]
    [InlineData(nameof(HvmStartInfo.MemmapPaddr), 40)]
    [InlineData(nameof(HvmStartInfo.MemmapEntries), 48)]
    [InlineData(nameof(HvmStartInfo.Reserved), 52)]
    public void Start_info_offsets(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<HvmStartInfo>(field));

    [Theory]
    [InlineData(nameof(HvmModlistEntry.Paddr), 0)]
    [InlineData(nameof(HvmModlistEntry.Size), 8)]
    [InlineData(nameof(HvmModlistEntry.CmdlinePaddr), 16)]
    [InlineData(nameof(HvmModlistEntry.Reserved), 24)]
    public void Modlist_entry_offsets(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<HvmModlistEntry>(field));

    [Theory]
    [InlineData(nameof(HvmMemmapTableEntry.Addr), 0)]
    [InlineData(nameof(HvmMemmapTableEntry.Size), 8)]
    [InlineData(nameof(HvmMemmapTableEntry.Type), 16)]
    [InlineData(nameof(HvmMemmapTableEntry.Reserved), 20)]
    public void Memmap_entry_offsets(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<HvmMemmapTableEntry>(field));

    [Fact]
    public void Constants_match_xen()
    {
        Assert.Equal(0x336ec578u, HvmStartInfo.MagicValue);
        Assert.Equal(1u, HvmStartInfo.CurrentVersion);
        Assert.Equal(new uint[] { 1, 2, 3, 4, 5, 6, 7 },
            new[] { HvmMemmapType.Ram, HvmMemmapType.Reserved, HvmMemmapType.Acpi, HvmMemmapType.Nvs,
                    HvmMemmapType.Unusable, HvmMemmapType.Disabled, HvmMemmapType.Pmem });
    }

    [Fact]
    public void Magic_is_xEn3_with_high_bit_on_E()
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, HvmStartInfo.MagicValue);
        Assert.Equal(new byte[] { (byte)'x', (byte)'E' | 0x80, (byte)'n', (byte)'3' }, b.ToArray());
    }

    [Fact]
    public void Elf_note_numbers_match_xen()
    {
        Assert.Equal(0u, (uint)XenElfNoteType.Info);
        Assert.Equal(1u, (uint)XenElfNoteType.Entry);
        Assert.Equal(2u, (uint)XenElfNoteType.HypercallPage);
        Assert.Equal(3u, (uint)XenElfNoteType.VirtBase);
        Assert.Equal(4u, (uint)XenElfNoteType.PaddrOffset);
        Assert.Equal(5u, (uint)XenElfNoteType.XenVersion);
        Assert.Equal(6u, (uint)XenElfNoteType.GuestOs);
        Assert.Equal(7u, (uint)XenElfNoteType.GuestVersion);
        Assert.Equal(8u, (uint)XenElfNoteType.Loader);
        Assert.Equal(9u, (uint)XenElfNoteType.PaeMode);
        Assert.Equal(10u, (uint)XenElfNoteType.Features);
        Assert.Equal(11u, (uint)XenElfNoteType.BsdSymtab);
        Assert.Equal(12u, (uint)XenElfNoteType.HvStartLow);
        Assert.Equal(13u, (uint)XenElfNoteType.L1MfnValid);
        Assert.Equal(14u, (uint)XenElfNoteType.SuspendCancel);
        Assert.Equal(15u, (uint)XenElfNoteType.InitP2m);
        Assert.Equal(16u, (uint)XenElfNoteType.ModStartPfn);
        Assert.Equal(17u, (uint)XenElfNoteType.SupportedFeatures);
        Assert.Equal(18u, (uint)XenElfNoteType.Phys32Entry);
        Assert.Equal(19u, (uint)XenElfNoteType.Phys32Reloc);
        Assert.Equal(19u, (uint)XenElfNoteType.Max);
        Assert.Equal(0x1000001u, (uint)XenElfNoteType.CrashInfo);
        Assert.Equal(0x1000002u, (uint)XenElfNoteType.CrashRegs);
        Assert.Equal(0x2000000u, (uint)XenElfNoteType.DumpcoreNone);
        Assert.Equal(0x2000001u, (uint)XenElfNoteType.DumpcoreHeader);
        Assert.Equal(0x2000002u, (uint)XenElfNoteType.DumpcoreXenVersion);
        Assert.Equal(0x2000003u, (uint)XenElfNoteType.DumpcoreFormatVersion);
    }
}
