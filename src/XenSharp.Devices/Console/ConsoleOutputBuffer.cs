namespace XenSharp.Devices.Console;

/// <summary>
/// What a domain's console printed, for whoever attaches: like xenconsoled, output produced
/// while nobody is attached is kept (bounded; the oldest bytes go first) and handed to the
/// next client when it attaches; attached clients get live output as it arrives, each all of
/// it. The kept output is bounded by <see cref="DefaultCapacity"/> (64 KiB, the newest bytes).
/// </summary>
public sealed class ConsoleOutputBuffer(int capacity = ConsoleOutputBuffer.DefaultCapacity)
{
    /// <summary>How much output is kept per domain while nobody is attached: the newest 64 KiB.</summary>
    public const int DefaultCapacity = 64 * 1024;

    private readonly object _lock = new();
    private readonly List<Action<ReadOnlyMemory<byte>>> _clients = new();
    private byte[] _pending = new byte[capacity];
    private int _pendingLength;
    private bool _closed;
    private readonly List<Action> _closeHandlers = new();

    /// <summary>Appends console output.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        Action<ReadOnlyMemory<byte>>[] clients;
        lock (_lock)
        {
            if (_clients.Count == 0)
            {
                Keep(data);
                return;
            }
            clients = _clients.ToArray();
        }
        var copy = data.ToArray();
        foreach (var c in clients) c(copy);
    }

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (data.Length >= _pending.Length)
        {
            data[^_pending.Length..].CopyTo(_pending);
            _pendingLength = _pending.Length;
            return;
        }
        int overflow = _pendingLength + data.Length - _pending.Length;
        if (overflow > 0)
        {
            Buffer.BlockCopy(_pending, overflow, _pending, 0, _pendingLength - overflow);
            _pendingLength -= overflow;
        }
        data.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += data.Length;
    }

    /// <summary>
    /// Attaches a client: it first receives the output kept since the last client left, then
    /// live output. <paramref name="onClosed"/> runs when the console closes (domain gone).
    /// Dispose the result to detach.
    /// </summary>
    public IDisposable Attach(Action<ReadOnlyMemory<byte>> onData, Action onClosed)
    {
        lock (_lock)
        {
            if (_pendingLength > 0)
            {
                onData(_pending.AsSpan(0, _pendingLength).ToArray());
                _pendingLength = 0;
            }
            if (_closed)
            {
                onClosed();
                return new Detacher(() => { });
            }
            _clients.Add(onData);
            _closeHandlers.Add(onClosed);
            return new Detacher(() =>
            {
                lock (_lock)
                {
                    _clients.Remove(onData);
                    _closeHandlers.Remove(onClosed);
                }
            });
        }
    }

    /// <summary>The console is gone: attached clients are told, later ones get what was kept and then the close.</summary>
    public void Close()
    {
        Action[] handlers;
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            handlers = _closeHandlers.ToArray();
            _clients.Clear();
            _closeHandlers.Clear();
        }
        foreach (var h in handlers) h();
    }

    private sealed class Detacher(Action detach) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) detach();
        }
    }
}
