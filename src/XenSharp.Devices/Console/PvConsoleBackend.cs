using XenSharp.Abi.X86;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Devices.Console;

/// <summary>
/// The backend of a domain's PV console (struct xencons_interface, io/console.h): the guest
/// produces into the 2 KiB <c>out</c> ring and kicks the console event channel; the backend
/// copies out_cons..out_prod into <see cref="Output"/> and advances out_cons. Input goes the
/// other way through the 1 KiB <c>in</c> ring: the backend produces at in_prod, the guest
/// consumes at in_cons; input that does not fit waits in a bounded queue and goes in as the
/// guest makes room (on its kick, or the timer). Indices are free-running u32s, read once per
/// operation; a producer index more than a ring's size ahead of the consumer is a guest bug:
/// for <c>out</c> the backend skips to it rather than read garbage, for <c>in</c> it writes
/// nothing until the guest's indices make sense again. Writes are masked into the ring, so a
/// guest moving its indices never makes the backend touch anything outside <c>in</c>. The
/// ring is also drained on a timer and at shutdown, so output from a guest that never
/// notifies is not lost.
/// </summary>
public sealed class PvConsoleBackend : IConsoleBackend
{
    private readonly GuestMemory _memory;
    private readonly ulong _ring;
    private readonly object _lock = new();
    private readonly byte[] _scratch = new byte[XenConsoleInterface.OutSize];
    private readonly ConsoleInputQueue _input;

    private bool _detached;

    public ConsoleOutputBuffer Output { get; } = new();

    /// <summary>Notifies the guest on its console event channel (after out_cons or in_prod moved), as xenconsoled does.</summary>
    public Action? NotifyGuest { get; set; }

    /// <summary>
    /// Stops touching guest memory for good (called before the domain's memory is released);
    /// later Drain and WriteInput calls do nothing, and input still waiting is dropped.
    /// </summary>
    public void Detach()
    {
        lock (_lock)
        {
            _detached = true;
            _input.Clear();
        }
    }

    /// <summary>Bytes the guest produced in total.</summary>
    public long BytesOut { get; private set; }

    /// <summary>Input bytes placed in the <c>in</c> ring in total.</summary>
    public long BytesIn { get; private set; }

    /// <summary>Input bytes waiting for room in the <c>in</c> ring (at most <see cref="InputQueueCapacity"/>).</summary>
    public int PendingInput
    {
        get { lock (_lock) return _input.Count; }
    }

    /// <summary>How much input may wait for the guest before more is refused.</summary>
    public int InputQueueCapacity => _input.Capacity;

    public PvConsoleBackend(GuestMemory memory, ulong ringAddress, int inputQueueCapacity = ConsoleInputQueue.DefaultCapacity)
    {
        if (!memory.Contains(ringAddress, 4096))
            throw new ArgumentOutOfRangeException(nameof(ringAddress), "console ring page is not guest memory");
        _memory = memory;
        _ring = ringAddress;
        _input = new ConsoleInputQueue(inputQueueCapacity);
    }

    /// <summary>
    /// Copies whatever the guest produced to <see cref="Output"/> and moves waiting input into
    /// the <c>in</c> ring as far as it has room (event-channel kick, timer, shutdown).
    /// </summary>
    public void Drain()
    {
        bool moved;
        lock (_lock)
        {
            if (_detached || !_memory.TryGetSpan(_ring, 4096, out var page)) return;
            moved = DrainOutput(page);
            moved |= FlushInput(page) > 0;
        }
        if (moved) NotifyGuest?.Invoke();
    }

    private bool DrainOutput(Span<byte> page)
    {
        uint cons = Volatile.Read(ref Idx(page, XenConsoleInterface.OutConsOffset));
        uint prod = Volatile.Read(ref Idx(page, XenConsoleInterface.OutProdOffset));
        uint available = prod - cons;
        if (available == 0) return false;
        if (available > XenConsoleInterface.OutSize)
        {
            Volatile.Write(ref Idx(page, XenConsoleInterface.OutConsOffset), prod);
            return false;
        }
        var ring = page.Slice(XenConsoleInterface.OutOffset, XenConsoleInterface.OutSize);
        int n = (int)available;
        for (int i = 0; i < n; i++)
            _scratch[i] = ring[(int)((cons + (uint)i) & (XenConsoleInterface.OutSize - 1))];
        Volatile.Write(ref Idx(page, XenConsoleInterface.OutConsOffset), prod);
        BytesOut += n;
        Output.Write(_scratch.AsSpan(0, n));
        return true;
    }

    /// <summary>
    /// Keyboard input for the guest: after any input already waiting, as much as fits goes
    /// into the <c>in</c> ring now (the guest is notified) and the rest waits, in order, until
    /// the guest makes room. Returns how many bytes were taken; the others
    /// (<c>data.Length</c> minus the result) did not fit in the bounded queue and are dropped
    /// — the caller reports them. After <see cref="Detach"/> nothing is taken.
    /// </summary>
    public int WriteInput(ReadOnlySpan<byte> data)
    {
        int accepted = 0, written = 0;
        lock (_lock)
        {
            if (_detached) return 0;
            if (_memory.TryGetSpan(_ring, 4096, out var page))
            {
                written = FlushInput(page);
                if (_input.Count == 0)
                {
                    int direct = WriteRing(page, data);
                    written += direct;
                    accepted = direct;
                    data = data[direct..];
                }
            }
            accepted += _input.Enqueue(data);
        }
        if (written > 0) NotifyGuest?.Invoke();
        return accepted;
    }

    /// <summary>Moves waiting input into the ring while it has room; returns the bytes moved.</summary>
    private int FlushInput(Span<byte> page)
    {
        int moved = 0;
        while (_input.Count > 0)
        {
            int n = WriteRing(page, _input.Peek());
            if (n == 0) break;
            _input.Consume(n);
            moved += n;
        }
        return moved;
    }

    /// <summary>Produces into <c>in</c> at in_prod as far as in_cons allows; returns the bytes written.</summary>
    private int WriteRing(Span<byte> page, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return 0;
        uint cons = Volatile.Read(ref Idx(page, XenConsoleInterface.InConsOffset));
        uint prod = Volatile.Read(ref Idx(page, XenConsoleInterface.InProdOffset));
        uint used = prod - cons;
        if (used > XenConsoleInterface.InSize) return 0;
        int room = XenConsoleInterface.InSize - (int)used;
        int n = Math.Min(room, data.Length);
        if (n == 0) return 0;
        var ring = page.Slice(XenConsoleInterface.InOffset, XenConsoleInterface.InSize);
        for (int i = 0; i < n; i++)
            ring[(int)((prod + (uint)i) & (XenConsoleInterface.InSize - 1))] = data[i];
        Volatile.Write(ref Idx(page, XenConsoleInterface.InProdOffset), prod + (uint)n);
        BytesIn += n;
        return n;
    }

    private static ref uint Idx(Span<byte> page, int offset) =>
        ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(page.Slice(offset, 4))[0];
}
