using System.Runtime.InteropServices;

namespace XenSharp.Xl.Terminal;

/// <summary>
/// A terminal on a file descriptor put in raw mode (cfmakeraw: no echo, no line editing, no
/// signals from Ctrl-C/Ctrl-Z, no output processing), as xl's console client does, so that
/// every key goes to the guest as typed. <see cref="Restore"/> puts back the settings found at
/// <see cref="TryEnter"/>; it runs once whatever calls it first (dispose, a signal handler,
/// process exit).
/// </summary>
public sealed partial class RawTerminal : IDisposable
{
    // struct termios is 60 bytes with glibc and musl on x86-64 and arm64; cfmakeraw and
    // tcsetattr only touch fields inside it. The buffer is larger to be safe.
    private const int TermiosBufferSize = 256;
    private const int TCSANOW = 0;
    private const int EINTR = 4;

    private readonly int _fd;
    private readonly byte[] _saved;
    private int _restored;

    private RawTerminal(int fd, byte[] saved)
    {
        _fd = fd;
        _saved = saved;
    }

    /// <summary>Whether <paramref name="fd"/> is a terminal.</summary>
    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>Puts the terminal on <paramref name="fd"/> in raw mode; null when it is not a terminal (or refuses).</summary>
    public static unsafe RawTerminal? TryEnter(int fd)
    {
        if (!IsTerminal(fd)) return null;
        var saved = new byte[TermiosBufferSize];
        var raw = new byte[TermiosBufferSize];
        fixed (byte* s = saved)
        fixed (byte* r = raw)
        {
            if (tcgetattr(fd, s) != 0) return null;
            Buffer.MemoryCopy(s, r, TermiosBufferSize, TermiosBufferSize);
            cfmakeraw(r);
            if (tcsetattr(fd, TCSANOW, r) != 0) return null;
        }
        return new RawTerminal(fd, saved);
    }

    /// <summary>Puts the saved settings back (once; later calls do nothing).</summary>
    public unsafe void Restore()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0) return;
        fixed (byte* s = _saved)
        {
            while (tcsetattr(_fd, TCSANOW, s) != 0 && Marshal.GetLastPInvokeError() == EINTR) { }
        }
    }

    public void Dispose() => Restore();

    /// <summary>
    /// read(2) on <paramref name="fd"/>, retried on EINTR: the byte count, 0 at end of file,
    /// -1 on an error. Used for stdin instead of Console's stream, which edits lines on a terminal.
    /// </summary>
    public static unsafe int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* b = buffer)
        {
            while (true)
            {
                nint n = read(fd, b, buffer.Length);
                if (n >= 0) return (int)n;
                if (Marshal.GetLastPInvokeError() != EINTR) return -1;
            }
        }
    }

    /// <summary>
    /// write(2) of all of <paramref name="data"/> to <paramref name="fd"/>, retried on EINTR and
    /// short writes; false on an error (a closed pipe). Plain writes at the descriptor's own
    /// offset, so output shared with a shell or stderr in one file lands in order.
    /// </summary>
    public static unsafe bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* b = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = write(fd, b + done, data.Length - done);
                if (n > 0) done += (int)n;
                else if (n < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                else return false;
            }
        }
        return true;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcsetattr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc")]
    private static unsafe partial void cfmakeraw(byte* termios);

    [LibraryImport("libc")]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nint count);
}
