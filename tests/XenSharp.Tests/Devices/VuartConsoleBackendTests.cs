using System.Text;
using XenSharp.Devices.Arm;
using XenSharp.Devices.Console;

namespace XenSharp.Tests.Devices;

/// <summary>The vUART console: transmitted bytes reach clients; input waits, bounded, for room in the UART's FIFO.</summary>
public class VuartConsoleBackendTests
{
    private static (VuartConsoleBackend Console, Pl011Uart Uart) Make(int queue = 64, int fifo = 4)
    {
        var console = new VuartConsoleBackend(queue);
        var uart = new Pl011Uart(console.Transmit, NullInterruptLine.Instance, receiveCapacity: fifo);
        console.Connect(uart);
        return (console, uart);
    }

    private static string ReadFifo(Pl011Uart uart)
    {
        var sb = new StringBuilder();
        while ((uart.Read(0x18, 4) & Pl011Uart.FlagRxEmpty) == 0) sb.Append((char)(uart.Read(0, 4) & 0xFF));
        return sb.ToString();
    }

    [Fact]
    public void What_the_guest_transmits_is_kept_for_the_next_client()
    {
        var (console, uart) = Make();
        foreach (byte b in "boot\n"u8) uart.Write(0, 4, b);
        var got = new List<byte>();
        using var _ = console.Output.Attach(d => got.AddRange(d.ToArray()), () => { });
        Assert.Equal("boot\n", Encoding.ASCII.GetString(got.ToArray()));
        Assert.Equal(5, console.BytesOut);
    }

    [Fact]
    public void Input_beyond_the_fifo_waits_and_moves_in_order_as_the_guest_reads()
    {
        var (console, uart) = Make(fifo: 4);
        Assert.Equal(10, console.WriteInput("abcdefghij"u8));
        Assert.Equal(6, console.PendingInput);
        Assert.Equal("abcd", ReadFifo(uart));
        console.Drain();
        Assert.Equal("efgh", ReadFifo(uart));
        console.Drain();
        Assert.Equal("ij", ReadFifo(uart));
        Assert.Equal(0, console.PendingInput);
    }

    [Fact]
    public void Input_past_the_bound_is_refused_and_nothing_is_taken_after_detach()
    {
        var (console, _) = Make(queue: 8, fifo: 2);
        Assert.Equal(10, console.WriteInput(new byte[20]));      // 2 into the FIFO, 8 queued
        Assert.Equal(8, console.PendingInput);
        Assert.Equal(0, console.WriteInput("x"u8));
        console.Detach();
        Assert.Equal(0, console.PendingInput);
        Assert.Equal(0, console.WriteInput("y"u8));
    }
}
