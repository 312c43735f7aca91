using System.Text;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>console_io: guest debug output shown by `xl dmesg` as "(dN) …" lines.</summary>
public class ConsoleIoHypercallTests
{
    private const ulong Buf = TestDomain.Buffer;

    private static long Write(TestDomain t, string text, bool is64 = true)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        t.Poke(Buf, bytes);
        return t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, (ulong)bytes.Length, Buf, is64: is64);
    }

    private static string[] Lines(TestDomain t) => t.Hv.Log.Read().Split('\n');

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_write_appears_as_a_dN_line_in_the_log(bool is64)
    {
        using var t = new TestDomain();
        Assert.Equal(0, Write(t, "Linux version 6.12 booting\n", is64));
        Assert.Contains($"(d{t.Domain.Id}) Linux version 6.12 booting", Lines(t));
    }

    [Fact]
    public void A_line_written_in_pieces_appears_once_complete()
    {
        using var t = new TestDomain();
        Assert.Equal(0, Write(t, "abc"));
        Assert.DoesNotContain("abc", t.Hv.Log.Read());
        Assert.Equal(0, Write(t, "def\nsecond\n"));
        var lines = Lines(t);
        Assert.Contains($"(d{t.Domain.Id}) abcdef", lines);
        Assert.Contains($"(d{t.Domain.Id}) second", lines);
    }

    [Fact]
    public void Non_printable_bytes_are_shown_as_question_marks()
    {
        using var t = new TestDomain();
        Assert.Equal(0, Write(t, "a\u001b[2Jb\u0007c\u007f\u0080\u00ffd\ttab\r\n"));
        Assert.Contains($"(d{t.Domain.Id}) a?[2Jb?c???d\ttab", Lines(t));
        Assert.DoesNotContain("\u001b", t.Hv.Log.Read());
        Assert.DoesNotContain("\r", t.Hv.Log.Read());
    }

    [Fact]
    public void A_pending_partial_line_is_flushed_at_shutdown()
    {
        using var t = new TestDomain();
        Assert.Equal(0, Write(t, "last words"));
        t.Domain.Shutdown(ShutdownReason.Crash);
        Assert.Contains($"(d{t.Domain.Id}) last words", Lines(t));
    }

    [Fact]
    public void A_zero_length_write_succeeds_and_prints_nothing()
    {
        using var t = new TestDomain();
        string before = t.Hv.Log.Read();
        Assert.Equal(0, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 0, Buf));
        Assert.Equal(before, t.Hv.Log.Read());
    }

    [Theory]
    [InlineData(TestDomain.Unmapped)]
    [InlineData(TestDomain.RamSize - 4)] // 16 bytes, 12 of them past the end of RAM
    public void A_bad_pointer_gets_efault_and_nothing_is_printed(ulong gpa)
    {
        using var t = new TestDomain();
        t.Poke(TestDomain.RamSize - 4, "oops"u8);
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 16, gpa));
        t.Domain.ConsoleIo.Flush();
        Assert.DoesNotContain("oops", t.Hv.Log.Read());
    }

    [Fact]
    public void A_count_above_MaxCount_gets_einval_even_when_the_buffer_is_ram()
    {
        using var t = new TestDomain();
        Assert.True(ConsoleIoHypercall.MaxCount + 1 <= (int)TestDomain.RamSize);
        t.Fill(0, ConsoleIoHypercall.MaxCount + 1, (byte)'x');
        Assert.Equal(-XenErrno.EINVAL, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, (ulong)ConsoleIoHypercall.MaxCount + 1, 0));
        t.Domain.ConsoleIo.Flush();
        Assert.DoesNotContain("xxxx", t.Hv.Log.Read());
    }

    [Fact]
    public void A_count_of_exactly_MaxCount_is_accepted()
    {
        using var t = new TestDomain();
        t.Fill(0, ConsoleIoHypercall.MaxCount, (byte)'x');
        Assert.Equal(0, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, (ulong)ConsoleIoHypercall.MaxCount, 0));
        Assert.Contains("xxxx", t.Hv.Log.Read());
    }

    [Fact]
    public void Only_the_low_32_bits_of_count_are_used()
    {
        using var t = new TestDomain();
        Assert.Equal(0, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 0x1_0000_0000, Buf));
    }

    [Fact]
    public void Very_long_lines_are_split_rather_than_lost()
    {
        using var t = new TestDomain();
        Assert.Equal(0, Write(t, new string('y', 1500) + "\n"));
        var lines = Lines(t).Where(l => l.StartsWith($"(d{t.Domain.Id}) ")).ToArray();
        Assert.Equal(1500, lines.Sum(l => l.Length - $"(d{t.Domain.Id}) ".Length));
        Assert.True(lines.Length >= 2);
    }

    [Fact]
    public void Read_returns_no_input()
    {
        using var t = new TestDomain();
        Assert.Equal(0, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Read, 16, Buf));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Read, 16, TestDomain.Unmapped));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(99)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, t.Call(HypercallNumber.ConsoleIo, (ulong)cmd, 4, Buf));
    }
}
