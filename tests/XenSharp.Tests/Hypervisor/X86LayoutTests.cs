using XenSharp.Boot.X86;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>The guest-physical layout a PVH guest sees: RAM, the special pages, and RAM above 4 GiB.</summary>
public class X86LayoutTests
{
    private const ulong MiB = 1UL << 20, GiB = 1UL << 30;

    [Fact]
    public void Special_pages_are_the_8_pages_below_0xFF000000()
    {
        Assert.Equal(0xFEFF_8000UL, X86Layout.SpecialPagesStart);
        Assert.Equal(0xFEFF_8000UL, X86Layout.SpecialPage(X86Layout.ConsoleRingPage));
        Assert.Equal(0xFEFF_9000UL, X86Layout.SpecialPage(X86Layout.XenStoreRingPage));
        Assert.Equal(0xFF00_0000UL, X86Layout.SpecialPage(8));
    }

    [Fact]
    public void A_16_MiB_guest_has_low_ram_and_the_special_pages()
    {
        Assert.Equal(
            new (ulong, ulong)[] { (0, 16 * MiB), (0xFEFF_8000, 0x8000) },
            X86Layout.MemoryRanges(16 * MiB));
        Assert.Equal(
            new MemoryMapEntry[] { new(0, 16 * MiB, 1), new(0xFEFF_8000, 0x8000, 2) },
            X86Layout.MemoryMap(16 * MiB));
    }

    [Fact]
    public void A_4_GiB_guest_is_split_at_3_GiB_with_the_rest_above_4_GiB()
    {
        Assert.Equal(
            new (ulong, ulong)[] { (0, 3 * GiB), (0xFEFF_8000, 0x8000), (4 * GiB, 1 * GiB) },
            X86Layout.MemoryRanges(4 * GiB));
        Assert.Equal(
            new MemoryMapEntry[] { new(0, 3 * GiB, 1), new(0xFEFF_8000, 0x8000, 2), new(4 * GiB, 1 * GiB, 1) },
            X86Layout.MemoryMap(4 * GiB));
    }

    [Fact]
    public void Exactly_3_GiB_needs_no_high_part()
    {
        Assert.Equal(2, X86Layout.MemoryRanges(3 * GiB).Length);
        Assert.Equal(2, X86Layout.MemoryMap(3 * GiB).Length);
    }

    [Theory]
    [InlineData(16UL << 20)]
    [InlineData(3UL << 30)]
    [InlineData(4UL << 30)]
    [InlineData(64UL << 30)]
    public void Ram_in_the_map_adds_up_to_the_guests_memory_and_matches_the_backing(ulong ram)
    {
        var map = X86Layout.MemoryMap(ram);
        var ranges = X86Layout.MemoryRanges(ram);
        Assert.Equal(ram, map.Where(e => e.Type == MemoryMapEntry.Ram).Aggregate(0UL, (s, e) => s + e.Size));
        Assert.Equal(map.Select(e => (e.Address, e.Size)), ranges);
        for (int i = 1; i < map.Length; i++)
            Assert.True(map[i - 1].Address + map[i - 1].Size <= map[i].Address, "entries ascend and do not overlap");
    }

    [Fact]
    public void The_ranges_of_a_16_MiB_guest_can_be_allocated_and_the_special_pages_are_memory()
    {
        using var m = GuestMemory.Allocate(X86Layout.MemoryRanges(16 * MiB));
        Assert.True(m.Contains(X86Layout.SpecialPage(X86Layout.ConsoleRingPage), 4096));
        Assert.True(m.Contains(16 * MiB - 4096, 4096));
        Assert.False(m.Contains(16 * MiB, 1));                     // the hole after RAM
        Assert.False(m.Contains(X86Layout.SpecialPagesStart - 1, 1));
        Assert.False(m.Contains(X86Layout.SpecialPagesEnd, 1));
    }
}
