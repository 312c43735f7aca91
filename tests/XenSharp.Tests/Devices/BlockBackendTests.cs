using XenSharp.Abi.Block;
using XenSharp.Devices.Block;
using XenSharp.Tests.Hypervisor;

namespace XenSharp.Tests.Devices;

/// <summary>
/// The blkif request path on a real domain, grant table and image file: both request layouts,
/// multi-page rings, indirect requests, and every kind of bad request answered with
/// BLKIF_RSP_ERROR while the image file keeps its bytes.
/// </summary>
public class BlockBackendTests
{
    public static TheoryData<string> Abis => new() { BlkifAbi.X86_32Name, BlkifAbi.X86_64Name };

    private static BlkifAbi AbiOf(string name) => BlkifAbi.FromProtocol(name)!;

    private sealed class Rig : IDisposable
    {
        public Rig(string abi, int ringPages = 1, bool readOnly = false, BlockBackendFeatures? features = null, int sectors = 64)
        {
            Front = new BlkifTestFrontend(AbiOf(abi), ringPages);
            File = new TestImage(sectors);
            Image = RawImage.Open(File.Path, readOnly);
            Backend = new BlockBackend(Image, Front.G.Grants, features);
            Ring = Front.MapRing();
        }

        public BlkifTestFrontend Front { get; }
        public TestImage File { get; }
        public RawImage Image { get; }
        public BlockBackend Backend { get; }
        public BlkifRing Ring { get; }

        public bool Process()
        {
            Front.Publish();
            return Backend.ProcessRing(Ring);
        }

        public (ulong Id, byte Op, short Status) One()
        {
            Process();
            var r = Front.Take();
            Assert.Equal(Front.RspCons, Front.RspProd);
            return r;
        }

        public void Dispose()
        {
            Ring.Dispose();
            Image.Dispose();
            Front.Dispose();
            File.Dispose();
        }
    }

    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    [Theory]
    [MemberData(nameof(Abis))]
    public void A_write_then_a_read_move_the_bytes_through_the_grants(string abi)
    {
        using var r = new Rig(abi);
        var t = r.Front.T;
        var a = Pattern(4096, 1);
        var b = Pattern(4096, 2);
        t.Poke(BlkifTestFrontend.DataGpa(0), a);
        t.Poke(BlkifTestFrontend.DataGpa(1), b);
        // Sectors 1..3 of page 0, then all of page 1: 11 sectors at sector 5.
        r.Front.Queue(BlkifOp.Write, 0x1122334455667788, 5, [BlkifTestFrontend.Seg(0, 1, 3), BlkifTestFrontend.Seg(1)]);
        Assert.Equal((0x1122334455667788UL, BlkifOp.Write, BlkifStatus.Okay), r.One());

        var file = r.File.Bytes;
        Assert.Equal(a[512..2048], file[(5 * 512)..(8 * 512)]);
        Assert.Equal(b, file[(8 * 512)..(16 * 512)]);
        Assert.Equal(r.File.Original[..(5 * 512)], file[..(5 * 512)]);
        Assert.Equal(r.File.Original[(16 * 512)..], file[(16 * 512)..]);

        t.Fill(BlkifTestFrontend.DataGpa(2), 4096, 0xEE);
        r.Front.Queue(BlkifOp.Read, 7, 8, [BlkifTestFrontend.Seg(2, 2, 5)]);
        Assert.Equal((7UL, BlkifOp.Read, BlkifStatus.Okay), r.One());
        var page = t.Peek(BlkifTestFrontend.DataGpa(2), 4096);
        Assert.Equal(b[..2048], page[1024..3072]);
        Assert.All(page[..1024], x => Assert.Equal(0xEE, x));   // outside first..last untouched
        Assert.All(page[3072..], x => Assert.Equal(0xEE, x));
        Assert.Equal(r.Ring.PageCount, r.Front.G.Grants.MappingCount); // only the ring stays mapped
        Assert.Equal(2, r.Backend.Requests);
        Assert.Equal(0, r.Backend.Errors);
    }

    [Theory]
    [MemberData(nameof(Abis))]
    public void A_multi_page_ring_serves_entries_that_straddle_pages(string abi)
    {
        using var r = new Rig(abi, ringPages: 4);
        Assert.Equal(128, r.Ring.Size); // (16384 - 64) / 112 or 108 = 145 or 151 → 128
        // Three passes around part of the ring: entries cross every page boundary.
        for (int pass = 0; pass < 3; pass++)
        {
            for (int i = 0; i < 100; i++)
                r.Front.Queue(BlkifOp.Read, (ulong)(pass * 1000 + i), (ulong)(i % 60), [BlkifTestFrontend.Seg(i % 8, 0, 0)]);
            r.Process();
            for (int i = 0; i < 100; i++)
                Assert.Equal(((ulong)(pass * 1000 + i), BlkifOp.Read, BlkifStatus.Okay), r.Front.Take());
        }
        Assert.Equal(300u, r.Ring.RequestConsumer);
        Assert.Equal(301u, r.Front.ReqEvent); // re-armed for the next request
    }

    [Theory]
    [MemberData(nameof(Abis))]
    public void Indirect_requests_carry_more_than_eleven_segments(string abi)
    {
        using var r = new Rig(abi);
        var t = r.Front.T;
        var data = Pattern(20 * 4096, 9);
        for (int i = 0; i < 20; i++) t.Poke(BlkifTestFrontend.DataGpa(i), data.AsSpan(i * 4096, 4096));
        var segs = Enumerable.Range(0, 20).Select(i => BlkifTestFrontend.Seg(i, 0, 1)).ToArray(); // 2 sectors each
        r.Front.QueueIndirect(BlkifOp.Write, 42, 10, segs);
        Assert.Equal((42UL, BlkifOp.Write, BlkifStatus.Okay), r.One()); // answered with the indirect op, as Linux
        var file = r.File.Bytes;
        for (int i = 0; i < 20; i++)
            Assert.Equal(data.AsSpan(i * 4096, 1024).ToArray(), file.AsSpan((10 + 2 * i) * 512, 1024).ToArray());

        for (int i = 0; i < 20; i++) t.Fill(BlkifTestFrontend.DataGpa(20 + i), 4096, 0);
        var back = Enumerable.Range(0, 20).Select(i => BlkifTestFrontend.Seg(20 + i, 6, 7)).ToArray();
        r.Front.QueueIndirect(BlkifOp.Read, 43, 10, back);
        Assert.Equal((43UL, BlkifOp.Read, BlkifStatus.Okay), r.One());
        for (int i = 0; i < 20; i++)
            Assert.Equal(data.AsSpan(i * 4096, 1024).ToArray(), t.Peek(BlkifTestFrontend.DataGpa(20 + i) + 3072, 1024));
    }

    [Theory]
    [MemberData(nameof(Abis))]
    public void Bad_requests_fail_and_leave_the_image_untouched(string abi)
    {
        using var r = new Rig(abi);
        var t = r.Front.T;
        t.Poke(BlkifTestFrontend.DataGpa(0), Pattern(4096, 3));
        var good = BlkifTestFrontend.Seg(0);
        var twelve = Enumerable.Repeat(good, 12).ToArray();
        var cases = new List<Action>
        {
            () => r.Front.Queue(BlkifOp.Write, 1, 0, [new BlkifSegment(400, 0, 7)]),                  // ref never granted
            () => r.Front.Queue(BlkifOp.Write, 2, 0, [good, new BlkifSegment(100_000, 0, 7)]),        // ref beyond the table (after a good one)
            () => r.Front.Queue(BlkifOp.Write, 3, 0, twelve[..11], nrSegments: 12),                   // over 11 inline segments
            () => r.Front.Queue(BlkifOp.Write, 4, 0, [new BlkifSegment(good.Gref, 3, 2)]),            // first > last
            () => r.Front.Queue(BlkifOp.Write, 5, 0, [new BlkifSegment(good.Gref, 0, 8)]),            // last past the page
            () => r.Front.Queue(BlkifOp.Write, 6, 64, [good]),                                        // starts at the end
            () => r.Front.Queue(BlkifOp.Write, 7, 60, [good]),                                        // runs past the end
            () => r.Front.Queue(BlkifOp.Write, 8, ulong.MaxValue - 2, [good]),                        // overflows
            () => r.Front.Queue(BlkifOp.Write, 9, 0, []),                                             // no segments
            () => r.Front.Queue(BlkifOp.Read, 10, 0, [new BlkifSegment(400, 0, 7)]),
            () => r.Front.Queue(BlkifOp.Read, 11, 70, [good]),
            () => r.Front.QueueIndirect(BlkifOp.Write, 12, 0, Enumerable.Repeat(good, 257).ToArray()), // over feature-max-indirect-segments
            () => r.Front.QueueIndirect(BlkifOp.Write, 13, 0, [], nrSegments: 0),
            () => r.Front.QueueIndirect(BlkifOp.FlushDiskCache, 14, 0, [good]),                        // indirect op must be read/write
            () => r.Front.QueueIndirect(BlkifOp.Write, 15, 0, [good, new BlkifSegment(400, 0, 7)]),
            () => r.Front.QueueDiscard(16, 60, 5),
        };
        foreach (var c in cases) c();
        r.Process();
        for (int i = 0; i < cases.Count; i++)
            Assert.Equal(BlkifStatus.Error, r.Front.Take().Status);
        Assert.Equal(r.File.Original, r.File.Bytes);
        Assert.Equal(r.Ring.PageCount, r.Front.G.Grants.MappingCount);
        Assert.Equal(cases.Count, r.Backend.Errors);
    }

    [Fact]
    public void A_read_into_a_read_only_grant_fails_without_writing_the_page()
    {
        using var r = new Rig(BlkifAbi.X86_32Name);
        Gnt.Grant(r.Front.G, 1, 300, Gnt.PermitAccess | Gnt.ReadOnly, 0, BlkifTestFrontend.DataGfn + 5);
        r.Front.T.Fill(BlkifTestFrontend.DataGpa(5), 4096, 0x77);
        r.Front.Queue(BlkifOp.Read, 1, 0, [new BlkifSegment(300, 0, 7)]);
        Assert.Equal(BlkifStatus.Error, r.One().Status);
        Assert.All(r.Front.T.Peek(BlkifTestFrontend.DataGpa(5), 4096), x => Assert.Equal(0x77, x));
        // A write may use it: the backend only reads the page.
        r.Front.Queue(BlkifOp.Write, 2, 0, [new BlkifSegment(300, 0, 0)]);
        Assert.Equal(BlkifStatus.Okay, r.One().Status);
    }

    [Theory]
    [MemberData(nameof(Abis))]
    public void A_read_only_disk_refuses_writes_and_discards_but_reads_and_flushes(string abi)
    {
        using var r = new Rig(abi, readOnly: true);
        r.Front.T.Poke(BlkifTestFrontend.DataGpa(0), Pattern(4096, 5));
        r.Front.Queue(BlkifOp.Write, 1, 0, [BlkifTestFrontend.Seg(0)]);
        r.Front.Queue(BlkifOp.WriteBarrier, 2, 0, [BlkifTestFrontend.Seg(0)]);
        r.Front.QueueIndirect(BlkifOp.Write, 3, 0, [BlkifTestFrontend.Seg(0)]);
        r.Front.QueueDiscard(4, 0, 8);
        r.Front.Queue(BlkifOp.FlushDiskCache, 5, 0, []);
        r.Front.Queue(BlkifOp.Read, 6, 0, [BlkifTestFrontend.Seg(1)]);
        r.Process();
        Assert.Equal(
            [BlkifStatus.Error, BlkifStatus.Error, BlkifStatus.Error, BlkifStatus.Error, BlkifStatus.Okay, BlkifStatus.Okay],
            Enumerable.Range(0, 6).Select(_ => r.Front.Take().Status));
        Assert.Equal(r.File.Original, r.File.Bytes);
        Assert.Equal(r.File.Original[..4096], r.Front.T.Peek(BlkifTestFrontend.DataGpa(1), 4096));
        Assert.False(r.Backend.DiscardOffered);
    }

    [Fact]
    public void Flush_barrier_and_discard_work()
    {
        using var r = new Rig(BlkifAbi.X86_64Name);
        r.Front.T.Poke(BlkifTestFrontend.DataGpa(0), Pattern(4096, 6));
        r.Front.Queue(BlkifOp.FlushDiskCache, 1, 0, []);
        r.Front.Queue(BlkifOp.WriteBarrier, 2, 0, []);                          // a bare barrier is a flush
        r.Front.Queue(BlkifOp.WriteBarrier, 3, 16, [BlkifTestFrontend.Seg(0)]);
        r.Front.QueueDiscard(4, 32, 8);
        r.Front.QueueDiscard(5, 0, 0);
        r.Process();
        for (int i = 1; i <= 5; i++) Assert.Equal(((ulong)i, BlkifStatus.Okay), (r.Front.Take() is var x ? (x.Id, x.Status) : default));
        var file = r.File.Bytes;
        Assert.Equal(Pattern(4096, 6), file[(16 * 512)..(24 * 512)]);
        Assert.All(file[(32 * 512)..(40 * 512)], b => Assert.Equal(0, b));
        Assert.Equal(r.File.Original[(40 * 512)..], file[(40 * 512)..]);
        Assert.Equal(r.File.Original.Length, file.Length);
    }

    [Fact]
    public void Unknown_operations_and_features_not_offered_answer_eopnotsupp()
    {
        using var r = new Rig(BlkifAbi.X86_64Name, features: new BlockBackendFeatures { Discard = false, MaxIndirectSegments = 0 });
        r.Front.Queue(BlkifOp.Reserved1, 1, 0, []);
        r.Front.Queue(7, 2, 0, []);
        r.Front.Queue(200, 3, 0, []);
        r.Front.QueueDiscard(4, 0, 8);
        r.Front.QueueIndirect(BlkifOp.Read, 5, 0, [BlkifTestFrontend.Seg(0)]);
        r.Process();
        for (int i = 0; i < 5; i++) Assert.Equal(BlkifStatus.EOpNotSupp, r.Front.Take().Status);
        Assert.Equal(r.File.Original, r.File.Bytes);
    }

    [Fact]
    public void Responses_notify_only_when_the_frontend_asked()
    {
        using var r = new Rig(BlkifAbi.X86_32Name);
        r.Front.Queue(BlkifOp.FlushDiskCache, 1, 0, []);
        Assert.True(r.Process());                   // rsp_event = 1: wants the first response
        r.Front.Take();
        r.Front.SetRspEvent(r.Front.RspCons + 5);   // not interested until 5 more
        r.Front.Queue(BlkifOp.FlushDiskCache, 2, 0, []);
        Assert.False(r.Process());
        r.Front.Queue(BlkifOp.FlushDiskCache, 3, 0, []);
        r.Front.Queue(BlkifOp.FlushDiskCache, 4, 0, []);
        r.Front.Queue(BlkifOp.FlushDiskCache, 5, 0, []);
        r.Front.Queue(BlkifOp.FlushDiskCache, 6, 0, []);
        Assert.True(r.Process());                   // the 5th crosses rsp_event
        Assert.Equal(6u, r.Front.RspProd);
        Assert.Equal(7u, r.Front.ReqEvent);
        Assert.False(r.Process());                  // nothing new
    }

    [Fact]
    public void A_request_queued_after_the_final_check_is_not_missed()
    {
        using var r = new Rig(BlkifAbi.X86_64Name);
        r.Front.Queue(BlkifOp.FlushDiskCache, 1, 0, []);
        r.Process();
        Assert.Equal(2u, r.Front.ReqEvent);
        // The frontend pushes and sees req_event inside the new range: it notifies; the backend serves.
        r.Front.Queue(BlkifOp.FlushDiskCache, 2, 0, []);
        r.Front.Publish();
        Assert.True(r.Backend.ProcessRing(r.Ring) || r.Front.RspProd == 2);
        Assert.Equal(2u, r.Front.RspProd);
    }

    [Fact]
    public void A_frontend_that_overruns_the_ring_is_cut_off_without_an_exception()
    {
        using var r = new Rig(BlkifAbi.X86_64Name);
        r.Front.SetReqProd((uint)r.Ring.Size + 1);
        Assert.False(r.Backend.ProcessRing(r.Ring));
        Assert.True(r.Ring.IsBroken);
        Assert.Equal(0u, r.Front.RspProd);
        Assert.Equal(r.File.Original, r.File.Bytes);
    }

    [Theory]
    [MemberData(nameof(Abis))]
    public void Garbage_entries_never_throw_nor_write(string abi)
    {
        using var r = new Rig(abi, readOnly: false, features: new BlockBackendFeatures { Discard = false });
        var rng = new Random(1234);
        var entry = new byte[r.Front.Abi.EntrySize];
        for (int i = 0; i < 30; i++)
        {
            rng.NextBytes(entry);
            if (entry[0] is BlkifOp.Write or BlkifOp.WriteBarrier or BlkifOp.Indirect) entry[0] = 0x40; // unknown op, so nothing may be written
            r.Front.QueueRaw(entry);
        }
        r.Process();
        for (int i = 0; i < 30; i++) r.Front.Take();
        Assert.Equal(r.File.Original, r.File.Bytes);
        Assert.Equal(r.Ring.PageCount, r.Front.G.Grants.MappingCount);
    }

    [Fact]
    public void Ring_sizes_follow_ring_h()
    {
        Assert.Equal(32, SharedRingLayout.EntryCount(1, BlkifAbi.X86_64.EntrySize));
        Assert.Equal(32, SharedRingLayout.EntryCount(1, BlkifAbi.X86_32.EntrySize));
        Assert.Equal(64, SharedRingLayout.EntryCount(2, 112));
        Assert.Equal(512, SharedRingLayout.EntryCount(16, 112));
        Assert.Equal(112, BlkifAbi.X86_64.RequestSize);
        Assert.Equal(108, BlkifAbi.X86_32.RequestSize);
        Assert.Equal(16, BlkifAbi.X86_64.ResponseSize);
        Assert.Equal(12, BlkifAbi.X86_32.ResponseSize);
        Assert.Same(BlkifAbi.X86_64, BlkifAbi.FromProtocol(null));
        Assert.Null(BlkifAbi.FromProtocol("arm-abi"));
    }

    [Fact]
    public void Mapping_a_ring_with_a_bad_ref_maps_nothing()
    {
        using var f = new BlkifTestFrontend(BlkifAbi.X86_64, ringPages: 2);
        Assert.NotEqual(Gnt.Okay, BlkifRing.TryMap(f.G.Grants, 0, [BlkifTestFrontend.RingRef, 400], BlkifAbi.X86_64, out var ring));
        Assert.Null(ring);
        Assert.Equal(0, f.G.Grants.MappingCount);
        Assert.NotEqual(Gnt.Okay, BlkifRing.TryMap(f.G.Grants, 0, [8, 9, 10], BlkifAbi.X86_64, out _)); // not a power of two
    }
}
