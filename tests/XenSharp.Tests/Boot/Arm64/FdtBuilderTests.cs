using System.Buffers.Binary;
using System.Text;
using XenSharp.Boot.Arm64;

namespace XenSharp.Tests.Boot.Arm64;

public class FdtBuilderTests
{
    private static uint Be32(byte[] b, int offset) => BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(offset));

    private static byte[] Small(Action<FdtBuilder>? extra = null)
    {
        var fdt = new FdtBuilder { BootCpuId = 3 };
        fdt.AddReservation(0x1000, 0x2000);
        fdt.BeginNode("").PropertyU32("#address-cells", 2).PropertyU32("#size-cells", 2);
        fdt.BeginNode("a@1").PropertyString("compatible", "x,y").PropertyU32("reg", 7).EndNode();
        fdt.BeginNode("b").PropertyEmpty("flag").PropertyU32("reg", 9).PropertyU64("big", 0x1_2345_6789).EndNode();
        extra?.Invoke(fdt);
        fdt.EndNode();
        return fdt.Finish();
    }

    [Fact]
    public void Header_fields_describe_the_blocks()
    {
        var blob = Small();
        Assert.Equal(0xD00DFEEDu, Be32(blob, 0));
        Assert.Equal((uint)blob.Length, Be32(blob, 4));
        uint offStruct = Be32(blob, 8), offStrings = Be32(blob, 12), offRsv = Be32(blob, 16);
        Assert.Equal(17u, Be32(blob, 20));
        Assert.Equal(16u, Be32(blob, 24));
        Assert.Equal(3u, Be32(blob, 28));
        uint sizeStrings = Be32(blob, 32), sizeStruct = Be32(blob, 36);
        Assert.Equal(40u, offRsv);
        Assert.Equal(0u, offRsv % 8);
        Assert.Equal(0u, offStruct % 4);
        Assert.Equal(offRsv + 2 * 16, offStruct); // one entry + terminator
        Assert.Equal(offStruct + sizeStruct, offStrings);
        Assert.Equal((uint)blob.Length, offStrings + sizeStrings);
        Assert.Equal(0x9u, Be32(blob, (int)(offStruct + sizeStruct - 4))); // FDT_END
        Assert.Equal(0x1u, Be32(blob, (int)offStruct));                    // FDT_BEGIN_NODE of the root
    }

    [Fact]
    public void Reservation_block_holds_entries_then_a_zero_terminator()
    {
        var blob = Small();
        Assert.Equal(0x1000UL, BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(40)));
        Assert.Equal(0x2000UL, BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(48)));
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(56)));
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(64)));
        Assert.Equal([(0x1000UL, 0x2000UL)], FdtReader.Parse(blob).Reservations);
    }

    [Fact]
    public void Property_names_are_stored_once()
    {
        var blob = Small();
        var strings = Encoding.ASCII.GetString(blob, (int)Be32(blob, 12), (int)Be32(blob, 32));
        Assert.Equal("#address-cells\0#size-cells\0compatible\0reg\0flag\0big\0", strings);
    }

    [Fact]
    public void Round_trips_through_the_reader()
    {
        var fdt = FdtReader.Parse(Small());
        Assert.Equal(3u, fdt.BootCpuId);
        Assert.Equal(2u, fdt.Root.GetU32("#address-cells"));
        var a = fdt.Find("/a@1")!;
        Assert.Equal("x,y", a.GetString("compatible"));
        Assert.Equal(7u, a.GetU32("reg"));
        var b = fdt.Find("/b")!;
        Assert.Empty(b.Get("flag")!);
        Assert.Equal(0x1_2345_6789UL, b.GetU64("big"));
        Assert.Equal(["/", "/a@1", "/b"], fdt.AllNodes().Select(n => n.Path));
    }

    [Fact]
    public void Values_are_big_endian_and_padded_to_4_bytes()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("").PropertyStrings("compatible", "ab", "c").PropertyRegs("reg", 2, 1, (0x1_0000_0002UL, 0x30UL)).EndNode();
        var blob = fdt.Finish();
        var root = FdtReader.Parse(blob).Root;
        Assert.Equal(Encoding.ASCII.GetBytes("ab\0c\0"), root.Get("compatible"));
        Assert.Equal([1u, 2u, 0x30u], root.GetCells("reg"));
        Assert.Equal(["ab", "c"], root.GetStrings("compatible"));
        Assert.Equal(0, (int)Be32(blob, 36) % 4);
    }

    [Fact]
    public void Node_names_are_padded_to_4_bytes()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("").BeginNode("abcde").PropertyU32("x", 1).EndNode().EndNode();
        var blob = fdt.Finish();
        int s = (int)Be32(blob, 8);
        // root: BEGIN_NODE + "\0" padded (8 bytes); child: BEGIN_NODE + "abcde\0" padded to 8.
        Assert.Equal(1u, Be32(blob, s + 8));
        Assert.Equal("abcde", Encoding.ASCII.GetString(blob, s + 12, 5));
        Assert.Equal(3u, Be32(blob, s + 20)); // FDT_PROP right after the padded name
    }

    [Fact]
    public void Misuse_is_refused()
    {
        var fdt = new FdtBuilder();
        Assert.Throws<ArgumentException>(() => fdt.BeginNode("notroot"));
        fdt.BeginNode("");
        Assert.Throws<ArgumentException>(() => fdt.BeginNode("bad name"));
        Assert.Throws<ArgumentException>(() => fdt.PropertyU32("", 1));
        fdt.PropertyU32("p", 1);
        Assert.Throws<InvalidOperationException>(() => fdt.PropertyU32("p", 2));
        fdt.BeginNode("child").EndNode();
        Assert.Throws<InvalidOperationException>(() => fdt.PropertyU32("late", 1));
        Assert.Throws<InvalidOperationException>(() => fdt.BeginNode("child"));
        Assert.Throws<InvalidOperationException>(() => fdt.Finish());
        fdt.EndNode();
        Assert.Throws<InvalidOperationException>(() => fdt.BeginNode(""));
        Assert.Throws<ArgumentException>(() => new FdtBuilder().BeginNode("").PropertyRegs("reg", 1, 1, (0x1_0000_0000UL, 1UL)));
    }

    [Fact]
    public void Phandles_are_handed_out_once()
    {
        var fdt = new FdtBuilder();
        Assert.Equal(1u, fdt.AllocatePhandle());
        Assert.Equal(2u, fdt.AllocatePhandle());
    }

    [Fact]
    public void Reader_rejects_a_bad_magic_and_truncation()
    {
        var blob = Small();
        var bad = (byte[])blob.Clone();
        bad[0] = 0;
        Assert.Throws<FormatException>(() => FdtReader.Parse(bad));
        Assert.Throws<FormatException>(() => FdtReader.Parse(blob.AsSpan(0, blob.Length - 8)));
    }
}
