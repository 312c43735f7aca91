using XenSharp.Abi.Arm;
namespace XenSharp.Devices.Arm;

/// <summary>
/// The SBSA generic UART / Arm PL011 (ARM DDI 0183) as Xen's vpl011 offers it to guests
/// (GUEST_PL011_BASE, SPI GUEST_VPL011_SPI): UARTDR, UARTRSR/ECR, UARTFR, UARTIMSC, UARTRIS,
/// UARTMIS, UARTICR, the PL011 identification registers at 0xFE0-0xFFC, and UARTILPR, IBRD, FBRD,
/// LCR_H, CR, IFLS and DMACR accepted and read back (a virtual line has no baud rate).
///
/// Transmission is instantaneous: a byte written to UARTDR goes to the sink at once, so the
/// transmit FIFO always reads empty (TXFE set, TXFF and BUSY clear) and the transmit interrupt
/// (TXRIS) is raised after every write, cleared by UARTICR. Received bytes wait in a bounded queue
/// (<see cref="ReceiveCapacity"/>, 32 like the PL011 FIFO by default); RXRIS follows the FIFO level
/// against the UARTIFLS trigger and RTRIS (receive timeout) is raised whenever data is waiting
/// (as if the timeout had elapsed), until UARTICR clears it or the FIFO drains. The interrupt
/// output (UARTINTR = RIS &amp; IMSC) drives its line as a level.
/// </summary>
public sealed class Pl011Uart : IArmMmioDevice
{
    public const int DefaultReceiveCapacity = 32;

    // Interrupt bits (UARTRIS/MIS/IMSC/ICR).
    public const uint RxInterrupt = 1 << 4, TxInterrupt = 1 << 5, RxTimeoutInterrupt = 1 << 6, OverrunInterrupt = 1 << 10;
    // Flag bits (UARTFR).
    public const uint FlagBusy = 1 << 3, FlagRxEmpty = 1 << 4, FlagTxFull = 1 << 5, FlagRxFull = 1 << 6, FlagTxEmpty = 1 << 7;

    private static readonly byte[] Ids = [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];  // PeriphID0-3, PCellID0-3

    private readonly object _lock = new();
    private readonly Action<byte> _transmit;
    private readonly IInterruptLine _line;
    private readonly Queue<byte> _rx = new();
    private uint _imsc, _rawTx, _rawRt, _rawOverrun, _rsr;
    private uint _ilpr, _ibrd, _fbrd, _lcrh, _cr = 0x300, _ifls = 0x12, _dmacr;
    private bool _lineLevel;

    public ulong BaseAddress { get; }
    public ulong Size => ArmGuestLayout.Pl011Size;
    public int ReceiveCapacity { get; }

    /// <param name="transmit">Receives every byte the guest transmits (e.g. the console log).</param>
    /// <param name="interrupt">The UART's interrupt line (an SPI of the GIC, 32 on Xen/ARM).</param>
    public Pl011Uart(Action<byte> transmit, IInterruptLine interrupt, ulong baseAddress = ArmGuestLayout.Pl011Base,
        int receiveCapacity = DefaultReceiveCapacity)
    {
        ArgumentNullException.ThrowIfNull(transmit);
        ArgumentOutOfRangeException.ThrowIfLessThan(receiveCapacity, 1);
        _transmit = transmit;
        _line = interrupt;
        BaseAddress = baseAddress;
        ReceiveCapacity = receiveCapacity;
        lock (_lock) UpdateLine();
    }

    /// <summary>Bytes waiting to be read by the guest.</summary>
    public int ReceiveCount { get { lock (_lock) return _rx.Count; } }

    /// <summary>Queues input for the guest; returns how many bytes fit (the rest is the caller's to retry).</summary>
    public int Receive(ReadOnlySpan<byte> input)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < input.Length && _rx.Count < ReceiveCapacity) _rx.Enqueue(input[n++]);
            if (n > 0) _rawRt = RxTimeoutInterrupt;
            UpdateLine();
            return n;
        }
    }

    private int RxTriggerLevel => ((_ifls >> 3) & 7) switch
    {
        0 => ReceiveCapacity / 8, 1 => ReceiveCapacity / 4, 2 => ReceiveCapacity / 2, 3 => ReceiveCapacity * 3 / 4, _ => ReceiveCapacity * 7 / 8,
    };

    private uint RawStatus
    {
        get
        {
            uint ris = _rawTx | _rawOverrun;
            if (_rx.Count > 0 && _rx.Count >= Math.Max(1, RxTriggerLevel)) ris |= RxInterrupt;
            if (_rx.Count > 0) ris |= _rawRt;
            return ris;
        }
    }

    private uint Flags =>
        FlagTxEmpty | (_rx.Count == 0 ? FlagRxEmpty : 0) | (_rx.Count >= ReceiveCapacity ? FlagRxFull : 0);

    private void UpdateLine()
    {
        bool level = (RawStatus & _imsc) != 0;
        if (level == _lineLevel) return;
        _lineLevel = level;
        _line.SetLevel(level);
    }

    public ulong Read(ulong offset, int size)
    {
        if (size is not (1 or 2 or 4) || (offset & 3) != 0 || offset >= Size) return 0;
        lock (_lock)
        {
            uint v = offset switch
            {
                0x000 => ReadData(),
                0x004 => _rsr,
                0x018 => Flags,
                0x020 => _ilpr,
                0x024 => _ibrd,
                0x028 => _fbrd,
                0x02C => _lcrh,
                0x030 => _cr,
                0x034 => _ifls,
                0x038 => _imsc,
                0x03C => RawStatus,
                0x040 => RawStatus & _imsc,
                0x048 => _dmacr,
                >= 0xFE0 and <= 0xFFC => Ids[(offset - 0xFE0) / 4],
                _ => 0,
            };
            UpdateLine();
            return v;
        }
    }

    private uint ReadData()
    {
        if (!_rx.TryDequeue(out byte b)) return 0;
        if (_rx.Count == 0) _rawRt = 0;
        return b;
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size is not (1 or 2 or 4) || (offset & 3) != 0 || offset >= Size) return;
        uint v = (uint)value;
        lock (_lock)
        {
            switch (offset)
            {
                case 0x000:
                    _transmit((byte)v);
                    _rawTx = TxInterrupt;          // the FIFO drained at once: below any trigger level
                    break;
                case 0x004: _rsr = 0; _rawOverrun = 0; break;            // UARTECR: clear errors
                case 0x020: _ilpr = v & 0xFF; break;
                case 0x024: _ibrd = v & 0xFFFF; break;
                case 0x028: _fbrd = v & 0x3F; break;
                case 0x02C: _lcrh = v & 0xFF; break;
                case 0x030: _cr = v & 0xFF87; break;
                case 0x034: _ifls = v & 0x3F; break;
                case 0x038: _imsc = v & 0x7FF; break;
                case 0x044:                                               // UARTICR
                    if ((v & TxInterrupt) != 0) _rawTx = 0;
                    if ((v & RxTimeoutInterrupt) != 0) _rawRt = 0;
                    if ((v & OverrunInterrupt) != 0) _rawOverrun = 0;
                    break;
                case 0x048: _dmacr = v & 7; break;
            }
            UpdateLine();
        }
    }
}
