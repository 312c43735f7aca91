using XenSharp.Abi.Arm;
using XenSharp.Boot;
using XenSharp.Boot.Arm64;
using XenSharp.Boot.Elf;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Boot.Arm64;

public class Arm64ImageLoaderTests
{
    private const ulong MiB = 1UL << 20;
    private const string Path = "images/Image";

    internal static byte[] MakeImage(ulong textOffset = 0x200000, ulong imageSize = 0x300000, ulong flags = 0xA, int length = 0x10000, uint magic = Arm64ImageHeader.MagicValue)
    {
        var bytes = new byte[length];
        new Arm64ImageHeader(0x91005a4d, 0x14000000, textOffset, imageSize, flags, 0, 0, 0, magic, 0x40).Write(bytes);
        for (int i = Arm64ImageHeader.Size; i < length; i++) bytes[i] = (byte)i;
        return bytes;
    }

    private static Arm64Layout Layout(ulong ram = 256 * MiB) => Arm64Layout.Create(ram, 1);

    [Fact]
    public void Header_fields_are_read()
    {
        var h = Arm64ImageHeader.Read(MakeImage(flags: 0xA));
        Assert.Equal(0x200000UL, h.TextOffset);
        Assert.Equal(0x300000UL, h.ImageSize);
        Assert.False(h.IsBigEndian);
        Assert.Equal(4096UL, h.KernelPageSize);
        Assert.True(h.PhysicalPlacementAnywhere);
        Assert.Equal(0x40u, h.PeHeaderOffset);
        Assert.Equal(0x644d5241u, h.Magic);
        Assert.Equal(65536UL, Arm64ImageHeader.Read(MakeImage(flags: 6)).KernelPageSize);
        Assert.Equal(0UL, Arm64ImageHeader.Read(MakeImage(flags: 0)).KernelPageSize);
    }

    [Fact]
    public void Image_loads_at_ram_base_plus_text_offset_and_covers_image_size()
    {
        var k = Arm64ImageLoader.Parse(MakeImage(), Path, Layout());
        Assert.Equal(Arm64KernelFormat.Image, k.Format);
        Assert.Equal(0x40200000UL, k.Start);
        Assert.Equal(0x40200000UL, k.Entry);
        Assert.Equal(0x40500000UL, k.End); // image_size (with bss) beyond the 64 KiB file
        var seg = Assert.Single(k.Segments);
        Assert.Equal(0x10000, seg.Data.Length);
        Assert.Equal(0x300000UL, seg.MemorySize);
    }

    [Fact]
    public void Image_size_zero_means_text_offset_0x80000()
    {
        var k = Arm64ImageLoader.Parse(MakeImage(textOffset: 0x1234000, imageSize: 0), Path, Layout());
        Assert.Equal(0x40080000UL, k.Start);
        Assert.Equal(0x40080000UL + 0x10000, k.End); // the file size, as nothing says more
    }

    [Fact]
    public void Bad_magic_is_rejected_with_the_file_name()
    {
        var e = Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(MakeImage(magic: 0x12345678), Path, Layout()));
        Assert.StartsWith("images/Image: ", e.Message);
        Assert.Contains("ARM\\x64", e.Message);
        Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(new byte[10], Path, Layout()));
    }

    [Fact]
    public void Big_endian_image_is_rejected()
    {
        var e = Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(MakeImage(flags: 0xB), Path, Layout()));
        Assert.Equal("images/Image: a big-endian arm64 Image (flags bit 0 set); XenSharp starts ARM guests little-endian and boots little-endian kernels only", e.Message);
    }

    [Fact]
    public void Image_larger_than_bank_0_is_rejected()
    {
        var e = Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(MakeImage(imageSize: 64 * MiB), Path, Layout(32 * MiB)));
        Assert.Contains("does not fit in RAM bank 0", e.Message);
    }

    private static byte[] ArmElf(ushort machine = ElfImage.MachineAArch64, ulong entry = 0x40080000, ulong paddr = 0x40080000)
    {
        var b = new Elf64TestBuilder { Machine = machine, Entry = entry };
        b.Load(paddr, [0x1f, 0x20, 0x03, 0xd5, 1, 2, 3, 4], memsz: 0x2000);
        return b.Build();
    }

    [Fact]
    public void Aarch64_elf_loads_at_its_physical_addresses()
    {
        var k = Arm64ImageLoader.Parse(ArmElf(), "images/xtf", Layout());
        Assert.Equal(Arm64KernelFormat.Elf, k.Format);
        Assert.Equal(0x40080000UL, k.Entry);
        Assert.Equal(0x40080000UL, k.Start);
        Assert.Equal(0x40082000UL, k.End);
        Assert.Null(k.ImageHeader);
    }

    [Fact]
    public void Aarch64_elf_outside_ram_is_rejected()
    {
        var e = Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(ArmElf(entry: 0x100000, paddr: 0x100000), "images/xtf", Layout()));
        Assert.Contains("not inside guest RAM", e.Message);
    }

    [Fact]
    public void X86_elf_given_to_the_arm_builder_names_file_and_machine()
    {
        var e = Assert.Throws<BootException>(() => Arm64ImageLoader.Parse(ArmElf(machine: ElfImage.MachineX86_64), "images/vmlinux", Layout()));
        Assert.Equal("images/vmlinux: ELF machine 62 (x86-64) is an x86 kernel, but this is an ARM domain (the ARM builder loads AArch64 ELF64 or an arm64 Image)", e.Message);
    }

    [Fact]
    public void Arm_elf_given_to_the_x86_builder_names_file_and_machine()
    {
        var e = Assert.Throws<BootException>(() => ElfImage.Parse(ArmElf(), "images/arm.elf"));
        Assert.Equal("images/arm.elf: ELF machine 183 (AArch64) is an ARM kernel, but this is an x86 domain (XenSharp loads x86 ELF32/ELF64 here)", e.Message);
    }

    [Fact]
    public void Other_machines_are_rejected_by_the_arm_builder()
    {
        var e = Assert.Throws<BootException>(() => ElfImage.Parse(ArmElf(machine: 40), "images/a32", ElfTarget.Arm64));
        Assert.Equal("images/a32: unsupported ELF machine 40 (ARM) (XenSharp loads AArch64 ELF64)", e.Message);
    }

    [Fact]
    public void Detects_the_architecture()
    {
        Assert.Equal(BootImageKind.Arm64, BootImageArchitecture.Detect(MakeImage()));
        Assert.Equal(BootImageKind.Arm64, BootImageArchitecture.Detect(ArmElf()));
        Assert.Equal(BootImageKind.X86, BootImageArchitecture.Detect(ArmElf(machine: ElfImage.MachineX86_64)));
        Assert.Equal(BootImageKind.X86, BootImageArchitecture.Detect(ArmElf(machine: ElfImage.MachineI386)));
        Assert.Equal(BootImageKind.Unknown, BootImageArchitecture.Detect(ArmElf(machine: 40)));
        Assert.Equal(BootImageKind.Unknown, BootImageArchitecture.Detect(MakeImage(magic: 0)));
        Assert.Equal(BootImageKind.Unknown, BootImageArchitecture.Detect([]));
        var bz = new byte[0x400];
        "HdrS"u8.CopyTo(bz.AsSpan(0x202));
        Assert.Equal(BootImageKind.X86, BootImageArchitecture.Detect(bz));
    }

    [Fact]
    public void Boot_state_is_el1h_daif_masked_mmu_off_with_dtb_in_x0()
    {
        var s = new Arm64BootState(0x40200000, 0x48000000);
        Assert.Equal(0x40200000UL, s.Pc);
        Assert.Equal(0x48000000UL, s.X0);
        Assert.Equal((0UL, 0UL, 0UL), (s.X1, s.X2, s.X3));
        Assert.Equal(1, s.ExceptionLevel);
        Assert.True(s.UsesSpElx);
        Assert.True(s.DaifMasked);
        Assert.False(s.MmuEnabled);
        Assert.Equal(0x3C5UL, s.Pstate);
        Assert.Equal(0x80000000UL, s.Mpidr);
    }

    [Fact]
    public void Builder_writes_kernel_initrd_and_dtb_into_guest_memory()
    {
        var layout = Layout(256 * MiB);
        using var memory = GuestMemory.Allocate(layout.MemoryRanges());
        var image = MakeImage();
        var initrd = new byte[0x1800];
        Array.Fill(initrd, (byte)0x5A);
        var result = Arm64DomainBuilder.Build(memory, layout, image, Path, initrd,
            new Arm64DeviceTreeOptions { Bootargs = "console=hvc0" });

        Assert.Equal(0x48000000UL, result.Modules.InitrdBase);
        Assert.Equal(0x48002000UL, result.Modules.DtbBase);
        Assert.Equal(result.Modules.DtbBase, result.BootState.X0);
        Assert.Equal(0x40200000UL, result.BootState.Pc);

        var kernelBack = new byte[image.Length];
        Assert.True(memory.TryReadBytes(0x40200000, kernelBack));
        Assert.Equal(image, kernelBack);
        var bss = new byte[16];
        Assert.True(memory.TryReadBytes(0x40200000 + (ulong)image.Length, bss));
        Assert.All(bss, b => Assert.Equal(0, b));
        var initrdBack = new byte[initrd.Length];
        Assert.True(memory.TryReadBytes(0x48000000, initrdBack));
        Assert.Equal(initrd, initrdBack);

        var dtbBack = new byte[result.DeviceTree.Length];
        Assert.True(memory.TryReadBytes(result.Modules.DtbBase, dtbBack));
        var chosen = FdtReader.Parse(dtbBack).Find("/chosen")!;
        Assert.Equal(0x48000000UL, chosen.GetU64("linux,initrd-start"));
        Assert.Equal(0x48001800UL, chosen.GetU64("linux,initrd-end"));
        Assert.Equal("console=hvc0", chosen.GetString("bootargs"));
    }

    [Fact]
    public void Builder_backs_the_magic_pages_but_not_the_grant_window()
    {
        var layout = Layout(64 * MiB);
        using var memory = GuestMemory.Allocate(layout.MemoryRanges());
        Assert.True(memory.Contains(Arm64Layout.MagicPage(ArmGuestLayout.XenStoreRingPage), 4096));
        Assert.False(memory.Contains(ArmGuestLayout.GrantTableBase, 4096));
        Assert.False(memory.Contains(ArmGuestLayout.Pl011Base, 4096));
    }
}
