using System.Text;
using XenSharp.Devices.Console;

namespace XenSharp.Tests.Devices;

/// <summary>What `xl console` shows: output kept while nobody watches, then live output.</summary>
public class ConsoleOutputBufferTests
{
    private sealed class Client
    {
        public readonly List<byte> Received = new();
        public int Closed;
        public string Text => Encoding.ASCII.GetString(Received.ToArray());
        public IDisposable AttachTo(ConsoleOutputBuffer b) => b.Attach(d => Received.AddRange(d.ToArray()), () => Closed++);
    }

    private static void Write(ConsoleOutputBuffer b, string s) => b.Write(Encoding.ASCII.GetBytes(s));

    [Fact]
    public void Output_produced_before_attach_is_replayed_then_live_output_follows()
    {
        var b = new ConsoleOutputBuffer();
        Write(b, "early boot\n");
        Write(b, "more\n");
        var c = new Client();
        using var _ = c.AttachTo(b);
        Assert.Equal("early boot\nmore\n", c.Text);
        Write(b, "login: ");
        Assert.Equal("early boot\nmore\nlogin: ", c.Text);
    }

    [Fact]
    public void Replayed_output_is_handed_out_once()
    {
        var b = new ConsoleOutputBuffer();
        Write(b, "once");
        var first = new Client();
        first.AttachTo(b).Dispose();
        var second = new Client();
        using var _ = second.AttachTo(b);
        Assert.Equal("once", first.Text);
        Assert.Equal("", second.Text);
    }

    [Fact]
    public void Kept_output_is_bounded_and_the_oldest_bytes_go_first()
    {
        var b = new ConsoleOutputBuffer(capacity: 8);
        Write(b, "abcde");
        Write(b, "fghij");
        var c = new Client();
        using var _ = c.AttachTo(b);
        Assert.Equal("cdefghij", c.Text);
    }

    [Fact]
    public void A_single_write_larger_than_the_capacity_keeps_its_tail()
    {
        var b = new ConsoleOutputBuffer(capacity: 8);
        Write(b, "xy");
        Write(b, "0123456789AB");
        var c = new Client();
        using var _ = c.AttachTo(b);
        Assert.Equal("456789AB", c.Text);
    }

    [Fact]
    public void After_detach_output_is_kept_for_the_next_client()
    {
        var b = new ConsoleOutputBuffer();
        var first = new Client();
        var attachment = first.AttachTo(b);
        Write(b, "seen ");
        attachment.Dispose();
        attachment.Dispose(); // idempotent
        Write(b, "missed");
        Assert.Equal("seen ", first.Text);

        var second = new Client();
        using var _ = second.AttachTo(b);
        Assert.Equal("missed", second.Text);
    }

    [Fact]
    public void Every_attached_client_gets_live_output()
    {
        var b = new ConsoleOutputBuffer();
        var c1 = new Client();
        var c2 = new Client();
        using var a1 = c1.AttachTo(b);
        using var a2 = c2.AttachTo(b);
        Write(b, "both");
        Assert.Equal("both", c1.Text);
        Assert.Equal("both", c2.Text);
    }

    [Fact]
    public void Close_tells_attached_clients_and_later_ones_get_the_kept_output_then_the_close()
    {
        var b = new ConsoleOutputBuffer();
        var c = new Client();
        using var a = c.AttachTo(b);
        b.Close();
        Assert.Equal(1, c.Closed);

        Write(b, "final words");
        var late = new Client();
        using var _ = late.AttachTo(b);
        Assert.Equal("final words", late.Text);
        Assert.Equal(1, late.Closed);
        b.Close();
        Assert.Equal(1, c.Closed);
    }
}
