using System.Text;
using XenSharp.Abi.Pvh;
using XenSharp.Boot;
using XenSharp.Boot.Pvh;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Boot;

/// <summary>PvhStartInfoBuilder's output, read back from guest memory.</summary>
public class PvhStartInfoBuilderTests
{
    private const ulong RamSize = 16UL << 20;

    private static string ReadString(GuestMemory memory, ulong gpa)
    {
        var bytes = new List<byte>();
        while (memory.TryRead(gpa++, out byte b) && b != 0) bytes.Add(b);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    [Fact]
    public void Writes_start_info_command_line_modules_and_memory_map()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        var ramdisk = ElfImageTests.SampleCode(10000);
        var second = new byte[] { 0xde, 0xad, 0xbe, 0xef };
        var builder = new PvhStartInfoBuilder
        {
            CommandLine = "console=hvc0 earlyprintk=xen",
            Modules = [new PvhModule("ramdisk initrd.img", ramdisk), new PvhModule("extra", second, "mod-args x=1")],
            MemoryMap =
            [
                new HvmMemmapTableEntry(0, 0x9f000, HvmMemmapType.Ram),
                new HvmMemmapTableEntry(0xf0000, 0x10000, HvmMemmapType.Reserved),
                new HvmMemmapTableEntry(0x100000, RamSize - 0x100000, HvmMemmapType.Ram),
            ],
            RsdpAddress = 0xfe000,
        };

        var layout = builder.Write(memory, 0x200000);
        Assert.Equal(0x200000UL, layout.StartInfoAddress);

        Assert.True(memory.TryRead(layout.StartInfoAddress, out HvmStartInfo si));
        Assert.Equal(0x336ec578u, si.Magic);
        Assert.Equal(1u, si.Version);
        Assert.Equal(0u, si.Flags);
        Assert.Equal(2u, si.NrModules);
        Assert.Equal(0xfe000UL, si.RsdpPaddr);
        Assert.Equal(0u, si.Reserved);
        Assert.Equal(layout.CommandLineAddress, si.CmdlinePaddr);
        Assert.Equal(layout.ModuleListAddress, si.ModlistPaddr);
        Assert.Equal(layout.MemoryMapAddress, si.MemmapPaddr);
        Assert.Equal("console=hvc0 earlyprintk=xen", ReadString(memory, si.CmdlinePaddr));

        Assert.Equal(3u, si.MemmapEntries);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(memory.TryRead(si.MemmapPaddr + (ulong)(i * 24), out HvmMemmapTableEntry e));
            Assert.Equal(builder.MemoryMap[i].Addr, e.Addr);
            Assert.Equal(builder.MemoryMap[i].Size, e.Size);
            Assert.Equal(builder.MemoryMap[i].Type, e.Type);
            Assert.Equal(0u, e.Reserved);
        }

        Assert.Equal(0UL, si.ModlistPaddr % 8);
        Assert.True(memory.TryRead(si.ModlistPaddr, out HvmModlistEntry m0));
        Assert.True(memory.TryRead(si.ModlistPaddr + 32, out HvmModlistEntry m1));
        Assert.Equal(layout.ModuleAddresses, new[] { m0.Paddr, m1.Paddr });
        Assert.Equal(0UL, m0.Paddr % GuestMemory.PageSize);
        Assert.Equal(0UL, m1.Paddr % GuestMemory.PageSize);
        Assert.True(m0.Paddr > si.MemmapPaddr);
        Assert.True(m1.Paddr >= m0.Paddr + m0.Size);
        Assert.Equal((ulong)ramdisk.Length, m0.Size);
        Assert.Equal(4UL, m1.Size);
        Assert.Equal(0UL, m0.CmdlinePaddr);
        Assert.Equal("mod-args x=1", ReadString(memory, m1.CmdlinePaddr));
        Assert.Equal(0UL, m0.Reserved);

        var read = new byte[ramdisk.Length];
        Assert.True(memory.TryReadBytes(m0.Paddr, read));
        Assert.Equal(ramdisk, read);
        read = new byte[4];
        Assert.True(memory.TryReadBytes(m1.Paddr, read));
        Assert.Equal(second, read);

        Assert.Equal(m1.Paddr + GuestMemory.PageSize, layout.FirstFreeAddress);
    }

    [Fact]
    public void Leaves_absent_items_at_zero()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        var layout = new PvhStartInfoBuilder().Write(memory, 0x1000);
        Assert.True(memory.TryRead(0x1000, out HvmStartInfo si));
        Assert.Equal(HvmStartInfo.MagicValue, si.Magic);
        Assert.Equal(1u, si.Version);
        Assert.Equal(0u, si.NrModules);
        Assert.Equal(0UL, si.ModlistPaddr);
        Assert.Equal(0UL, si.CmdlinePaddr);
        Assert.Equal(0UL, si.RsdpPaddr);
        Assert.Equal(0UL, si.MemmapPaddr);
        Assert.Equal(0u, si.MemmapEntries);
        Assert.Empty(layout.ModuleAddresses);
        Assert.Equal(0x2000UL, layout.FirstFreeAddress);
    }

    [Fact]
    public void An_oversize_ramdisk_gives_a_clear_error()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        var builder = new PvhStartInfoBuilder
        {
            CommandLine = "root=/dev/ram0",
            Modules = [new PvhModule("ramdisk big.img", new byte[20 << 20])],
        };
        var e = Assert.Throws<BootException>(() => builder.Write(memory, 0x100000));
        Assert.StartsWith("ramdisk big.img: 20 MiB at 0x101000..0x1501000 does not fit in guest RAM (16 MiB: 0x0..0x1000000)", e.Message);
        Assert.EndsWith("raise memory= in the domain configuration", e.Message);
        Assert.IsType<GuestMemoryAllocationException>(e.InnerException);
    }

    [Fact]
    public void Requires_a_page_aligned_address()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        Assert.Throws<ArgumentException>(() => new PvhStartInfoBuilder().Write(memory, 0x1234));
    }

    [Fact]
    public void Refuses_start_info_above_4_GiB()
    {
        using var memory = GuestMemory.Allocate(new[] { (0UL, RamSize) });
        var e = Assert.Throws<BootException>(() => new PvhStartInfoBuilder().Write(memory, 0x100000000));
        Assert.Contains("above 4 GiB", e.Message);
    }
}
