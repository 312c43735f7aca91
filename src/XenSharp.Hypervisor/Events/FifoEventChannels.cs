using System.Runtime.InteropServices;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// Xen's FIFO event-channel ABI (event_channel.h, "FIFO ABI"), in the guest's own memory:
/// <code>
///   event array      up to 128 guest pages (EVTCHNOP_expand_array), one 32-bit event word per
///                    port: page i holds ports i*1024 .. i*1024+1023
///   event word       PENDING(31) MASKED(30) LINKED(29) BUSY(28) ... LINK(16:0)
///   control block    per vCPU (EVTCHNOP_init_control): { u32 ready; u32 _rsvd; u32 head[16]; }
/// </code>
/// Each vCPU has 16 queues, one per priority (0 highest .. 15 lowest, default 7). A queue is a
/// singly linked list through the LINK fields of event words: head[priority] in the control
/// block names the first event, each LINKED word's LINK names the next, LINK 0 ends it (port 0
/// is never valid). Bit p of ready says "queue p has events".
///
/// Marking port P pending for vCPU V (<see cref="SetPending"/>): set PENDING; if the word is
/// neither MASKED nor already LINKED, set LINKED and append P to queue (V, priority of P): when
/// the queue's tail T (host-side bookkeeping) is still LINKED, compare-exchange T's LINK to P
/// (keeping its other bits); otherwise the guest has consumed the whole queue, so P becomes
/// head[priority]. P is the new tail. When P went to head[], set ready bit priority, and if it
/// was clear, raise the upcall (evtchn_upcall_pending in V's vcpu_info, wake/kick V), as Xen does;
/// an event appended to a still-linked tail needs neither, since the guest reaches it by walking
/// the list it is already consuming.
///
/// Who changes what: Xen (here) sets PENDING, LINKED, LINK, head[], ready bits; sets and clears
/// nothing else except when EVTCHNOP_unmask clears MASKED. The guest consumes: it atomically
/// exchanges ready to 0, takes head[] (or its own cursor), clears LINKED and LINK of each word
/// as it walks the list (reading the next LINK in the same atomic step), handles events that are
/// PENDING and not MASKED, clears PENDING, and sets/clears MASKED. BUSY marks a word the
/// hypervisor is relinking; we never set it, but if a guest holds it on a tail we retry a bounded
/// number of times and then treat the tail as unlinked. A queue whose tail was consumed (LINKED
/// clear) is therefore restarted through head[]; when a port moves to another queue (new
/// priority or vCPU) any queue still naming it as tail forgets it, so no other queue's event is
/// ever linked behind it.
///
/// Ports beyond the event array are valid (<see cref="PortLimit"/> is the full 131072): an event
/// raised on one is remembered in a host-side bitmap and raised for real when
/// <see cref="ExpandArray"/> adds its page. All guest words are changed with atomic
/// read-modify-writes (the guest changes them concurrently); the host-side queue bookkeeping is
/// under one lock per domain. Bad guest memory is never an exception: the operation just does
/// nothing. <see cref="SetPending"/> and <see cref="Unmask"/> allocate nothing: host-side state is
/// sized at construction, in <see cref="InitControl"/> and in <see cref="ExpandArray"/>.
/// </summary>
public sealed class FifoEventChannels : IEventChannelAbi
{
    private const int PageSize = 4096;
    /// <summary>Event words in one event-array page.</summary>
    public const int WordsPerPage = PageSize / sizeof(uint);
    /// <summary>EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES: 131072 ports / 1024.</summary>
    public const int MaxArrayPages = FifoEvent.MaxChannels / WordsPerPage;
    /// <summary>How often a link into a tail word is retried while the guest changes it or holds BUSY.</summary>
    private const int MaxLinkTries = 8;

    private readonly Domain _domain;
    private readonly object _lock = new();

    /// <summary>Per vCPU: guest address of its control block, 0 until init_control.</summary>
    private readonly ulong[] _controlBlocks;
    private bool _anyControlBlock;

    /// <summary>Per queue (vcpu * 16 + priority): the port last linked on it, 0 for none. Under <see cref="_lock"/>.</summary>
    private readonly int[] _tails;

    /// <summary>Guest addresses of the event-array pages; the first <see cref="_arrayPages"/> are valid.</summary>
    private readonly ulong[] _pageAddresses = new ulong[MaxArrayPages];
    private int _arrayPages;

    /// <summary>Per array page, per port: the queue the port was last linked on, -1 for none. Under <see cref="_lock"/>.</summary>
    private readonly int[]?[] _lastQueue = new int[MaxArrayPages][];

    /// <summary>Per port: its priority for the next time it is linked.</summary>
    private readonly byte[] _priorities = new byte[FifoEvent.MaxChannels];

    /// <summary>Per port: pending while the port had no event word yet (raised by <see cref="ExpandArray"/>).</summary>
    private readonly ulong[] _pendingWithoutWord = new ulong[FifoEvent.MaxChannels / 64];

    public FifoEventChannels(Domain domain)
    {
        _domain = domain;
        int vcpus = domain.Vcpus.Count;
        _controlBlocks = new ulong[vcpus];
        _tails = new int[vcpus * FifoEvent.Queues];
        Array.Fill(_priorities, (byte)FifoEvent.PriorityDefault);
    }

    public int PortLimit => FifoEvent.MaxChannels;

    /// <summary>Event-array pages added so far (ports 0 .. ArrayPages*1024-1 have event words).</summary>
    public int ArrayPages => Volatile.Read(ref _arrayPages);

    /// <summary>Guest address of vCPU <paramref name="vcpu"/>'s control block, 0 if it has none.</summary>
    public ulong ControlBlockAddress(int vcpu)
    {
        if ((uint)vcpu >= (uint)_controlBlocks.Length) return 0;
        lock (_lock) return _controlBlocks[vcpu];
    }

    /// <summary>
    /// EVTCHNOP_init_control: vCPU <paramref name="vcpu"/>'s control block is at
    /// <paramref name="offset"/> in guest frame <paramref name="controlGfn"/>. It is zeroed.
    /// -ENOENT for a vCPU that does not exist; -EINVAL for an offset that is not 8-byte aligned or
    /// leaves no room for the block, a frame outside guest RAM, or a vCPU already initialised.
    /// </summary>
    public long InitControl(int vcpu, ulong controlGfn, uint offset)
    {
        if ((uint)vcpu >= (uint)_controlBlocks.Length) return -XenErrno.ENOENT;
        if ((offset & 7) != 0 || offset > PageSize - FifoEvent.ControlBlockSize) return -XenErrno.EINVAL;
        if (controlGfn > ulong.MaxValue / PageSize) return -XenErrno.EINVAL;
        ulong address = controlGfn * PageSize + offset;
        lock (_lock)
        {
            if (_controlBlocks[vcpu] != 0) return -XenErrno.EINVAL;
            if (!_domain.Memory.TryGetSpan(address, FifoEvent.ControlBlockSize, out var block)) return -XenErrno.EINVAL;
            block.Clear();
            _controlBlocks[vcpu] = address;
            _anyControlBlock = true;
        }
        return 0;
    }

    /// <summary>
    /// EVTCHNOP_expand_array: guest frame <paramref name="arrayGfn"/> becomes the next page of
    /// the event array, as the guest prepared it (Linux masks every word first; Xen does not
    /// touch the page, and neither does XenSharp). -EOPNOTSUPP before any init_control, -EINVAL
    /// for a frame outside guest RAM, -ENOSPC when the array already has all 128 pages. Ports
    /// of the new page that were raised while they had no event word are raised now, for the
    /// vCPU they notify.
    /// </summary>
    public long ExpandArray(ulong arrayGfn)
    {
        int page;
        lock (_lock)
        {
            if (!_anyControlBlock) return -XenErrno.EOPNOTSUPP;
            page = _arrayPages;
            if (page >= MaxArrayPages) return -XenErrno.ENOSPC;
            if (arrayGfn > ulong.MaxValue / PageSize) return -XenErrno.EINVAL;
            ulong address = arrayGfn * PageSize;
            if (!_domain.Memory.Contains(address, PageSize)) return -XenErrno.EINVAL;
            var lastQueue = new int[WordsPerPage];
            Array.Fill(lastQueue, -1);
            _lastQueue[page] = lastQueue;
            _pageAddresses[page] = address;
            Volatile.Write(ref _arrayPages, page + 1);
        }

        // Outside the lock: the table's lock (for the notified vCPU) is taken before ours elsewhere.
        int first = page * WordsPerPage;
        for (int i = first / 64; i < (first + WordsPerPage) / 64; i++)
        {
            ulong bits = Interlocked.Exchange(ref _pendingWithoutWord[i], 0);
            while (bits != 0)
            {
                int port = i * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                int vcpu = _domain.EventChannels.NotifyVcpu((uint)port);
                SetPending(port, vcpu < 0 ? 0 : vcpu);
            }
        }
        return 0;
    }

    /// <summary>EVTCHNOP_set_priority: used the next time the port is linked. -EINVAL above 15 (lowest).</summary>
    public long SetPriority(int port, uint priority)
    {
        if (priority > FifoEvent.PriorityMin) return -XenErrno.EINVAL;
        if ((uint)port >= (uint)FifoEvent.MaxChannels) return -XenErrno.EINVAL;
        Volatile.Write(ref _priorities[port], (byte)priority);
        return 0;
    }

    /// <summary>Back to the default priority (7): the port was closed.</summary>
    public void ResetPriority(int port)
    {
        if ((uint)port < (uint)FifoEvent.MaxChannels)
            Volatile.Write(ref _priorities[port], (byte)FifoEvent.PriorityDefault);
    }

    /// <summary>The priority the port will be linked with.</summary>
    public int Priority(int port) =>
        (uint)port < (uint)FifoEvent.MaxChannels ? Volatile.Read(ref _priorities[port]) : FifoEvent.PriorityDefault;

    public void SetPending(int port, int vcpu)
    {
        if (!IsRaisable(port)) return;
        bool upcall;
        lock (_lock)
        {
            ulong word = WordAddress(port);
            if (word == 0)
            {
                Interlocked.Or(ref _pendingWithoutWord[port >> 6], 1UL << (port & 63));
                return;
            }
            upcall = RaiseLocked(port, word, vcpu);
        }
        if (upcall) _domain.Vcpus[vcpu].RaiseUpcall();
    }

    public void ClearPending(int port)
    {
        if ((uint)port >= (uint)FifoEvent.MaxChannels) return;
        Interlocked.And(ref _pendingWithoutWord[port >> 6], ~(1UL << (port & 63)));
        ulong word = WordAddress(port);
        if (word != 0) TryAnd(word, ~FifoEvent.Pending, out _);
    }

    public bool IsPending(int port)
    {
        if ((uint)port >= (uint)FifoEvent.MaxChannels) return false;
        ulong word = WordAddress(port);
        if (word == 0) return (Volatile.Read(ref _pendingWithoutWord[port >> 6]) & (1UL << (port & 63))) != 0;
        return TryRead(word, out uint w) && (w & FifoEvent.Pending) != 0;
    }

    public bool IsMasked(int port)
    {
        ulong word = (uint)port < (uint)FifoEvent.MaxChannels ? WordAddress(port) : 0;
        return word != 0 && TryRead(word, out uint w) && (w & FifoEvent.Masked) != 0;
    }

    public void Unmask(int port, int vcpu)
    {
        if (!IsRaisable(port)) return;
        bool upcall = false;
        lock (_lock)
        {
            ulong word = WordAddress(port);
            if (word == 0 || !TryAnd(word, ~FifoEvent.Masked, out _)) return;
            if (TryRead(word, out uint w) && (w & FifoEvent.Pending) != 0)
                upcall = RaiseLocked(port, word, vcpu);
        }
        if (upcall) _domain.Vcpus[vcpu].RaiseUpcall();
    }

    /// <summary>Ports that can be linked: 1..131071 (port 0 is never valid, and LINK 0 ends a queue).</summary>
    private static bool IsRaisable(int port) => (uint)(port - 1) < (uint)(FifoEvent.MaxChannels - 1);

    /// <summary>Guest address of the port's event word, 0 while the array does not reach it.</summary>
    private ulong WordAddress(int port)
    {
        int page = port / WordsPerPage;
        if (page >= Volatile.Read(ref _arrayPages)) return 0;
        return _pageAddresses[page] + (ulong)(port % WordsPerPage * sizeof(uint));
    }

    /// <summary>
    /// Sets PENDING and links the event if it is unmasked and not yet linked. Returns whether
    /// the caller must raise vCPU <paramref name="vcpu"/>'s upcall (after dropping the lock).
    /// </summary>
    private bool RaiseLocked(int port, ulong word, int vcpu)
    {
        if (!TryOr(word, FifoEvent.Pending, out uint w)) return false;
        if ((uint)vcpu >= (uint)_controlBlocks.Length) return false;
        ulong control = _controlBlocks[vcpu];
        if (control == 0) return false; // the guest must not unmask before init_control: nothing to link to

        if ((w & FifoEvent.Masked) != 0) return false;
        if (!TryOr(word, FifoEvent.Linked, out w) || (w & FifoEvent.Linked) != 0) return false;

        int priority = Volatile.Read(ref _priorities[port]);
        int queue = vcpu * FifoEvent.Queues + priority;

        // If the port is still some queue's tail, it has been consumed (we just set LINKED
        // afresh): that queue must not link behind it any more.
        ref int last = ref _lastQueue[port / WordsPerPage]![port % WordsPerPage];
        if (last >= 0 && _tails[last] == port) _tails[last] = 0;
        last = queue;

        bool linked = false;
        int tail = _tails[queue];
        if (tail != 0 && LastQueue(tail) == queue)
        {
            ulong tailWord = WordAddress(tail);
            linked = tailWord != 0 && TrySetLink(tailWord, (uint)port);
        }
        _tails[queue] = port;
        if (linked) return false;

        ulong head = control + FifoEvent.ControlBlockHeadOffset + (ulong)(priority * sizeof(uint));
        if (!TryExchange(head, (uint)port)) return false;
        return TryOr(control, 1u << priority, out uint ready) && (ready & (1u << priority)) == 0;
    }

    private int LastQueue(int port) => _lastQueue[port / WordsPerPage] is { } q ? q[port % WordsPerPage] : -1;

    /// <summary>
    /// Sets the LINK field of a tail word to <paramref name="port"/> if the word is still LINKED,
    /// keeping its other bits. False when the guest already consumed the tail (LINKED clear), or
    /// kept changing it or holding BUSY for <see cref="MaxLinkTries"/> attempts.
    /// </summary>
    private bool TrySetLink(ulong tailWord, uint port)
    {
        for (int attempt = 0; attempt < MaxLinkTries; attempt++)
        {
            if (!TryRead(tailWord, out uint w) || (w & FifoEvent.Linked) == 0) return false;
            if ((w & FifoEvent.Busy) != 0)
            {
                Thread.SpinWait(1 << attempt);
                continue;
            }
            uint linked = (w & ~FifoEvent.LinkMask) | port;
            if (!TryCompareExchange(tailWord, linked, w, out uint seen)) return false;
            if (seen == w) return true;
        }
        return false;
    }

    // --- atomic access to guest words (aligned, checked against guest RAM on every access) ------

    private bool TryRead(ulong gpa, out uint value)
    {
        if (gpa % 4 != 0 || !_domain.Memory.TryGetSpan(gpa, 4, out var s))
        {
            value = 0;
            return false;
        }
        value = Volatile.Read(ref MemoryMarshal.Cast<byte, uint>(s)[0]);
        return true;
    }

    private bool TryOr(ulong gpa, uint bits, out uint old)
    {
        if (gpa % 4 != 0 || !_domain.Memory.TryGetSpan(gpa, 4, out var s))
        {
            old = 0;
            return false;
        }
        old = Interlocked.Or(ref MemoryMarshal.Cast<byte, uint>(s)[0], bits);
        return true;
    }

    private bool TryAnd(ulong gpa, uint bits, out uint old)
    {
        if (gpa % 4 != 0 || !_domain.Memory.TryGetSpan(gpa, 4, out var s))
        {
            old = 0;
            return false;
        }
        old = Interlocked.And(ref MemoryMarshal.Cast<byte, uint>(s)[0], bits);
        return true;
    }

    private bool TryExchange(ulong gpa, uint value)
    {
        if (gpa % 4 != 0 || !_domain.Memory.TryGetSpan(gpa, 4, out var s)) return false;
        Interlocked.Exchange(ref MemoryMarshal.Cast<byte, uint>(s)[0], value);
        return true;
    }

    private bool TryCompareExchange(ulong gpa, uint value, uint comparand, out uint seen)
    {
        if (gpa % 4 != 0 || !_domain.Memory.TryGetSpan(gpa, 4, out var s))
        {
            seen = 0;
            return false;
        }
        seen = Interlocked.CompareExchange(ref MemoryMarshal.Cast<byte, uint>(s)[0], value, comparand);
        return true;
    }
}
