using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// GuestMemory.TryGetSpan is the boundary every guest pointer crosses: a range is usable only
/// when all of it lies inside one region.
/// </summary>
public class GuestMemoryTests
{
    // Two adjacent regions (a boundary with no hole), a hole, and a region above 4 GiB.
    private const ulong A = 0x0, ASize = 0x10000;
    private const ulong B = 0x10000, BSize = 0x10000;
    private const ulong High = 0x1_0000_0000, HighSize = 0x10000;

    private static GuestMemory Allocate() => GuestMemory.Allocate([(A, ASize), (B, BSize), (High, HighSize)]);

    [Fact]
    public void Regions_and_total_size_are_as_allocated()
    {
        using var m = Allocate();
        Assert.Equal(3, m.Regions.Count);
        Assert.Equal(ASize + BSize + HighSize, m.TotalSize);
        Assert.Equal(High + HighSize, m.Regions[2].End);
    }

    [Theory]
    [InlineData(A, (int)ASize)]                 // a whole region
    [InlineData(ASize - 1, 1)]                  // last byte of a region
    [InlineData(B + BSize - 8, 8)]
    [InlineData(High, (int)HighSize)]
    [InlineData(High + HighSize - 1, 1)]
    [InlineData(B, 0)]                          // empty range at a region start
    public void Ranges_inside_one_region_are_accessible(ulong gpa, int length)
    {
        using var m = Allocate();
        Assert.True(m.TryGetSpan(gpa, length, out var span));
        Assert.Equal(length, span.Length);
    }

    [Theory]
    [InlineData(B + BSize, 1)]                  // one past the end of RAM below 4 GiB
    [InlineData(B + BSize - 1, 2)]              // last byte plus one past
    [InlineData(High + HighSize, 1)]            // one past the end of the high region
    [InlineData(High + HighSize - 4, 8)]
    [InlineData(High - 1, 2)]                   // starts in the hole, ends in RAM
    [InlineData(0x8000_0000UL, 16)]             // in the hole
    public void Ranges_leaving_guest_memory_are_refused(ulong gpa, int length)
    {
        using var m = Allocate();
        Assert.False(m.TryGetSpan(gpa, length, out var span));
        Assert.True(span.IsEmpty);
    }

    [Fact]
    public void A_range_straddling_two_regions_is_refused_even_when_they_are_adjacent()
    {
        using var m = Allocate();
        Assert.False(m.TryGetSpan(ASize - 1, 2, out _));
        Assert.False(m.TryGetSpan(0, (int)(ASize + BSize), out _));
        Assert.False(m.TryWrite(ASize - 4, 0x1122334455667788UL));
    }

    [Theory]
    [InlineData(0UL, int.MaxValue)]
    [InlineData(B, int.MaxValue)]
    [InlineData(High, (int)HighSize + 1)]
    public void Huge_lengths_are_refused(ulong gpa, int length)
    {
        using var m = Allocate();
        Assert.False(m.TryGetSpan(gpa, length, out _));
    }

    [Theory]
    [InlineData(ulong.MaxValue, 1)]
    [InlineData(ulong.MaxValue, 2)]                  // gpa + length wraps to 0
    [InlineData(0xFFFF_FFFF_FFFF_FFF0UL, 0x20)]      // wraps to 0x10, inside region A
    [InlineData(0xFFFF_FFFF_FFFF_0000UL, 0x1_0010)]
    public void Addresses_that_wrap_around_are_refused(ulong gpa, int length)
    {
        using var m = Allocate();
        Assert.False(m.TryGetSpan(gpa, length, out _));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Negative_lengths_are_refused(int length)
    {
        using var m = Allocate();
        Assert.False(m.TryGetSpan(0x100, length, out _));
    }

    [Fact]
    public void Contains_refuses_lengths_above_int_max()
    {
        using var m = Allocate();
        Assert.True(m.Contains(0, ASize));
        Assert.False(m.Contains(0, 1UL << 32));
        Assert.False(m.Contains(0, ulong.MaxValue));
    }

    [Fact]
    public void Reads_and_writes_at_a_region_edge()
    {
        using var m = Allocate();
        Assert.True(m.TryWrite(ASize - 8, 0x0102030405060708UL));
        Assert.True(m.TryRead(ASize - 8, out ulong v));
        Assert.Equal(0x0102030405060708UL, v);
        Assert.True(m.TryRead(ASize - 8, out byte low));
        Assert.Equal(0x08, low); // little endian, as the guest stores it

        Assert.False(m.TryRead(ASize - 7, out ulong _));
        Assert.False(m.TryRead(High + HighSize - 3, out uint w));
        Assert.Equal(0u, w);
    }

    [Fact]
    public void A_refused_write_writes_nothing()
    {
        using var m = Allocate();
        Assert.False(m.TryWriteBytes(B + BSize - 4, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        Assert.False(m.TryWrite(B + BSize - 4, ulong.MaxValue));
        Assert.True(m.TryGetSpan(B + BSize - 4, 4, out var tail));
        Assert.True(tail.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Regions_are_backed_separately()
    {
        using var m = Allocate();
        Assert.True(m.TryWrite(High, 0xAAAAAAAAu));
        Assert.True(m.TryWrite(B, 0xBBBBBBBBu));
        Assert.True(m.TryRead(A, out uint a));
        Assert.True(m.TryRead(B, out uint b));
        Assert.True(m.TryRead(High, out uint h));
        Assert.Equal((0u, 0xBBBBBBBBu, 0xAAAAAAAAu), (a, b, h));
    }

    [Fact]
    public void New_memory_reads_as_zero()
    {
        using var m = Allocate();
        Assert.True(m.TryGetSpan(High, (int)HighSize, out var span));
        Assert.True(span.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Write_for_the_builder_throws_a_clear_error_when_the_image_does_not_fit()
    {
        using var m = Allocate();
        var e = Assert.Throws<GuestMemoryAllocationException>(() => m.Write(B + BSize - 2, new byte[4]));
        Assert.Contains("does not fit", e.Message);
    }

    [Fact]
    public void Allocate_rejects_bad_range_lists()
    {
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([]));
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([(0x800UL, 0x1000UL)]));          // unaligned start
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([(0UL, 0x1800UL)]));              // unaligned size
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([(0UL, 0UL)]));                   // empty
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([(0UL, 0x2000UL), (0x1000UL, 0x1000UL)])); // overlap
        Assert.Throws<ArgumentException>(() => GuestMemory.Allocate([(0x10000UL, 0x1000UL), (0UL, 0x1000UL)])); // descending
    }
}
