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
        Assert.Equal(InSize, _backend.WriteInput(first));
        Assert.Equal((uint)InSize, Index(InProd));
        Assert.Equal(0, _backend.WriteInput("more"u8)); // full

        SetIndex(InCons, 100); // the guest read 100 bytes
        var second = Pattern(200, 5);
        Assert.Equal(100, _backend.WriteInput(second));
        Assert.Equal((uint)InSize + 100, Index(InProd));
        Assert.True(_memory.TryGetSpan(Ring + In, InSize, out var ring));
        Assert.Equal(second[..100], ring[..100].ToArray());      // wrapped to the start
        Assert.Equal(first[100..InSize], ring[100..].ToArray()); // unread input untouched
        Assert.True(_memory.TryGetSpan(Ring + Out, 16, out var outRing));
        Assert.True(outRing.IndexOfAnyExcept((byte)0) < 0);       // nothing spilled into out[]
    }

    [Fact]
    public void WriteInput_with_a_corrupt_in_ring_writes_nothing()
    {
        SetIndex(InCons, 0);
        SetIndex(InProd, InSize + 1);
        Assert.Equal(0, _backend.WriteInput("x"u8));
        Assert.Equal(InSize + 1u, Index(InProd));
    }

    [Fact]
    public void After_detach_the_ring_is_not_touched()
    {
        using var _ = Attach();
        GuestWrite("pending");
        _backend.Detach();
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
