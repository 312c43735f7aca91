using XenSharp.Abi.Arm;
using XenSharp.Devices.Arm;

namespace XenSharp.Tests.Devices.Arm;

/// <summary>The SBSA/PL011 UART: flags, transmit, receive, interrupts, identification.</summary>
public class Pl011UartTests
{
    private readonly List<byte> _sent = [];

    private sealed class RecordingLine : IInterruptLine
    {
        public bool Level;
        public void SetLevel(bool asserted) => Level = asserted;
    }

    [Fact]
    public void Identification_registers_are_the_pl011s()
    {
        var uart = new Pl011Uart(_sent.Add, NullInterruptLine.Instance);
        uint[] ids = Enumerable.Range(0, 8).Select(i => (uint)uart.Read(0xFE0 + (ulong)i * 4, 4)).ToArray();
        Assert.Equal(new uint[] { 0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1 }, ids);
        Assert.Equal(ArmGuestLayout.Pl011Base, uart.BaseAddress);
    }

    [Fact]
    public void Transmitted_bytes_go_to_the_sink_and_the_fifo_reads_empty()
    {
        var line = new RecordingLine();
        var uart = new Pl011Uart(_sent.Add, line);
        uint fr = (uint)uart.Read(0x18, 4);
        Assert.Equal(Pl011Uart.FlagTxEmpty | Pl011Uart.FlagRxEmpty, fr);
        foreach (byte b in "hi\n"u8) uart.Write(0x0, 4, b);
        Assert.Equal("hi\n"u8.ToArray(), _sent.ToArray());
        fr = (uint)uart.Read(0x18, 4);
        Assert.Equal(0u, fr & (Pl011Uart.FlagTxFull | Pl011Uart.FlagBusy));
        Assert.Equal(Pl011Uart.TxInterrupt, uart.Read(0x3C, 4) & Pl011Uart.TxInterrupt);
        Assert.False(line.Level);                               // masked
        uart.Write(0x38, 4, Pl011Uart.TxInterrupt);
        Assert.True(line.Level);
        Assert.Equal(Pl011Uart.TxInterrupt, uart.Read(0x40, 4));
        uart.Write(0x44, 4, Pl011Uart.TxInterrupt);             // UARTICR
        Assert.False(line.Level);
        Assert.Equal(0UL, uart.Read(0x3C, 4));
    }

    [Fact]
    public void Received_bytes_come_out_in_order_with_flags_and_interrupts()
    {
        var line = new RecordingLine();
        var uart = new Pl011Uart(_sent.Add, line, receiveCapacity: 8);
        uart.Write(0x38, 4, Pl011Uart.RxInterrupt | Pl011Uart.RxTimeoutInterrupt);
        Assert.False(line.Level);
        Assert.Equal(3, uart.Receive("abc"u8));
        Assert.True(line.Level);
        Assert.Equal(0u, (uint)uart.Read(0x18, 4) & Pl011Uart.FlagRxEmpty);
        Assert.NotEqual(0UL, uart.Read(0x40, 4) & Pl011Uart.RxTimeoutInterrupt);
        Assert.Equal((ulong)'a', uart.Read(0x0, 4));
        Assert.Equal((ulong)'b', uart.Read(0x0, 4));
        Assert.Equal((ulong)'c', uart.Read(0x0, 4));
        Assert.NotEqual(0u, (uint)uart.Read(0x18, 4) & Pl011Uart.FlagRxEmpty);
        Assert.False(line.Level);
        Assert.Equal(0UL, uart.Read(0x0, 4));                   // empty FIFO reads zero

        Assert.Equal(8, uart.Receive("0123456789"u8));          // bounded
        Assert.NotEqual(0u, (uint)uart.Read(0x18, 4) & Pl011Uart.FlagRxFull);
        Assert.NotEqual(0UL, uart.Read(0x3C, 4) & Pl011Uart.RxInterrupt);   // at/above the 1/2 trigger
        uart.Write(0x44, 4, Pl011Uart.RxTimeoutInterrupt);
        Assert.True(line.Level);                                // the level interrupt remains
        for (int i = 0; i < 5; i++) uart.Read(0x0, 4);
        Assert.Equal(0UL, uart.Read(0x3C, 4) & Pl011Uart.RxInterrupt);     // below the trigger now
        Assert.False(line.Level);                               // and the timeout was cleared
        Assert.Equal(3, uart.ReceiveCount);
    }

    [Fact]
    public void Configuration_registers_are_accepted()
    {
        var uart = new Pl011Uart(_sent.Add, NullInterruptLine.Instance);
        uart.Write(0x24, 4, 13);
        uart.Write(0x28, 4, 1);
        uart.Write(0x2C, 4, 0x70);
        uart.Write(0x30, 4, 0x301);
        Assert.Equal(13UL, uart.Read(0x24, 4));
        Assert.Equal(1UL, uart.Read(0x28, 4));
        Assert.Equal(0x70UL, uart.Read(0x2C, 4));
        Assert.Equal(0x301UL, uart.Read(0x30, 4));
        uart.Write(0x4, 4, 0);                                  // UARTECR
        Assert.Equal(0UL, uart.Read(0x4, 4));
        Assert.Empty(_sent);
        uart.Write(0x1, 1, 0xFF);                               // unaligned: ignored
        uart.Write(0x2000, 4, 0xFF);                            // beyond the frame: ignored
        Assert.Empty(_sent);
    }

    [Fact]
    public void Interrupt_reaches_the_gic_spi()
    {
        var gic = GicV3Tests.BootedGic(vcpus: 1, spis: 32);
        gic.Distributor.Write(0x104, 4, 1);                     // enable SPI 32
        var uart = new Pl011Uart(_sent.Add, gic.SpiLine(ArmGuestLayout.Vpl011Spi));
        uart.Write(0x38, 4, Pl011Uart.RxInterrupt | Pl011Uart.RxTimeoutInterrupt);
        uart.Receive("x"u8);
        Assert.Equal(32u, GicV3Tests.Iar(gic, 0));
        Assert.Equal((ulong)'x', uart.Read(0x0, 4));
        GicV3Tests.Eoi(gic, 0, 32);
        Assert.False(gic.IsIrqAsserted(0));
    }
}
