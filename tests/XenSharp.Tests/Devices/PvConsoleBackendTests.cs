using System.Text;
using XenSharp.Devices.Console;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Devices;

/// <summary>
/// The PV console backend against a ring page written the way a guest writes it
/// (struct xencons_interface, io/console.h: in[1024] @0, out[2048] @1024, in_cons @3072,
/// in_prod @3076, out_cons @3080, out_prod @3084; free-running u32 indices).
/// </summary>
public sealed class PvConsoleBackendTests : IDisposable
{
    private const ulong Ring = 0x5000;
    private const int In = 0, InSize = 1024, Out = 1024, OutSize = 2048;
    private const int InCons = 3072, InProd = 3076, OutCons = 3080, OutProd = 3084;

    private readonly GuestMemory _memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
    private readonly PvConsoleBackend _backend;
    private readonly List<byte> _received = new();

    public PvConsoleBackendTests() => _backend = new PvConsoleBackend(_memory, Ring);

    public void Dispose() => _memory.Dispose();

    private uint Index(int offset)
    {
        Assert.True(_memory.TryRead(Ring + (ulong)offset, out uint v));
        return v;
    }

    private void SetIndex(int offset, uint value) => Assert.True(_memory.TryWrite(Ring + (ulong)offset, value));

    /// <summary>What a guest's console driver does: copy into out[] at out_prod, then publish out_prod.</summary>
    private void GuestWrite(ReadOnlySpan<byte> data)
    {
        uint prod = Index(OutProd);
        Assert.True(prod - Index(OutCons) + (uint)data.Length <= OutSize, "test writes more than the ring holds");
        for (int i = 0; i < data.Length; i++)
            Assert.True(_memory.TryWrite(Ring + Out + ((prod + (uint)i) & (OutSize - 1)), data[i]));
        SetIndex(OutProd, prod + (uint)data.Length);
    }

    private void GuestWrite(string s) => GuestWrite(Encoding.ASCII.GetBytes(s));

    private IDisposable Attach() => _backend.Output.Attach(d => _received.AddRange(d.ToArray()), () => { });

    private string Received => Encoding.ASCII.GetString(_received.ToArray());

    private static byte[] Pattern(int n, int seed = 0) => Enumerable.Range(seed, n).Select(i => (byte)('A' + i % 26)).ToArray();

    [Fact]
    public void Guest_output_reaches_an_attached_client_and_out_cons_catches_up()
    {
        using var _ = Attach();
        GuestWrite("Hello from the guest\n");
        _backend.Drain();
        Assert.Equal("Hello from the guest\n", Received);
        Assert.Equal(Index(OutProd), Index(OutCons));
        Assert.Equal(21, _backend.BytesOut);
    }

    [Fact]
    public void Output_across_the_end_of_the_ring_arrives_in_order()
    {
        SetIndex(OutCons, 2040);
        SetIndex(OutProd, 2040);
        using var _ = Attach();
        var data = Pattern(100);
        GuestWrite(data); // 8 bytes at the end of out[], 92 at the start
        _backend.Drain();
        Assert.Equal(data, _received.ToArray());
        Assert.Equal(2140u, Index(OutCons));
    }

    [Fact]
    public void Output_across_the_u32_index_wrap_arrives_in_order()
    {
        SetIndex(OutCons, 0xFFFF_FFF0);
        SetIndex(OutProd, 0xFFFF_FFF0);
        using var _ = Attach();
        var data = Pattern(48, 3);
        GuestWrite(data);
        Assert.Equal(32u, Index(OutProd));
        _backend.Drain();
        Assert.Equal(data, _received.ToArray());
        Assert.Equal(32u, Index(OutCons));
    }

    [Fact]
    public void A_full_ring_is_delivered_whole()
    {
        SetIndex(OutCons, 1000);
        SetIndex(OutProd, 1000);
        using var _ = Attach();
        var data = Pattern(OutSize, 7);
        GuestWrite(data);
        _backend.Drain();
        Assert.Equal(data, _received.ToArray());
    }

    [Fact]
    public void Several_writes_and_drains_keep_the_stream_in_order()
    {
        using var _ = Attach();
        var all = new List<byte>();
        for (int round = 0; round < 10; round++)
        {
            var chunk = Pattern(700, round);
            GuestWrite(chunk);
            all.AddRange(chunk);
            _backend.Drain();
        }
        Assert.Equal(all, _received);
        Assert.Equal(7000, _backend.BytesOut);
    }

    [Fact]
    public void Output_produced_before_attach_is_replayed_at_attach()
    {
        GuestWrite("before anyone looked\n");
        _backend.Drain();
        using var _ = Attach();
        Assert.Equal("before anyone looked\n", Received);
        GuestWrite("live");
        _backend.Drain();
        Assert.Equal("before anyone looked\nlive", Received);
    }

    [Fact]
    public void A_drain_with_nothing_new_delivers_nothing()
    {
        using var _ = Attach();
        GuestWrite("x");
        _backend.Drain();
        _backend.Drain();
        Assert.Equal("x", Received);
    }

    [Theory]
    [InlineData(OutSize + 1u)]
    [InlineData(3000u)]
    [InlineData(0x8000_0000u)]
    [InlineData(0xFFFF_FFFFu)]   // prod one behind cons
    public void A_producer_too_far_ahead_is_skipped_without_reading_garbage(uint ahead)
    {
        Assert.True(_memory.TryGetSpan(Ring + Out, OutSize, out var outRing));
        outRing.Fill((byte)'G'); // garbage a broken guest left in the ring
        SetIndex(OutCons, 100);
        SetIndex(OutProd, 100 + ahead);
        using var _ = Attach();

        _backend.Drain();
        Assert.Empty(_received);
        Assert.Equal(100 + ahead, Index(OutCons));
        Assert.Equal(0, _backend.BytesOut);

        GuestWrite("recovered");
        _backend.Drain();
        Assert.Equal("recovered", Received);
    }

    [Fact]
    public void WriteInput_fills_the_in_ring_and_publishes_in_prod()
    {
        Assert.Equal(5, _backend.WriteInput("ls -l"u8));
        Assert.Equal(5u, Index(InProd));
        Assert.True(_memory.TryGetSpan(Ring + In, 5, out var bytes));
        Assert.Equal("ls -l", Encoding.ASCII.GetString(bytes));
        Assert.Equal(0u, Index(InCons)); // the guest consumes, not the backend
    }

    [Fact]
    public void WriteInput_respects_free_space_and_wraps()
    {
        var first = Pattern(1500);
        Assert.Equal(1500, _backend.WriteInput(first));        // 1024 in the ring, 476 wait
        Assert.Equal((uint)InSize, Index(InProd));
        Assert.Equal(1500 - InSize, _backend.PendingInput);

        SetIndex(InCons, 100); // the guest read 100 bytes
        _backend.Drain();       // its kick: waiting input moves in as far as there is room
        Assert.Equal((uint)InSize + 100, Index(InProd));
        Assert.Equal(1500 - InSize - 100, _backend.PendingInput);
        Assert.True(_memory.TryGetSpan(Ring + In, InSize, out var ring));
        Assert.Equal(first[InSize..(InSize + 100)], ring[..100].ToArray()); // wrapped to the start
        Assert.Equal(first[100..InSize], ring[100..].ToArray());           // unread input untouched
        Assert.True(_memory.TryGetSpan(Ring + Out, 16, out var outRing));
        Assert.True(outRing.IndexOfAnyExcept((byte)0) < 0);                 // nothing spilled into out[]
    }

    [Fact]
    public void WriteInput_across_the_end_of_the_in_ring_and_the_u32_wrap_arrives_in_order()
    {
        SetIndex(InCons, 0xFFFF_FFF0);
        SetIndex(InProd, 0xFFFF_FFF0);
        var data = Pattern(48, 3);
        Assert.Equal(48, _backend.WriteInput(data));
        Assert.Equal(32u, Index(InProd));
        Assert.Equal(data, GuestRead());
        Assert.Equal(32u, Index(InCons));
    }

    [Fact]
    public void Input_that_does_not_fit_waits_in_order_and_goes_in_as_the_guest_reads()
    {
        int notified = 0;
        _backend.NotifyGuest = () => notified++;
        var stream = Pattern(5000, 11);
        Assert.Equal(3000, _backend.WriteInput(stream.AsSpan(0, 3000)));
        Assert.Equal(1, notified);
        Assert.Equal(2000, _backend.WriteInput(stream.AsSpan(3000)));
        Assert.Equal(1, notified); // the ring is full: queued only, nothing to notify about

        var got = new List<byte>();
        for (int round = 0; round < 20 && got.Count < stream.Length; round++)
        {
            got.AddRange(GuestRead(maxBytes: 700));
            _backend.Drain(); // the guest's kick after reading
        }
        Assert.Equal(stream, got);
        Assert.Equal(0, _backend.PendingInput);
        Assert.Equal(5000, _backend.BytesIn);
    }

    [Fact]
    public void New_input_never_overtakes_input_already_waiting()
    {
        var first = Pattern(InSize + 10);
        Assert.Equal(InSize + 10, _backend.WriteInput(first)); // the ring is full, 10 bytes wait
        var got = new List<byte>(GuestRead(maxBytes: 5));      // the guest reads 5 and does not kick
        Assert.Equal(3, _backend.WriteInput("xyz"u8));        // 5 waiting bytes go in first; "xyz" waits behind the rest
        Assert.Equal(8, _backend.PendingInput);
        for (int round = 0; round < 5 && _backend.PendingInput + (int)(Index(InProd) - Index(InCons)) > 0; round++)
        {
            got.AddRange(GuestRead());
            _backend.Drain();
        }
        Assert.Equal(first.Concat("xyz"u8.ToArray()), got);
    }

    [Fact]
    public void The_input_queue_is_bounded_and_keeps_the_oldest_bytes()
    {
        using var memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
        var backend = new PvConsoleBackend(memory, Ring, inputQueueCapacity: 64);
        var stream = Pattern(InSize + 100, 2);
        Assert.Equal(InSize + 64, backend.WriteInput(stream)); // 36 bytes over the bound are refused
        Assert.Equal(64, backend.PendingInput);
        Assert.Equal(0, backend.WriteInput("late"u8));

        Assert.True(memory.TryWrite(Ring + InCons, (uint)InSize)); // the guest read everything
        backend.Drain();
        Assert.Equal(0, backend.PendingInput);
        Assert.True(memory.TryGetSpan(Ring + In, 64, out var ring));
        Assert.Equal(stream[InSize..(InSize + 64)], ring.ToArray());
    }

    [Fact]
    public void WriteInput_with_a_corrupt_in_ring_writes_nothing_and_the_input_waits()
    {
        SetIndex(InCons, 0);
        SetIndex(InProd, InSize + 1);
        Assert.Equal(1, _backend.WriteInput("x"u8));
        Assert.Equal(InSize + 1u, Index(InProd));
        Assert.Equal(1, _backend.PendingInput);

        SetIndex(InCons, InSize + 1); // the guest comes back to its senses
        _backend.Drain();
        Assert.Equal(InSize + 2u, Index(InProd));
        Assert.Equal(0, _backend.PendingInput);
    }

    [Fact]
    public void A_guest_moving_in_cons_wildly_never_gets_writes_outside_in_or_more_than_its_free_space()
    {
        var random = new Random(1234);
        Assert.True(_memory.TryGetSpan(Ring + Out, OutSize, out var outRing));
        random.NextBytes(outRing);
        var outBefore = outRing.ToArray();
        SetIndex(OutCons, 77);
        SetIndex(OutProd, 77);
        Assert.True(_memory.TryGetSpan(Ring + 3088, 4096 - 3088, out var tail));
        random.NextBytes(tail);
        var tailBefore = tail.ToArray();

        var stream = Pattern(200_000, 5);
        int offered = 0, inRing = 0;
        for (int step = 0; step < 5000; step++)
        {
            uint prod = Index(InProd);
            uint cons = random.Next(4) switch
            {
                0 => (uint)random.NextInt64(0, 1L << 32),          // anywhere
                1 => prod - (uint)random.Next(0, InSize + 1),       // a sane reader
                2 => prod + (uint)random.Next(1, 5000),             // ahead of the producer
                _ => prod - (uint)random.Next(InSize + 1, 100_000), // more than a ring behind
            };
            SetIndex(InCons, cons);
            uint used = prod - cons;
            int room = used <= InSize ? InSize - (int)used : 0;

            if (random.Next(2) == 0 && offered < stream.Length)
            {
                int n = Math.Min(random.Next(1, 3000), stream.Length - offered);
                int taken = _backend.WriteInput(stream.AsSpan(offered, n));
                Assert.True(taken <= n);
                offered += taken; // refused bytes (over the bound) are not part of what the guest must see
            }
            else _backend.Drain();

            uint newProd = Index(InProd);
            int written = (int)(newProd - prod);
            Assert.InRange(written, 0, room);
            Assert.Equal(cons, Index(InCons)); // the backend never moves the consumer
            Assert.True(_memory.TryGetSpan(Ring + In, InSize, out var inRingBytes));
            for (int i = 0; i < written; i++)
                Assert.Equal(stream[inRing + i], inRingBytes[(int)((prod + (uint)i) & (InSize - 1))]);
            inRing += written;
            Assert.Equal(offered - inRing, _backend.PendingInput);
            Assert.True(_backend.PendingInput <= _backend.InputQueueCapacity);
        }
        Assert.Equal(outBefore, outRing.ToArray());
        Assert.Equal(77u, Index(OutCons));
        Assert.Equal(tailBefore, tail.ToArray());
    }

    /// <summary>What a guest's console driver does with input: copy in[in_cons..in_prod), then publish in_cons.</summary>
    private byte[] GuestRead(int maxBytes = int.MaxValue)
    {
        uint cons = Index(InCons), prod = Index(InProd);
        int n = (int)Math.Min(prod - cons, (uint)maxBytes);
        var data = new byte[n];
        for (int i = 0; i < n; i++)
            Assert.True(_memory.TryRead(Ring + In + ((cons + (uint)i) & (InSize - 1)), out data[i]));
        SetIndex(InCons, cons + (uint)n);
        return data;
    }

    [Fact]
    public void After_detach_the_ring_is_not_touched()
    {
        using var _ = Attach();
        GuestWrite("pending");
        _backend.WriteInput(Pattern(InSize + 5)); // 5 bytes wait
        SetIndex(InCons, InSize);
        _backend.Detach();
        Assert.Equal(0, _backend.PendingInput); // dropped with the console
        Assert.Equal((uint)InSize, Index(InProd));
        SetIndex(InProd, 0);
        SetIndex(InCons, 0);
        _backend.Drain();
        Assert.Empty(_received);
        Assert.Equal(0u, Index(OutCons));
        Assert.Equal(0, _backend.WriteInput("x"u8));
        Assert.Equal(0u, Index(InProd));
    }

    [Fact]
    public void A_ring_page_outside_guest_memory_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PvConsoleBackend(_memory, 0x10000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PvConsoleBackend(_memory, 0xF800));
    }
}
