using XenSharp.Abi.Elf;
using XenSharp.Boot;
using XenSharp.Boot.Pvh;
using XenSharp.Guests.Elf;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Boot;

/// <summary>PvhKernelLoader places PT_LOAD segments at p_paddr and rejects kernels it cannot boot.</summary>
public class PvhKernelLoaderTests
{
    private const ulong RamSize = 16UL << 20;
    private const string Path = "images/kernel.elf";

    private static GuestMemory NewMemory(byte fill = 0xaa)
    {
        var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        Assert.True(memory.TryGetSpan(0, (int)RamSize, out var all));
        all.Fill(fill);
        return memory;
    }

    [Fact]
    public void Loads_an_elf32_kernel_and_zeroes_bss()
    {
        using var memory = NewMemory();
        var kernel = PvhKernelLoader.Load(memory, ElfImageTests.SampleElf32(load: 0x100000, bss: 0x2000), Path);

        Assert.Equal(0x100010u, kernel.EntryPoint);
        Assert.Equal(0x100000UL, kernel.LowestAddress);
        Assert.Equal(0x100000UL + 300 + 0x2000 - 1, kernel.HighestAddress);
        Assert.Equal(0x100000UL + 300 + 0x2000, kernel.EndAddress);
        Assert.Equal(0x103000UL, kernel.FirstFreePage);
        Assert.Equal("XenSharpTest", kernel.Notes.GuestOs);

        var code = new byte[300];
        Assert.True(memory.TryReadBytes(0x100000, code));
        Assert.Equal(ElfImageTests.SampleCode(), code);
        Assert.True(memory.TryGetSpan(0x100000 + 300, 0x2000, out var bss));
        Assert.True(bss.IndexOfAnyExcept((byte)0) < 0);
        Assert.True(memory.TryRead(0x100000 + 300 + 0x2000, out byte after));
        Assert.Equal(0xaa, after);
        Assert.True(memory.TryRead(0xfffff, out byte before));
        Assert.Equal(0xaa, before);
    }

    [Fact]
    public void Loads_every_segment_of_an_elf64_kernel()
    {
        using var memory = NewMemory();
        var text = ElfImageTests.SampleCode(5000);
        var bytes = new Elf64TestBuilder { Entry = 0xffffffff81000000 }
            .Load(0x200000, text, vaddr: 0xffffffff81000000)
            .Load(0x400000, [9, 8, 7], memsz: 0x1000, vaddr: 0xffffffff81200000)
            .Note64((uint)XenElfNoteType.Phys32Entry, 0x200100)
            .Build();

        var kernel = PvhKernelLoader.Load(memory, bytes, Path);
        Assert.Equal(0x200100u, kernel.EntryPoint);
        Assert.Equal(0x200000UL, kernel.LowestAddress);
        Assert.Equal(0x400fffUL, kernel.HighestAddress);
        Assert.Equal(0x401000UL, kernel.FirstFreePage);

        var read = new byte[text.Length];
        Assert.True(memory.TryReadBytes(0x200000, read));
        Assert.Equal(text, read);
        Assert.True(memory.TryGetSpan(0x400000, 0x1000, out var data));
        Assert.Equal(new byte[] { 9, 8, 7, 0, 0 }, data[..5].ToArray());
        Assert.True(data[3..].IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Rejects_a_kernel_without_phys32_entry()
    {
        using var memory = NewMemory();
        var bytes = new Elf64TestBuilder { Entry = 0x200000 }
            .Load(0x200000, ElfImageTests.SampleCode())
            .NoteText((uint)XenElfNoteType.GuestOs, "Linux")
            .Build();
        var e = Assert.Throws<BootException>(() => PvhKernelLoader.Load(memory, bytes, Path));
        Assert.Equal("images/kernel.elf: not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY (18) note; XenSharp boots PVH guests, which need it", e.Message);
    }

    [Fact]
    public void Rejects_a_segment_outside_ram_without_writing_anything()
    {
        using var memory = NewMemory();
        var bytes = new Elf64TestBuilder { Entry = 0x200000 }
            .Load(0x200000, ElfImageTests.SampleCode())
            .Load(0xfff000, [1, 2, 3], memsz: 0x2000)
            .Note32((uint)XenElfNoteType.Phys32Entry, 0x200000)
            .Build();
        var e = Assert.Throws<BootException>(() => PvhKernelLoader.Load(memory, bytes, Path));
        Assert.Equal(
            "images/kernel.elf: PT_LOAD segment 1 (0xfff000..0x1001000, 8 KiB) does not fit in guest RAM (16 MiB: 0x0..0x1000000); " +
            "raise memory= in the domain configuration", e.Message);
        Assert.True(memory.TryRead(0x200000, out byte untouched));
        Assert.Equal(0xaa, untouched);
    }

    [Fact]
    public void Rejects_an_entry_point_outside_the_image()
    {
        using var memory = NewMemory();
        var bytes = new Elf64TestBuilder { Entry = 0x200000 }
            .Load(0x200000, ElfImageTests.SampleCode())
            .Note32((uint)XenElfNoteType.Phys32Entry, 0x900000)
            .Build();
        var e = Assert.Throws<BootException>(() => PvhKernelLoader.Load(memory, bytes, Path));
        Assert.Equal("images/kernel.elf: PHYS32_ENTRY 0x900000 is not inside any PT_LOAD segment", e.Message);
    }

    [Fact]
    public void Passes_on_parse_errors_as_BootException()
    {
        using var memory = NewMemory();
        var e = Assert.Throws<BootException>(() => PvhKernelLoader.Load(memory, "#!/bin/sh\n"u8.ToArray(), Path));
        Assert.Equal("images/kernel.elf: not an ELF file (bad magic)", e.Message);
    }

    [Fact]
    public void Loads_into_the_upper_region_of_split_memory()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, 0x100000UL), (0x1000000UL, 0x100000UL) });
        var kernel = PvhKernelLoader.Load(memory, ElfImageTests.SampleElf32(load: 0x1000000, bss: 0x100), Path);
        Assert.Equal(0x1000000UL, kernel.LowestAddress);

        var e = Assert.Throws<BootException>(() =>
            PvhKernelLoader.Load(memory, ElfImageTests.SampleElf32(load: 0x0ff000, bss: 0x2000), Path));
        Assert.Contains("(2 MiB: 0x0..0x100000, 0x1000000..0x1100000)", e.Message);
    }
}
