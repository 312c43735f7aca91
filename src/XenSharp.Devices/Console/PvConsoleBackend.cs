using XenSharp.Abi.X86;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Devices.Console;

/// <summary>
/// The backend of a domain's PV console (struct xencons_interface, io/console.h): the guest
/// produces into the 2 KiB <c>out</c> ring and kicks the console event channel; the backend
/// copies out_cons..out_prod into <see cref="Output"/> and advances out_cons. Input goes the
/// other way through the 1 KiB <c>in</c> ring. Indices are free-running u32s; a producer index
/// more than a ring's size ahead of the consumer is a guest bug, and the backend skips to it
/// rather than read garbage. The ring is also drained on a timer and at shutdown, so output
/// from a guest that never notifies is not lost.
/// </summary>
public sealed class PvConsoleBackend
{
    private readonly GuestMemory _memory;
    private readonly ulong _ring;
    private readonly object _lock = new();
    private readonly byte[] _scratch = new byte[XenConsoleInterface.OutSize];

    private bool _detached;

    public ConsoleOutputBuffer Output { get; } = new();

    /// <summary>Notifies the guest on its console event channel (after out_cons or in_prod moved), as xenconsoled does.</summary>
    public Action? NotifyGuest { get; set; }

    /// <summary>
    /// Stops touching guest memory for good (called before the domain's memory is released);
    /// later Drain and WriteInput calls do nothing.
    /// </summary>
    public void Detach()
    {
        lock (_lock) _detached = true;
    }

    /// <summary>Bytes the guest produced in total.</summary>
    public long BytesOut { get; private set; }

    public PvConsoleBackend(GuestMemory memory, ulong ringAddress)
    {
        if (!memory.Contains(ringAddress, 4096))
            throw new ArgumentOutOfRangeException(nameof(ringAddress), "console ring page is not guest memory");
        _memory = memory;
        _ring = ringAddress;
    }

    /// <summary>Copies whatever the guest produced to <see cref="Output"/> (event-channel kick, timer, shutdown).</summary>
    public void Drain()
    {
        int n;
        lock (_lock)
        {
            if (_detached || !_memory.TryGetSpan(_ring, 4096, out var page)) return;
            uint cons = Volatile.Read(ref Idx(page, XenConsoleInterface.OutConsOffset));
            uint prod = Volatile.Read(ref Idx(page, XenConsoleInterface.OutProdOffset));
            uint available = prod - cons;
            if (available == 0) return;
            if (available > XenConsoleInterface.OutSize)
            {
                Volatile.Write(ref Idx(page, XenConsoleInterface.OutConsOffset), prod);
                return;
            }
            var ring = page.Slice(XenConsoleInterface.OutOffset, XenConsoleInterface.OutSize);
            n = (int)available;
            for (int i = 0; i < n; i++)
                _scratch[i] = ring[(int)((cons + (uint)i) & (XenConsoleInterface.OutSize - 1))];
            Volatile.Write(ref Idx(page, XenConsoleInterface.OutConsOffset), prod);
            BytesOut += n;
            Output.Write(_scratch.AsSpan(0, n));
        }
        NotifyGuest?.Invoke();
    }

    /// <summary>Queues keyboard input for the guest; returns how many bytes fit in the ring.</summary>
    public int WriteInput(ReadOnlySpan<byte> data)
    {
        int written = WriteInputLocked(data);
        if (written > 0) NotifyGuest?.Invoke();
        return written;
    }

    private int WriteInputLocked(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_detached || !_memory.TryGetSpan(_ring, 4096, out var page)) return 0;
            uint cons = Volatile.Read(ref Idx(page, XenConsoleInterface.InConsOffset));
            uint prod = Volatile.Read(ref Idx(page, XenConsoleInterface.InProdOffset));
            uint used = prod - cons;
            if (used > XenConsoleInterface.InSize) return 0;
            int room = XenConsoleInterface.InSize - (int)used;
            int n = Math.Min(room, data.Length);
            var ring = page.Slice(XenConsoleInterface.InOffset, XenConsoleInterface.InSize);
            for (int i = 0; i < n; i++)
                ring[(int)((prod + (uint)i) & (XenConsoleInterface.InSize - 1))] = data[i];
            Volatile.Write(ref Idx(page, XenConsoleInterface.InProdOffset), prod + (uint)n);
            return n;
        }
    }

    private static ref uint Idx(Span<byte> page, int offset) =>
        ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(page.Slice(offset, 4))[0];
}
