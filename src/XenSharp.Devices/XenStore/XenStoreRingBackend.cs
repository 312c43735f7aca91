using System.Runtime.InteropServices;
using XenSharp.Abi.X86;
using XenSharp.Hypervisor.Memory;
using XenSharp.XenStore;

namespace XenSharp.Devices.XenStore;

/// <summary>
/// Serves a guest's XenStore ring page (struct xenstore_domain_interface) as one xenstored
/// connection of that domain. <see cref="Pump"/> moves bytes both ways: requests between
/// req_cons and req_prod go to the connection; queued replies and watch events go into the
/// rsp ring as far as it has room (the rest waits for the next pump). It runs when the guest
/// kicks the store event channel, on the toolstack's timer, and whenever xenstored queues
/// output for this domain. A guest that corrupts the indices (a producer more than a ring
/// ahead of the consumer) gets XENSTORE_ERROR_RINGIDX in the page and is no longer served,
/// as xenstored does; it never makes the backend read outside the page.
/// </summary>
public sealed class XenStoreRingBackend
{
    private readonly GuestMemory _memory;
    private readonly ulong _ring;
    private readonly object _lock = new();      // ring page and reply queue
    private readonly object _pumpLock = new();  // one pump at a time, so requests reach xenstored in ring order
    private readonly Queue<ReadOnlyMemory<byte>> _pending = new();
    private int _pendingOffset;
    private readonly byte[] _scratch = new byte[XenStoreDomainInterface.RingSize];
    private XenStoreConnection? _connection;
    private bool _detached;
    private bool _broken;

    /// <summary>Notifies the guest on its store event channel after the backend moved an index, as xenstored does.</summary>
    public Action? NotifyGuest { get; set; }

    public XenStoreRingBackend(GuestMemory memory, ulong ringAddress)
    {
        if (!memory.Contains(ringAddress, 4096))
            throw new ArgumentOutOfRangeException(nameof(ringAddress), "XenStore ring page is not guest memory");
        _memory = memory;
        _ring = ringAddress;
    }

    /// <summary>Connects the ring to xenstored as domain <paramref name="domid"/>.</summary>
    public void Connect(Xenstored xenstored, int domid)
    {
        _connection = xenstored.Connect(domid, Enqueue);
    }

    /// <summary>Bytes waiting for room in the rsp ring.</summary>
    public int PendingBytes
    {
        get { lock (_lock) return _pending.Sum(p => p.Length) - _pendingOffset; }
    }

    private void Enqueue(ReadOnlyMemory<byte> message)
    {
        lock (_lock)
        {
            if (_detached || _broken) return;
            _pending.Enqueue(message.ToArray());
        }
        ThreadPool.UnsafeQueueUserWorkItem(_ => Pump(), null);
    }

    /// <summary>Moves requests to xenstored and replies to the guest.</summary>
    public void Pump()
    {
        lock (_pumpLock) PumpLocked();
    }

    private void PumpLocked()
    {
        XenStoreConnection? connection = _connection;
        int n;
        bool moved;
        lock (_lock)
        {
            if (_detached || _broken || connection is null) return;
            if (!_memory.TryGetSpan(_ring, 4096, out var page)) return;
            moved = WriteReplies(page);
            n = ReadRequests(page);
        }
        if (n > 0)
        {
            moved = true;
            connection.Receive(_scratch.AsSpan(0, n)); // replies come back through Enqueue
            lock (_lock)
            {
                if (!_detached && !_broken && _memory.TryGetSpan(_ring, 4096, out var page))
                    WriteReplies(page);
            }
        }
        if (moved) NotifyGuest?.Invoke();
    }

    private int ReadRequests(Span<byte> page)
    {
        uint cons = Volatile.Read(ref Index(page, XenStoreDomainInterface.ReqConsOffset));
        uint prod = Volatile.Read(ref Index(page, XenStoreDomainInterface.ReqProdOffset));
        uint available = prod - cons;
        if (available == 0) return 0;
        if (available > XenStoreDomainInterface.RingSize)
        {
            Break(page, XenStoreDomainInterface.ErrorRingIdx);
            return 0;
        }
        var ring = page.Slice(XenStoreDomainInterface.ReqOffset, XenStoreDomainInterface.RingSize);
        for (int i = 0; i < (int)available; i++)
            _scratch[i] = ring[(int)((cons + (uint)i) & (XenStoreDomainInterface.RingSize - 1))];
        Volatile.Write(ref Index(page, XenStoreDomainInterface.ReqConsOffset), prod);
        return (int)available;
    }

    /// <summary>Copies queued output into the rsp ring; true when rsp_prod moved.</summary>
    private bool WriteReplies(Span<byte> page)
    {
        uint cons = Volatile.Read(ref Index(page, XenStoreDomainInterface.RspConsOffset));
        uint prod = Volatile.Read(ref Index(page, XenStoreDomainInterface.RspProdOffset));
        uint used = prod - cons;
        if (used > XenStoreDomainInterface.RingSize)
        {
            Break(page, XenStoreDomainInterface.ErrorRingIdx);
            return false;
        }
        uint start = prod;
        var ring = page.Slice(XenStoreDomainInterface.RspOffset, XenStoreDomainInterface.RingSize);
        int room = XenStoreDomainInterface.RingSize - (int)used;
        while (room > 0 && _pending.Count > 0)
        {
            var msg = _pending.Peek().Span[_pendingOffset..];
            int take = Math.Min(room, msg.Length);
            for (int i = 0; i < take; i++)
                ring[(int)((prod + (uint)i) & (XenStoreDomainInterface.RingSize - 1))] = msg[i];
            prod += (uint)take;
            room -= take;
            if (take == msg.Length)
            {
                _pending.Dequeue();
                _pendingOffset = 0;
            }
            else _pendingOffset += take;
        }
        Volatile.Write(ref Index(page, XenStoreDomainInterface.RspProdOffset), prod);
        return prod != start;
    }

    private void Break(Span<byte> page, uint error)
    {
        _broken = true;
        Volatile.Write(ref Index(page, XenStoreDomainInterface.ErrorOffset), error);
        _pending.Clear();
        ThreadPool.UnsafeQueueUserWorkItem(_ => _connection?.Close(), null);
    }

    /// <summary>Stops touching guest memory (before the domain's memory is released) and closes the connection.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            _detached = true;
            _pending.Clear();
        }
        _connection?.Close();
    }

    private static ref uint Index(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(page.Slice(offset, 4))[0];
}
