using XenSharp.Devices.Arm;

namespace XenSharp.Devices.Console;

/// <summary>
/// The console of an ARM guest's emulated SBSA UART (xl.cfg <c>vuart = "sbsa_uart"</c>): every
/// byte the guest transmits goes to <see cref="Output"/>; keyboard input waits in a bounded
/// queue (<see cref="ConsoleInputQueue"/>) and moves into the UART's receive FIFO as the guest
/// reads it — at once when it fits, and otherwise on <see cref="Drain"/> (the toolstack's console
/// timer) — so input is never lost to a full FIFO and never grows without bound.
/// </summary>
public sealed class VuartConsoleBackend : IConsoleBackend
{
    private readonly object _lock = new();
    private readonly ConsoleInputQueue _input;
    private Pl011Uart? _uart;
    private bool _detached;

    public ConsoleOutputBuffer Output { get; } = new();

    public VuartConsoleBackend(int inputQueueCapacity = ConsoleInputQueue.DefaultCapacity)
    {
        _input = new ConsoleInputQueue(inputQueueCapacity);
    }

    /// <summary>Bytes the guest transmitted in total.</summary>
    public long BytesOut { get; private set; }

    /// <summary>The UART's transmit callback: one byte from the guest.</summary>
    public void Transmit(byte b)
    {
        BytesOut++;
        Output.Write([b]);
    }

    /// <summary>Connects the UART whose receive FIFO this console feeds (once).</summary>
    public void Connect(Pl011Uart uart)
    {
        lock (_lock)
        {
            if (_uart is not null) throw new InvalidOperationException("the console already has its UART");
            _uart = uart;
        }
    }

    public int PendingInput
    {
        get { lock (_lock) return _input.Count; }
    }

    public int InputQueueCapacity => _input.Capacity;

    public int WriteInput(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_detached) return 0;
            FlushInput();
            int direct = _input.Count == 0 && _uart is not null ? _uart.Receive(data) : 0;
            return direct + _input.Enqueue(data[direct..]);
        }
    }

    /// <summary>Moves waiting input into the UART's FIFO as far as it has room.</summary>
    public void Drain()
    {
        lock (_lock)
            if (!_detached) FlushInput();
    }

    /// <summary>Stops feeding the UART (the domain is going away); waiting input is dropped.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            _detached = true;
            _input.Clear();
        }
    }

    private void FlushInput()
    {
        if (_uart is null) return;
        while (_input.Count > 0)
        {
            int n = _uart.Receive(_input.Peek());
            if (n == 0) return;
            _input.Consume(n);
        }
    }
}
