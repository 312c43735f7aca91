using System.Buffers.Binary;
using XenSharp.Abi.Block;
using XenSharp.Devices.Block;
using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Hypervisor;

namespace XenSharp.Tests.Devices;

/// <summary>
/// A blkfront played by the test inside a real domain: grant table v1 placed in guest RAM, the
/// shared ring in guest pages granted to dom0, data pages granted writable (refs 100+i for
/// page i) and requests written in the chosen ABI's layout, as a guest would.
/// </summary>
internal sealed class BlkifTestFrontend : IDisposable
{
    public const ulong RingGfn = 0x60;      // up to 16 ring pages, contiguous
    public const ulong IndirectGfn = 0x70;  // up to 8 indirect pages
    public const ulong DataGfn = 0x80;      // data pages
    public const int DataPages = 64;
    public const uint RingRef = 8, IndirectRef = 40, DataRef = 100;

    private uint _reqProdPvt, _rspCons;

    public BlkifTestFrontend(BlkifAbi abi, int ringPages = 1)
    {
        T = new TestDomain();
        Abi = abi;
        RingPages = ringPages;
        Gnt.PlaceTable(G, 1);
        Size = SharedRingLayout.EntryCount(ringPages, abi.EntrySize);
        T.Fill(RingGfn << 12, ringPages * 4096, 0);
        Poke(SharedRingLayout.ReqEventOffset, 1u);
        Poke(SharedRingLayout.RspEventOffset, 1u);
        for (int i = 0; i < ringPages; i++) Gnt.Grant(G, 1, RingRef + (uint)i, Gnt.PermitAccess, 0, RingGfn + (ulong)i);
        for (int i = 0; i < 8; i++) Gnt.Grant(G, 1, IndirectRef + (uint)i, Gnt.PermitAccess | Gnt.ReadOnly, 0, IndirectGfn + (ulong)i);
        for (int i = 0; i < DataPages; i++) Gnt.Grant(G, 1, DataRef + (uint)i, Gnt.PermitAccess, 0, DataGfn + (ulong)i);
    }

    public TestDomain T { get; }
    public Domain G => T.Domain;
    public BlkifAbi Abi { get; }
    public int RingPages { get; }
    public int Size { get; }

    public uint[] RingRefs => Enumerable.Range(0, RingPages).Select(i => RingRef + (uint)i).ToArray();

    public BlkifRing MapRing()
    {
        Assert.Equal(Gnt.Okay, BlkifRing.TryMap(G.Grants, 0, RingRefs, Abi, out var ring));
        return ring!;
    }

    public static ulong DataGpa(int page) => (DataGfn + (ulong)page) << 12;

    public static BlkifSegment Seg(int page, byte first = 0, byte last = 7) => new(DataRef + (uint)page, first, last);

    private ulong EntryGpa(uint index) => (RingGfn << 12) + (ulong)SharedRingLayout.EntriesOffset + (index & (uint)(Size - 1)) * (ulong)Abi.EntrySize;

    private void Poke<V>(int ringOffset, V value) where V : unmanaged => T.Poke((RingGfn << 12) + (ulong)ringOffset, value);

    /// <summary>Queues a read/write/barrier/flush request (not yet visible: <see cref="Publish"/>).</summary>
    public void Queue(byte op, ulong id, ulong sector, ReadOnlySpan<BlkifSegment> segs, int? nrSegments = null)
    {
        var e = new byte[Abi.EntrySize];
        e[0] = op;
        e[1] = (byte)(nrSegments ?? segs.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), 0xCAFE);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.IdOffset), id);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.SectorOffset), sector);
        for (int i = 0; i < segs.Length && i < BlkifOp.MaxSegmentsPerRequest; i++)
            WriteSegment(e.AsSpan(Abi.SegmentsOffset + 8 * i), segs[i]);
        QueueRaw(e);
    }

    public void QueueDiscard(ulong id, ulong sector, ulong count)
    {
        var e = new byte[Abi.EntrySize];
        e[0] = BlkifOp.Discard;
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.IdOffset), id);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.SectorOffset), sector);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.DiscardSectorsOffset), count);
        QueueRaw(e);
    }

    /// <summary>Queues an indirect request: the segments go into indirect pages (granted refs 40+).</summary>
    public void QueueIndirect(byte op, ulong id, ulong sector, ReadOnlySpan<BlkifSegment> segs, int? nrSegments = null)
    {
        var e = new byte[Abi.EntrySize];
        e[0] = BlkifOp.Indirect;
        e[1] = op;
        BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), (ushort)(nrSegments ?? segs.Length));
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.IdOffset), id);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(Abi.SectorOffset), sector);
        for (int p = 0; p < 8; p++)
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(Abi.IndirectGrefsOffset + 4 * p), IndirectRef + (uint)p);
        var page = new byte[8 * 4096];
        for (int i = 0; i < segs.Length; i++) WriteSegment(page.AsSpan(8 * i), segs[i]);
        T.Poke(IndirectGfn << 12, page);
        QueueRaw(e);
    }

    public void QueueRaw(ReadOnlySpan<byte> entry)
    {
        T.Poke(EntryGpa(_reqProdPvt), entry[..Abi.EntrySize]);
        _reqProdPvt++;
    }

    private static void WriteSegment(Span<byte> s, BlkifSegment seg)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s, seg.Gref);
        s[4] = seg.FirstSect;
        s[5] = seg.LastSect;
    }

    /// <summary>RING_PUSH_REQUESTS: makes the queued requests visible.</summary>
    public void Publish() => Poke(SharedRingLayout.ReqProdOffset, _reqProdPvt);

    public void SetReqProd(uint value) => Poke(SharedRingLayout.ReqProdOffset, value);
    public void SetRspEvent(uint value) => Poke(SharedRingLayout.RspEventOffset, value);
    public uint RspProd => T.Peek<uint>((RingGfn << 12) + SharedRingLayout.RspProdOffset);
    public uint ReqEvent => T.Peek<uint>((RingGfn << 12) + SharedRingLayout.ReqEventOffset);
    public uint RspCons => _rspCons;

    /// <summary>Takes the next response (there must be one).</summary>
    public (ulong Id, byte Op, short Status) Take()
    {
        Assert.True(RspProd != _rspCons, "no response");
        ulong at = EntryGpa(_rspCons++);
        return (T.Peek<ulong>(at), T.Peek<byte>(at + 8), T.Peek<short>(at + 10));
    }

    public void Dispose() => T.Dispose();
}
