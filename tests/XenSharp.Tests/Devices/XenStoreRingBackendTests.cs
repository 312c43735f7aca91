using System.Diagnostics;
using System.Text;
using XenSharp.Abi.X86;
using XenSharp.Devices.XenStore;
using XenSharp.Hypervisor.Memory;
using XenSharp.XenStore;
using XenSharp.XenStore.Wire;

namespace XenSharp.Tests.Devices;

/// <summary>
/// The XenStore ring backend against a ring page written the way a guest's xenbus driver writes
/// it (struct xenstore_domain_interface, io/xs_wire.h: req[1024] @0, rsp[1024] @1024, req_cons
/// @2048, req_prod @2052, rsp_cons @2056, rsp_prod @2060, error @2072; free-running u32
/// indices masked by the ring size). The backend is domain 5's connection to a real
/// <see cref="Xenstored"/>; /local/domain/5 is laid out first as the toolstack would (owned by
/// dom0, readable by domain 5).
/// </summary>
public sealed class XenStoreRingBackendTests : IDisposable
{
    private const ulong Ring = 0x3000;
    private const int Domid = 5;
    private const int RingSize = XenStoreDomainInterface.RingSize;
    private const string Home = "/local/domain/5";

    private readonly GuestMemory _memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
    private readonly Xenstored _xs = new();
    private readonly XenStoreRingBackend _backend;
    private readonly XsMessageReader _reader = new();
    private readonly List<XsMessage> _received = [];
    private uint _nextRequestId = 1;

    public XenStoreRingBackendTests()
    {
        _xs.Mkdir(Home);
        _xs.SetPermissions(Home, XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(Domid));
        _xs.Write($"{Home}/name", "guest-five");
        _backend = new XenStoreRingBackend(_memory, Ring);
    }

    public void Dispose()
    {
        _backend.Detach();
        _memory.Dispose();
    }

    // ---- the guest's side of the page ----

    private uint Index(int offset)
    {
        Assert.True(_memory.TryRead(Ring + (ulong)offset, out uint v));
        return v;
    }

    private void SetIndex(int offset, uint value) => Assert.True(_memory.TryWrite(Ring + (ulong)offset, value));

    private uint ReqCons => Index(XenStoreDomainInterface.ReqConsOffset);
    private uint ReqProd => Index(XenStoreDomainInterface.ReqProdOffset);
    private uint RspCons => Index(XenStoreDomainInterface.RspConsOffset);
    private uint RspProd => Index(XenStoreDomainInterface.RspProdOffset);
    private uint Error => Index(XenStoreDomainInterface.ErrorOffset);

    /// <summary>Puts all four indices at <paramref name="start"/> (a guest that has already exchanged that many bytes).</summary>
    private void StartIndicesAt(uint start)
    {
        SetIndex(XenStoreDomainInterface.ReqConsOffset, start);
        SetIndex(XenStoreDomainInterface.ReqProdOffset, start);
        SetIndex(XenStoreDomainInterface.RspConsOffset, start);
        SetIndex(XenStoreDomainInterface.RspProdOffset, start);
    }

    /// <summary>What xenbus does: copy into req[] at req_prod (masked), then publish req_prod.</summary>
    private void GuestSend(ReadOnlySpan<byte> bytes)
    {
        uint prod = ReqProd;
        Assert.True(prod - ReqCons + (uint)bytes.Length <= RingSize, "the test writes more than the req ring holds");
        for (int i = 0; i < bytes.Length; i++)
            Assert.True(_memory.TryWrite(Ring + XenStoreDomainInterface.ReqOffset + ((prod + (uint)i) & (RingSize - 1)), bytes[i]));
        SetIndex(XenStoreDomainInterface.ReqProdOffset, prod + (uint)bytes.Length);
    }

    private uint GuestRequest(XsMessageType type, byte[] payload)
    {
        uint id = _nextRequestId++;
        GuestSend(XsMessage.Encode(type, id, 0, payload));
        return id;
    }

    /// <summary>
    /// Consumes up to <paramref name="max"/> bytes of rsp[] (all there are by default), advancing
    /// rsp_cons, and decodes whatever messages they complete. Returns the number of bytes taken.
    /// </summary>
    private int GuestConsume(int max = int.MaxValue)
    {
        uint cons = RspCons;
        uint prod = RspProd;
        Assert.True(prod - cons <= RingSize, $"rsp_prod {prod} is more than a ring ahead of rsp_cons {cons}");
        int n = (int)Math.Min(prod - cons, (uint)max);
        var bytes = new byte[n];
        for (int i = 0; i < n; i++)
            Assert.True(_memory.TryRead(Ring + XenStoreDomainInterface.RspOffset + ((cons + (uint)i) & (RingSize - 1)), out bytes[i]));
        SetIndex(XenStoreDomainInterface.RspConsOffset, cons + (uint)n);
        ReadOnlySpan<byte> span = bytes;
        while (true)
        {
            var status = _reader.TryRead(ref span, out var message);
            if (status == XsReadStatus.NeedMoreData) break;
            Assert.Equal(XsReadStatus.Message, status);
            _received.Add(new XsMessage(message.Header, message.Payload.ToArray()));
        }
        return n;
    }

    /// <summary>Pumps and consumes until <paramref name="condition"/> holds over what was received (the backend also pumps from the thread pool).</summary>
    private void PumpUntil(Func<List<XsMessage>, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            _backend.Pump();
            GuestConsume();
            if (condition(_received)) return;
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) Assert.Fail($"timed out waiting for {what}; received: {Describe(_received)}");
            Thread.Sleep(10);
        }
    }

    private static string Describe(IEnumerable<XsMessage> messages) =>
        string.Join(", ", messages.Select(m => $"{m.Type}#{m.Header.RequestId} '{XsPayload.Text(m.Payload.Span).Replace('\0', '|')}'"));

    private static string Strings0(XsMessage m) => XsPayload.Strings(m.Payload.Span)[0];

    private byte[] PageSnapshot()
    {
        var page = new byte[4096];
        Assert.True(_memory.TryReadBytes(Ring, page));
        return page;
    }

    // ---- tests ----

    [Theory]
    [InlineData(1000u)]          // the request and its reply straddle the end of the arrays
    [InlineData(0xFFFFFFF0u)]    // ... and the u32 indices themselves overflow
    public void Request_across_the_wrap_point_is_answered_in_rsp_with_indices_advanced(uint start)
    {
        StartIndicesAt(start);
        _backend.Connect(_xs, Domid);

        uint id = GuestRequest(XsMessageType.Read, XsPayload.FromStrings($"{Home}/name"));
        uint requestEnd = ReqProd;
        Assert.True((start & (RingSize - 1)) + (requestEnd - start) > RingSize, "the request should cross the end of req[]");

        _backend.Pump();

        Assert.Equal(requestEnd, ReqCons);
        uint expectedReply = XsMessageHeader.Size + (uint)"guest-five".Length;
        Assert.Equal(start + expectedReply, RspProd);
        Assert.Equal(start, RspCons); // the backend never moves the guest's consumer index
        Assert.Equal(0u, Error);

        Assert.Equal((int)expectedReply, GuestConsume());
        var reply = Assert.Single(_received);
        Assert.Equal(XsMessageType.Read, reply.Type);
        Assert.Equal(id, reply.Header.RequestId);
        Assert.Equal(0u, reply.Header.TransactionId);
        Assert.Equal("guest-five", XsPayload.Text(reply.Payload.Span));

        // A second request right behind it is served as well.
        uint id2 = GuestRequest(XsMessageType.Directory, XsPayload.FromStrings(Home));
        _backend.Pump();
        Assert.Equal(ReqProd, ReqCons);
        GuestConsume();
        Assert.Equal(2, _received.Count);
        Assert.Equal(id2, _received[1].Header.RequestId);
        Assert.Equal(["name"], XsPayload.Strings(_received[1].Payload.Span));
    }

    [Fact]
    public void Reply_bigger_than_the_free_rsp_space_is_delivered_in_pieces_as_the_guest_consumes()
    {
        string big = string.Concat(Enumerable.Range(0, 3000).Select(i => (char)('a' + i % 26)));
        _xs.Write($"{Home}/big", big);
        StartIndicesAt(700);
        _backend.Connect(_xs, Domid);

        // 300 bytes of rsp[] are still unconsumed from "earlier": only 724 are free.
        SetIndex(XenStoreDomainInterface.RspProdOffset, 700 + 300);
        SetIndex(XenStoreDomainInterface.RspConsOffset, 700);
        uint id = GuestRequest(XsMessageType.Read, XsPayload.FromStrings($"{Home}/big"));
        int total = XsMessageHeader.Size + big.Length;

        _backend.Pump();

        Assert.Equal(ReqProd, ReqCons);
        Assert.Equal((uint)RingSize, RspProd - RspCons); // filled to the brim, not beyond
        Assert.Equal(total - (RingSize - 300), _backend.PendingBytes);

        // The guest drops the 300 old bytes (they are not part of the reply) and then reads on,
        // in pieces of odd sizes so that the copies cross the end of rsp[] at varying points.
        SetIndex(XenStoreDomainInterface.RspConsOffset, 700 + 300);
        var reply = new List<byte>();
        for (int step = 0; ; step++)
        {
            Assert.True(step < 100, "the reply never completed");
            uint cons = RspCons;
            int take = (int)Math.Min(step % 2 == 0 ? 123u : uint.MaxValue, RspProd - cons);
            for (int i = 0; i < take; i++)
            {
                Assert.True(_memory.TryRead(Ring + XenStoreDomainInterface.RspOffset + ((cons + (uint)i) & (RingSize - 1)), out byte b));
                reply.Add(b);
            }
            SetIndex(XenStoreDomainInterface.RspConsOffset, cons + (uint)take);
            if (reply.Count == total) break;

            _backend.Pump();

            // Everything not yet consumed is in the ring as far as it has room; the rest waits.
            int remaining = total - reply.Count;
            Assert.Equal((uint)Math.Min(RingSize, remaining), RspProd - RspCons);
            Assert.Equal(Math.Max(0, remaining - RingSize), _backend.PendingBytes);
        }

        Assert.Equal(0, _backend.PendingBytes);
        Assert.Equal(RspProd, RspCons);
        var message = XsMessage.Decode(reply.ToArray());
        Assert.Equal(XsMessageType.Read, message.Type);
        Assert.Equal(id, message.Header.RequestId);
        Assert.Equal(big, XsPayload.Text(message.Payload.Span));
    }

    [Fact]
    public void Watch_events_reach_the_ring()
    {
        _xs.Write($"{Home}/control/shutdown", "");
        _backend.Connect(_xs, Domid);

        uint id = GuestRequest(XsMessageType.Watch, XsPayload.FromStrings($"{Home}/control/shutdown", "tok"));
        PumpUntil(r => r.Count >= 2, "the WATCH reply and the initial event");
        Assert.Equal(XsMessageType.Watch, _received[0].Type);
        Assert.Equal(id, _received[0].Header.RequestId);
        Assert.Equal("OK", Strings0(_received[0]));
        Assert.Equal(XsMessageType.WatchEvent, _received[1].Type);
        Assert.Equal(0u, _received[1].Header.RequestId);
        Assert.Equal([$"{Home}/control/shutdown", "tok"], XsPayload.Strings(_received[1].Payload.Span));

        // The toolstack asks for a shutdown: the event arrives without the guest sending anything.
        _xs.Write($"{Home}/control/shutdown", "poweroff");
        PumpUntil(r => r.Count >= 3, "the event for the toolstack's write");
        var ev = _received[2];
        Assert.Equal(XsMessageType.WatchEvent, ev.Type);
        Assert.Equal([$"{Home}/control/shutdown", "tok"], XsPayload.Strings(ev.Payload.Span));
        Assert.Equal(3, _received.Count);

        // A change the guest may not read is not reported (only the unconditional initial event is).
        _xs.Mkdir("/secret");
        GuestRequest(XsMessageType.Watch, XsPayload.FromStrings("/secret", "s"));
        PumpUntil(r => r.Count >= 5, "the second WATCH reply and its initial event");
        _xs.Write("/secret/x", "1");
        Thread.Sleep(50);
        _backend.Pump();
        GuestConsume();
        Assert.Single(_received, m => m.Type == XsMessageType.WatchEvent && XsPayload.Strings(m.Payload.Span)[1] == "s");
        Assert.Equal(5, _received.Count);
    }

    [Fact]
    public void Producer_more_than_a_ring_ahead_sets_RINGIDX_and_nothing_more_is_served()
    {
        StartIndicesAt(50);
        _backend.Connect(_xs, Domid);
        _xs.Write($"{Home}/control/shutdown", "");
        GuestRequest(XsMessageType.Watch, XsPayload.FromStrings($"{Home}/control/shutdown", "tok"));
        PumpUntil(r => r.Count >= 2, "the WATCH reply and the initial event");
        uint rspProd = RspProd;
        uint goodCons = ReqCons;
        Assert.Equal(ReqProd, goodCons);

        SetIndex(XenStoreDomainInterface.ReqProdOffset, goodCons + RingSize + 1);
        _backend.Pump();

        Assert.Equal(XenStoreDomainInterface.ErrorRingIdx, Error);
        Assert.Equal(2u, XenStoreDomainInterface.ErrorRingIdx);
        Assert.Equal(goodCons, ReqCons); // nothing was consumed from the bogus producer

        // The guest "repairs" its indices and sends a valid request: the backend stays silent,
        // and a watch event does not reach the page either.
        SetIndex(XenStoreDomainInterface.ReqProdOffset, ReqCons);
        uint consBefore = ReqCons;
        GuestRequest(XsMessageType.Read, XsPayload.FromStrings($"{Home}/name"));
        _xs.Write($"{Home}/control/shutdown", "poweroff");
        for (int i = 0; i < 5; i++)
        {
            _backend.Pump();
            Thread.Sleep(20);
        }
        Assert.Equal(consBefore, ReqCons);
        Assert.Equal(rspProd, RspProd);
        Assert.Equal(0, _backend.PendingBytes);
        Assert.Equal(XenStoreDomainInterface.ErrorRingIdx, Error);
    }

    [Fact]
    public void Producer_exactly_a_ring_ahead_is_not_an_error()
    {
        _backend.Connect(_xs, Domid);
        // Fill req[] completely with one request padded by a second one: 1024 bytes in all.
        var first = XsMessage.Encode(XsMessageType.Read, 1, 0, XsPayload.FromStrings($"{Home}/name"));
        var filler = XsMessage.Encode(XsMessageType.Write, 2, 0,
            XsPayload.StringThenBytes("data/pad", new byte[RingSize - first.Length - XsMessageHeader.Size - "data/pad".Length - 1]));
        Assert.Equal(RingSize, first.Length + filler.Length);
        GuestSend([.. first, .. filler]);

        _backend.Pump();

        Assert.Equal(0u, Error);
        Assert.Equal(ReqProd, ReqCons);
        PumpUntil(r => r.Count >= 2, "both replies");
        Assert.Equal("guest-five", XsPayload.Text(_received[0].Payload.Span));
        Assert.Equal(XsMessageType.Error, _received[1].Type); // domain 5 may not write under its read-only home
        Assert.Equal("EACCES", Strings0(_received[1]));
    }

    [Fact]
    public void After_Detach_Pump_touches_nothing()
    {
        _xs.Write($"{Home}/control/shutdown", "");
        StartIndicesAt(10);
        _backend.Connect(_xs, Domid);
        GuestRequest(XsMessageType.Watch, XsPayload.FromStrings($"{Home}/control/shutdown", "tok"));
        PumpUntil(r => r.Count >= 2, "the WATCH reply and the initial event");

        // A request is waiting in req[] and a reply would be due; the domain goes away.
        GuestRequest(XsMessageType.Read, XsPayload.FromStrings($"{Home}/name"));
        _backend.Detach();
        var before = PageSnapshot();

        _backend.Pump();
        _xs.Write($"{Home}/control/shutdown", "poweroff"); // no connection any more: no event queued
        Thread.Sleep(50);
        _backend.Pump();
        _backend.Detach(); // idempotent

        Assert.Equal(before, PageSnapshot());
        Assert.Equal(0, _backend.PendingBytes);
    }

    [Fact]
    public void Replies_are_split_only_by_room_so_messages_arrive_whole_and_in_order()
    {
        _backend.Connect(_xs, Domid);
        var ids = new List<uint>();
        for (int i = 0; i < 20; i++)
            ids.Add(GuestRequest(XsMessageType.Read, XsPayload.FromStrings($"{Home}/name")));
        // 20 replies of 26 bytes = 520 bytes: all fit at once.
        PumpUntil(r => r.Count >= 20, "20 replies");
        Assert.Equal(ids, _received.Select(m => m.Header.RequestId));
        Assert.All(_received, m => Assert.Equal("guest-five", Encoding.ASCII.GetString(m.Payload.Span)));
    }
    /// <summary>
    /// Pump runs concurrently in the daemon: from the guest's event-channel kick (vCPU thread),
    /// from the domain manager's 50 ms timer and from a thread-pool item queued for every reply
    /// and watch event. Requests must still reach xenstored as one ordered byte stream.
    /// </summary>
    [Fact]
    public void Concurrent_pumps_keep_requests_in_order()
    {
        _backend.Connect(_xs, Domid);
        using var stop = new CancellationTokenSource();
        var pumpers = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            while (!stop.IsCancellationRequested) _backend.Pump();
        }) { IsBackground = true }).ToArray();
        foreach (var t in pumpers) t.Start();
        const int Requests = 3000;
        var clock = Stopwatch.StartNew();
        try
        {
            for (int i = 1; i <= Requests; i++)
            {
                // Each request in three pieces, as a driver that publishes header and payload separately.
                var msg = XsMessage.Encode(XsMessageType.Read, (uint)i, 0, XsPayload.FromStrings($"{Home}/name"));
                foreach (var (from, length) in new[] { (0, 7), (7, 13), (20, msg.Length - 20) })
                {
                    while (ReqProd - ReqCons + (uint)length > RingSize)
                    {
                        GuestConsume();
                        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the backend stopped consuming requests");
                    }
                    GuestSend(msg.AsSpan(from, length));
                    GuestConsume();
                }
            }
            while (_received.Count < Requests && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                GuestConsume();
                Thread.Sleep(1);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var t in pumpers) t.Join();
        }
        Assert.Equal(0u, Error);
        Assert.All(_received, m => Assert.Equal(XsMessageType.Read, m.Type));
        Assert.Equal(Enumerable.Range(1, Requests).Select(i => (uint)i), _received.Select(m => m.Header.RequestId));
    }

    /// <summary>
    /// A hostile guest: random bytes (and now and then corrupt indices) in its request ring,
    /// pumped thousands of times. Nothing escapes the backend, the store stays consistent,
    /// and the backend never writes outside the ring page.
    /// </summary>
    [Fact]
    public void Random_bytes_in_the_ring_never_escape_and_keep_the_store_consistent()
    {
        var random = new Random(4242);
        Assert.True(_memory.TryGetSpan(0, 0x10000, out var all));
        var before = all.ToArray();
        for (int round = 0; round < 20; round++)
        {
            var backend = new XenStoreRingBackend(_memory, Ring);
            Assert.True(_memory.TryWriteBytes(Ring, new byte[4096]));
            backend.Connect(_xs, Domid);
            for (int i = 0; i < 200; i++)
            {
                uint prod = ReqProd, cons = ReqCons;
                uint used = unchecked(prod - cons);
                int free = used > RingSize ? 0 : RingSize - (int)used;   // after a corrupt index the ring is dead
                int n = Math.Min(free, random.Next(1, 120));
                var bytes = new byte[n];
                random.NextBytes(bytes);
                if (random.Next(3) == 0 && n >= 16)
                {
                    // Make it look like a message header with a plausible type and length.
                    BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), (uint)random.Next(30));
                    BitConverter.TryWriteBytes(bytes.AsSpan(12, 4), (uint)random.Next(n - 15));
                }
                for (int k = 0; k < n; k++)
                    Assert.True(_memory.TryWrite(Ring + (ulong)(unchecked(prod + (uint)k) & (RingSize - 1)), bytes[k]));
                SetIndex(XenStoreDomainInterface.ReqProdOffset, random.Next(50) == 0 ? (uint)random.Next() : unchecked(prod + (uint)n));
                if (random.Next(50) == 0) SetIndex(XenStoreDomainInterface.RspConsOffset, (uint)random.Next());
                backend.Pump();
                SetIndex(XenStoreDomainInterface.RspConsOffset, RspProd); // the guest consumes whatever came back
            }
            backend.Detach();
        }
        Assert.Empty(_xs.CheckInvariants());
        Assert.True(_memory.TryGetSpan(0, 0x10000, out var after));
        Assert.True(before.AsSpan(0, (int)Ring).SequenceEqual(after[..(int)Ring]), "memory below the ring page changed");
        Assert.True(before.AsSpan((int)Ring + 4096).SequenceEqual(after[((int)Ring + 4096)..]), "memory above the ring page changed");
    }
}
