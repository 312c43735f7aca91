namespace XenSharp.Devices.Console;

/// <summary>
/// Keyboard input waiting for room in a guest's console <c>in</c> ring: a FIFO of bytes with a
/// fixed bound. What is accepted keeps its order and is never dropped; bytes beyond the bound
/// are refused (the caller reports them), so the oldest input is the input that is kept.
/// Not thread-safe: <see cref="PvConsoleBackend"/> uses it under its lock.
/// </summary>
public sealed class ConsoleInputQueue(int capacity = ConsoleInputQueue.DefaultCapacity)
{
    /// <summary>The bound on input waiting for the guest, per domain: 64 KiB.</summary>
    public const int DefaultCapacity = 64 * 1024;

    private readonly byte[] _buffer = new byte[capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity))];
    private int _head;

    public int Capacity => _buffer.Length;

    /// <summary>Bytes waiting.</summary>
    public int Count { get; private set; }

    /// <summary>Appends as much of <paramref name="data"/> as fits; returns how many bytes were taken (the rest is refused).</summary>
    public int Enqueue(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, _buffer.Length - Count);
        int tail = (_head + Count) % _buffer.Length;
        int first = Math.Min(n, _buffer.Length - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..n].CopyTo(_buffer);
        Count += n;
        return n;
    }

    /// <summary>The oldest waiting bytes in one contiguous piece (possibly fewer than <see cref="Count"/> when they wrap).</summary>
    public ReadOnlySpan<byte> Peek() => _buffer.AsSpan(_head, Math.Min(Count, _buffer.Length - _head));

    /// <summary>Removes the <paramref name="n"/> oldest bytes (after they went into the ring).</summary>
    public void Consume(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, Count);
        _head = (_head + n) % _buffer.Length;
        Count -= n;
        if (Count == 0) _head = 0;
    }

    /// <summary>Forgets everything waiting (the console is gone).</summary>
    public void Clear()
    {
        _head = 0;
        Count = 0;
    }
}
