using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// The FIFO event-channel ABI (event_channel.h): control blocks, the event array, and how
/// events are queued — checked the way a guest sees them, in its own memory.
/// </summary>
public class FifoEventChannelsTests
{
    private const ulong SharedInfo = 0x30000;
    private const ulong ControlGfn = 0x40;        // vCPU 0's control block at 0x40000
    private const ulong Control1Gfn = 0x41;       // vCPU 1's at 0x41000 + 0x100
    private const uint Control1Offset = 0x100;
    private const ulong ArrayGfn = 0x50;          // event-array pages at 0x50000, 0x51000, ...
    private const ulong Control0 = ControlGfn * 4096;
    private const ulong Control1 = Control1Gfn * 4096 + Control1Offset;

    private const uint Pending = FifoEvent.Pending, Masked = FifoEvent.Masked, Linked = FifoEvent.Linked, Busy = FifoEvent.Busy;

    /// <summary>A domain with shared_info placed (so vCPUs have vcpu_info) and a FIFO ABI in use.</summary>
    private static (TestDomain T, FifoEventChannels Fifo) Setup(int vcpus = 1, bool init = true, int pages = 1)
    {
        var t = new TestDomain(vcpus);
        Assert.True(t.Memory.TryGetSpan(SharedInfo, 4096, out var page));
        SharedInfoPage.Initialise(page, vcpus);
        t.Domain.SharedInfoAddress = SharedInfo;
        var fifo = new FifoEventChannels(t.Domain);
        t.Domain.EventAbi = fifo;
        if (init)
        {
            Assert.Equal(0, fifo.InitControl(0, ControlGfn, 0));
            for (int i = 0; i < pages; i++) Assert.Equal(0, fifo.ExpandArray(ArrayGfn + (ulong)i));
        }
        return (t, fifo);
    }

    private static ulong WordAddress(int port) => ArrayGfn * 4096 + (ulong)port * 4;
    private static uint Word(TestDomain t, int port) => t.Peek<uint>(WordAddress(port));
    private static uint Head(TestDomain t, int priority, ulong control = Control0) =>
        t.Peek<uint>(control + FifoEvent.ControlBlockHeadOffset + (ulong)priority * 4);
    private static uint Ready(TestDomain t, ulong control = Control0) => t.Peek<uint>(control);
    private static byte UpcallPending(TestDomain t, int vcpu = 0) =>
        t.Peek<byte>(SharedInfo + (ulong)(vcpu * SharedInfoPage.VcpuInfoSize) + SharedInfoPage.UpcallPendingOffset);

    /// <summary>What a guest walking queue <paramref name="priority"/> finds: head, then LINK of each LINKED word.</summary>
    private static List<int> Walk(TestDomain t, int priority, ulong control = Control0)
    {
        var ports = new List<int>();
        int port = (int)Head(t, priority, control);
        while (port != 0 && ports.Count < 64)
        {
            uint w = Word(t, port);
            if ((w & Linked) == 0) break;
            ports.Add(port);
            port = (int)(w & FifoEvent.LinkMask);
        }
        return ports;
    }

    // --- EVTCHNOP_init_control ------------------------------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(-1)]
    public void Init_control_for_a_vcpu_that_does_not_exist_gets_enoent(int vcpu)
    {
        var (t, fifo) = Setup(vcpus: 1, init: false);
        using var _ = t;
        Assert.Equal(-XenErrno.ENOENT, fifo.InitControl(vcpu, ControlGfn, 0));
        Assert.Equal(0UL, fifo.ControlBlockAddress(0));
    }

    [Theory]
    [InlineData(4u)]      // not 8-byte aligned
    [InlineData(0x101u)]
    [InlineData(4032u)]   // aligned, but the 72-byte block would cross the page
    [InlineData(0xFFFFFFF8u)]
    public void Init_control_with_a_bad_offset_gets_einval(uint offset)
    {
        var (t, fifo) = Setup(init: false);
        using var _ = t;
        Assert.Equal(-XenErrno.EINVAL, fifo.InitControl(0, ControlGfn, offset));
        Assert.Equal(0UL, fifo.ControlBlockAddress(0));
    }

    [Fact]
    public void Init_control_at_the_last_offset_that_fits_succeeds()
    {
        var (t, fifo) = Setup(init: false);
        using var _ = t;
        Assert.Equal(0, fifo.InitControl(0, ControlGfn, 4096 - FifoEvent.ControlBlockSize));
        Assert.Equal(Control0 + 4096 - FifoEvent.ControlBlockSize, fifo.ControlBlockAddress(0));
    }

    [Theory]
    [InlineData(TestDomain.RamSize / 4096)]
    [InlineData(TestDomain.Unmapped / 4096)]
    [InlineData(ulong.MaxValue)]
    public void Init_control_on_a_frame_outside_ram_gets_einval(ulong gfn)
    {
        var (t, fifo) = Setup(init: false);
        using var _ = t;
        Assert.Equal(-XenErrno.EINVAL, fifo.InitControl(0, gfn, 0));
        Assert.Equal(0UL, fifo.ControlBlockAddress(0));
    }

    [Fact]
    public void Init_control_twice_for_the_same_vcpu_gets_einval_but_another_vcpu_may()
    {
        var (t, fifo) = Setup(vcpus: 2, init: false);
        using var _ = t;
        Assert.Equal(0, fifo.InitControl(0, ControlGfn, 0));
        Assert.Equal(-XenErrno.EINVAL, fifo.InitControl(0, ControlGfn + 1, 0));
        Assert.Equal(Control0, fifo.ControlBlockAddress(0));
        Assert.Equal(0, fifo.InitControl(1, Control1Gfn, Control1Offset));
        Assert.Equal(Control1, fifo.ControlBlockAddress(1));
    }

    [Fact]
    public void Init_control_zeroes_the_control_block_and_nothing_around_it()
    {
        var (t, fifo) = Setup(init: false);
        using var _ = t;
        t.Fill(Control0, 4096, 0xAA);
        Assert.Equal(0, fifo.InitControl(0, ControlGfn, 8));
        Assert.Equal(0xAA, t.Peek<byte>(Control0 + 7));
        Assert.All(t.Peek(Control0 + 8, FifoEvent.ControlBlockSize), b => Assert.Equal(0, b));
        Assert.Equal(0xAA, t.Peek<byte>(Control0 + 8 + FifoEvent.ControlBlockSize));
    }

    // --- EVTCHNOP_expand_array ------------------------------------------------------------------

    [Fact]
    public void Expand_array_before_any_init_control_gets_eopnotsupp()
    {
        var (t, fifo) = Setup(init: false);
        using var _ = t;
        Assert.Equal(-XenErrno.EOPNOTSUPP, fifo.ExpandArray(ArrayGfn));
        Assert.Equal(0, fifo.ArrayPages);
    }

    [Fact]
    public void Expand_array_keeps_the_guests_words_and_rejects_frames_outside_ram()
    {
        var (t, fifo) = Setup(pages: 0);
        using var _ = t;
        for (ulong w = 0; w < 1024; w++) t.Poke(ArrayGfn * 4096 + w * 4, Masked); // as Linux prepares a page
        Assert.Equal(-XenErrno.EINVAL, fifo.ExpandArray(TestDomain.RamSize / 4096));
        Assert.Equal(-XenErrno.EINVAL, fifo.ExpandArray(ulong.MaxValue));
        Assert.Equal(0, fifo.ArrayPages);
        Assert.Equal(0, fifo.ExpandArray(ArrayGfn));
        Assert.Equal(1, fifo.ArrayPages);
        for (ulong w = 0; w < 1024; w++) Assert.Equal(Masked, t.Peek<uint>(ArrayGfn * 4096 + w * 4));
    }

    [Fact]
    public void Expand_array_stops_at_128_pages()
    {
        var (t, fifo) = Setup(pages: 0);
        using var _ = t;
        for (ulong i = 0; i < 128; i++) Assert.Equal(0, fifo.ExpandArray(0x100 + i));
        Assert.Equal(128, fifo.ArrayPages);
        Assert.Equal(-XenErrno.ENOSPC, fifo.ExpandArray(0x180));
        Assert.Equal(128, fifo.ArrayPages);
        Assert.Equal(FifoEvent.MaxChannels, fifo.PortLimit);

        // The last port lives in the last page's last word.
        fifo.SetPending(FifoEvent.MaxChannels - 1, 0);
        Assert.Equal(Pending | Linked, t.Peek<uint>(0x17FUL * 4096 + 4092));
        Assert.Equal((uint)(FifoEvent.MaxChannels - 1), Head(t, FifoEvent.PriorityDefault));
    }

    // --- queueing -------------------------------------------------------------------------------

    [Fact]
    public void A_single_event_goes_to_head_7_and_sets_ready_bit_7_and_upcall_pending()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        int kicks = t.FakeCpu().KickCount;
        fifo.SetPending(5, 0);

        Assert.Equal(Pending | Linked, Word(t, 5));
        Assert.Equal(5u, Head(t, 7));
        Assert.Equal(1u << 7, Ready(t));
        Assert.Equal(1, UpcallPending(t));
        Assert.True(t.FakeCpu().KickCount > kicks);
        Assert.True(fifo.IsPending(5));
        Assert.False(fifo.IsMasked(5));
        for (int p = 0; p < FifoEvent.Queues; p++)
            if (p != 7) Assert.Equal(0u, Head(t, p));
    }

    [Fact]
    public void Three_events_in_one_queue_chain_through_their_link_fields_in_order()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(9, 0);
        fifo.SetPending(3, 0);
        fifo.SetPending(700, 0);

        Assert.Equal(9u, Head(t, 7));
        Assert.Equal(Pending | Linked | 3, Word(t, 9));
        Assert.Equal(Pending | Linked | 700, Word(t, 3));
        Assert.Equal(Pending | Linked, Word(t, 700));
        Assert.Equal([9, 3, 700], Walk(t, 7));
        Assert.Equal(1u << 7, Ready(t));
    }

    [Fact]
    public void Linking_keeps_the_tail_words_other_bits()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(4, 0);
        // The guest handles port 4 (clears PENDING) and masks it, but has not yet unlinked it.
        t.Poke(WordAddress(4), (Word(t, 4) & ~Pending) | Masked);
        fifo.SetPending(6, 0);
        Assert.Equal(Masked | Linked | 6, Word(t, 4));
        Assert.Equal([4, 6], Walk(t, 7));
    }

    [Fact]
    public void Events_of_different_priorities_go_to_different_heads_with_both_ready_bits()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        Assert.Equal(0, fifo.SetPriority(4, 2));
        Assert.Equal(0, fifo.SetPriority(6, 9));
        fifo.SetPending(4, 0);
        fifo.SetPending(6, 0);

        Assert.Equal(4u, Head(t, 2));
        Assert.Equal(6u, Head(t, 9));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(Pending | Linked, Word(t, 4));
        Assert.Equal(Pending | Linked, Word(t, 6));
        Assert.Equal((1u << 2) | (1u << 9), Ready(t));
    }

    [Fact]
    public void A_masked_event_stays_unlinked_until_unmask_links_it()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        t.Poke(WordAddress(8), Masked); // the guest masks the port
        fifo.SetPending(8, 0);

        Assert.Equal(Pending | Masked, Word(t, 8));
        Assert.True(fifo.IsPending(8));
        Assert.True(fifo.IsMasked(8));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0u, Ready(t));
        Assert.Equal(0, UpcallPending(t));

        fifo.Unmask(8, 0);
        Assert.Equal(Pending | Linked, Word(t, 8));
        Assert.False(fifo.IsMasked(8));
        Assert.Equal(8u, Head(t, 7));
        Assert.Equal(1u << 7, Ready(t));
        Assert.Equal(1, UpcallPending(t));
    }

    [Fact]
    public void Unmasking_an_event_that_is_not_pending_only_clears_the_mask()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        t.Poke(WordAddress(8), Masked);
        fifo.Unmask(8, 0);
        Assert.Equal(0u, Word(t, 8));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0u, Ready(t));
        Assert.Equal(0, UpcallPending(t));
    }

    [Fact]
    public void An_event_already_linked_is_not_linked_twice()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(3, 0);
        fifo.SetPending(5, 0);
        fifo.SetPending(3, 0);   // still linked: nothing to do
        fifo.SetPending(5, 0);   // the tail: must not link to itself
        fifo.Unmask(3, 0);       // pending and linked: nothing to do either

        Assert.Equal(3u, Head(t, 7));
        Assert.Equal(Pending | Linked | 5, Word(t, 3));
        Assert.Equal(Pending | Linked, Word(t, 5));
        Assert.Equal([3, 5], Walk(t, 7));

        fifo.SetPending(11, 0);
        Assert.Equal([3, 5, 11], Walk(t, 7));
    }

    [Fact]
    public void Set_priority_accepts_0_to_15_and_reset_priority_restores_7()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        Assert.Equal(-XenErrno.EINVAL, fifo.SetPriority(3, 16));
        Assert.Equal(-XenErrno.EINVAL, fifo.SetPriority(3, uint.MaxValue));
        Assert.Equal(FifoEvent.PriorityDefault, fifo.Priority(3));
        Assert.Equal(0, fifo.SetPriority(3, 0));
        Assert.Equal(0, fifo.SetPriority(4, 15));
        Assert.Equal(0, fifo.SetPriority(5, 15));
        fifo.ResetPriority(5);

        fifo.SetPending(3, 0);
        fifo.SetPending(4, 0);
        fifo.SetPending(5, 0);
        Assert.Equal(3u, Head(t, 0));
        Assert.Equal(4u, Head(t, 15));
        Assert.Equal(5u, Head(t, 7));
        Assert.Equal(1u | (1u << 7) | (1u << 15), Ready(t));
    }

    [Fact]
    public void A_new_priority_takes_effect_the_next_time_the_event_is_linked()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(3, 0);
        Assert.Equal(0, fifo.SetPriority(3, 2));
        fifo.SetPending(3, 0);               // still linked on queue 7
        Assert.Equal([3], Walk(t, 7));
        Assert.Equal(0u, Head(t, 2));

        t.Poke(WordAddress(3), 0u);          // the guest consumes it
        fifo.SetPending(3, 0);
        Assert.Equal(3u, Head(t, 2));
        Assert.Equal(Pending | Linked, Word(t, 3));

        // Queue 7 forgot port 3 as its tail: a new event there starts at head[7], not behind 3.
        fifo.SetPending(5, 0);
        Assert.Equal(5u, Head(t, 7));
        Assert.Equal(Pending | Linked, Word(t, 3));
        Assert.Equal([3], Walk(t, 2));
    }

    [Fact]
    public void An_event_raised_before_its_array_page_exists_appears_after_expand_array()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        const int port = 1500;               // page 1
        fifo.SetPending(port, 0);
        Assert.True(fifo.IsPending(port));
        Assert.False(fifo.IsMasked(port));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0u, Ready(t));
        Assert.Equal(0, UpcallPending(t));

        t.Fill((ArrayGfn + 1) * 4096, 4096, 0);
        Assert.Equal(0, fifo.ExpandArray(ArrayGfn + 1));
        Assert.Equal(Pending | Linked, Word(t, port));
        Assert.Equal((uint)port, Head(t, 7));
        Assert.Equal(1u << 7, Ready(t));
        Assert.Equal(1, UpcallPending(t));
        Assert.Equal(0u, Word(t, 1501));     // the rest of the page is as the guest left it
    }

    [Fact]
    public void An_event_cleared_before_its_array_page_exists_is_not_raised_by_expand_array()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(1500, 0);
        fifo.ClearPending(1500);
        Assert.False(fifo.IsPending(1500));
        Assert.Equal(0, fifo.ExpandArray(ArrayGfn + 1));
        Assert.Equal(0u, Word(t, 1500));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0u, Ready(t));
    }

    [Fact]
    public void After_the_guest_consumed_the_tail_the_next_event_goes_to_head()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(3, 0);
        fifo.SetPending(5, 0);
        // The guest walks the queue: clears LINKED|LINK (and handles PENDING) of 3 and 5, and ready.
        t.Poke(WordAddress(3), 0u);
        t.Poke(WordAddress(5), 0u);
        t.Poke(Control0, 0u);
        t.Poke<byte>(SharedInfo + SharedInfoPage.UpcallPendingOffset, 0);

        fifo.SetPending(7, 0);
        Assert.Equal(7u, Head(t, 7));
        Assert.Equal(0u, Word(t, 5));        // not linked behind the consumed tail
        Assert.Equal(Pending | Linked, Word(t, 7));
        Assert.Equal(1u << 7, Ready(t));
        Assert.Equal(1, UpcallPending(t));
    }

    [Fact]
    public void A_tail_the_guest_keeps_busy_is_treated_as_unlinked()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(3, 0);
        t.Poke(WordAddress(3), Word(t, 3) | Busy);
        fifo.SetPending(5, 0);
        Assert.Equal(Pending | Linked | Busy, Word(t, 3));
        Assert.Equal(5u, Head(t, 7));
        Assert.Equal(Pending | Linked, Word(t, 5));
    }

    [Fact]
    public void Each_vcpu_has_its_own_queues()
    {
        var (t, fifo) = Setup(vcpus: 2);
        using var _ = t;
        Assert.Equal(0, fifo.InitControl(1, Control1Gfn, Control1Offset));
        fifo.SetPending(3, 1);
        fifo.SetPending(4, 0);
        fifo.SetPending(5, 1);

        Assert.Equal([3, 5], Walk(t, 7, Control1));
        Assert.Equal([4], Walk(t, 7, Control0));
        Assert.Equal(1u << 7, Ready(t, Control1));
        Assert.Equal(1u << 7, Ready(t, Control0));
        Assert.Equal(1, UpcallPending(t, 1));
        Assert.Equal(1, UpcallPending(t, 0));
    }

    [Fact]
    public void Only_the_notified_vcpu_gets_the_upcall()
    {
        var (t, fifo) = Setup(vcpus: 2);
        using var _ = t;
        Assert.Equal(0, fifo.InitControl(1, Control1Gfn, Control1Offset));
        fifo.SetPending(3, 1);
        Assert.Equal(3u, Head(t, 7, Control1));
        Assert.Equal(0u, Head(t, 7, Control0));
        Assert.Equal(0u, Ready(t, Control0));
        Assert.Equal(1, UpcallPending(t, 1));
        Assert.Equal(0, UpcallPending(t, 0));
    }

    [Fact]
    public void A_vcpu_without_a_control_block_only_gets_the_pending_bit()
    {
        var (t, fifo) = Setup(vcpus: 2);
        using var _ = t;
        fifo.SetPending(3, 1);
        Assert.Equal(Pending, Word(t, 3));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0, UpcallPending(t, 1));
    }

    [Fact]
    public void Clear_pending_clears_only_the_pending_bit()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(3, 0);
        fifo.ClearPending(3);
        Assert.Equal(Linked, Word(t, 3));    // the guest unlinks it when it walks the queue
        Assert.False(fifo.IsPending(3));
    }

    [Fact]
    public void Raising_and_unmasking_allocate_nothing()
    {
        var (t, fifo) = Setup();
        using var _ = t;
        void Round()
        {
            for (int port = 1; port < 200; port++) fifo.SetPending(port, 0);
            for (int port = 1; port < 200; port++) t.Poke(WordAddress(port), Masked | Pending);
            for (int port = 1; port < 200; port++) fifo.Unmask(port, 0);
            fifo.SetPending(1500, 0);        // no event word yet
            fifo.ClearPending(1500);
            for (int port = 1; port < 200; port++) t.Poke(WordAddress(port), 0u);
        }
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Round();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.NotEqual(0u, Head(t, 7));     // the events were queued
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(FifoEvent.MaxChannels)]
    [InlineData(int.MaxValue)]
    public void Ports_out_of_range_are_ignored(int port)
    {
        var (t, fifo) = Setup();
        using var _ = t;
        fifo.SetPending(port, 0);
        fifo.Unmask(port, 0);
        fifo.ClearPending(port);
        fifo.ResetPriority(port);
        Assert.False(fifo.IsMasked(port));
        Assert.Equal(port == 0 ? 0 : -XenErrno.EINVAL, fifo.SetPriority(port, 3));
        Assert.Equal(0u, Head(t, 7));
        Assert.Equal(0u, Ready(t));
        Assert.Equal(0u, Word(t, 0));
    }
}
