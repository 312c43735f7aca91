using XenSharp.Toolstack.Daemon;

namespace XenSharp.Tests.Toolstack;

/// <summary>`xl console`'s Ctrl-] (0x1D): detaches, is not sent, whatever pieces stdin is read in.</summary>
public class ConsoleEscapeTests
{
    private static (string Forwarded, bool Detached) Feed(params byte[][] reads)
    {
        var escape = new ConsoleEscape();
        var forwarded = new List<byte>();
        foreach (var read in reads)
            forwarded.AddRange(read[..escape.Forwardable(read)]);
        return (System.Text.Encoding.ASCII.GetString(forwarded.ToArray()), escape.Detached);
    }

    [Fact]
    public void Input_without_the_escape_is_forwarded_whole()
    {
        Assert.Equal(("ls -l\r\u0003\u001b[A", false), Feed("ls -l\r\u0003\u001b[A"u8.ToArray()));
    }

    [Fact]
    public void The_escape_detaches_and_neither_it_nor_what_follows_is_sent()
    {
        Assert.Equal(("abc", true), Feed("abc\u001ddef"u8.ToArray()));
    }

    [Fact]
    public void Split_reads_forward_everything_before_the_escape_and_nothing_after()
    {
        Assert.Equal(("hello\nqu", true), Feed("hel"u8.ToArray(), "lo\nqu"u8.ToArray(), [0x1D], "it\n"u8.ToArray()));
        Assert.Equal(("xy", true), Feed("x"u8.ToArray(), "y\u001d"u8.ToArray(), "z"u8.ToArray()));
        Assert.Equal(("", true), Feed([0x1D, (byte)'a'], "b"u8.ToArray()));
    }

    [Fact]
    public void Other_control_bytes_and_empty_reads_are_not_the_escape()
    {
        var all = Enumerable.Range(0, 256).Where(b => b != 0x1D).Select(b => (byte)b).ToArray();
        var escape = new ConsoleEscape();
        Assert.Equal(0, escape.Forwardable([]));
        Assert.Equal(all.Length, escape.Forwardable(all));
        Assert.False(escape.Detached);
        Assert.Equal(0x1D, ConsoleEscape.Character);
    }
}
