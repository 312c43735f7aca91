using System.Runtime.InteropServices;
using XenSharp.Toolstack.Daemon;
using XenSharp.Xl.Terminal;

namespace XenSharp.Xl.Commands;

/// <summary>
/// The interactive side of `xl console` and `xl create -c`: stdin goes to the guest. On a
/// terminal, stdin is put in raw mode (every key, Ctrl-C included, goes to the guest) and
/// restored on every way out: detach, the domain's end, an exception, SIGINT/SIGTERM/SIGHUP/
/// SIGQUIT, process exit. Ctrl-] detaches and is not sent. From a pipe or file the bytes go as
/// they are; the end of stdin stops the input but keeps the console attached (until the domain
/// ends, Ctrl-] or a signal), unless <c>--detach-on-eof</c> asked to detach there.
/// One session spans the domains a console follows (a restarted domain is re-attached).
/// </summary>
public sealed class ConsoleSession : IDisposable
{
    private const int StdinFd = 0;
    /// <summary>Input read while no console stream takes it (between a domain and its restart), at most this many bytes.</summary>
    private const int MaxHeldInput = 64 * 1024;

    private readonly object _lock = new();
    private readonly RawTerminal? _terminal;
    private readonly ConsoleEscape _escape = new();
    private readonly bool _detachOnEof;
    private readonly List<PosixSignalRegistration> _signals = new();
    private readonly List<byte> _held = new();
    private ControlClient? _target;
    private bool _targetTakesInput;
    private int _warnedNoInput;
    private int? _detachCode;

    private ConsoleSession(bool detachOnEof)
    {
        _detachOnEof = detachOnEof;
        _terminal = RawTerminal.TryEnter(StdinFd);
        if (_terminal is not null) AppDomain.CurrentDomain.ProcessExit += RestoreTerminal;
        foreach (var (signal, number) in new[] { (PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1), (PosixSignal.SIGQUIT, 3) })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = true;
                RestoreTerminal(null, EventArgs.Empty);
                Detach(128 + number);
            }));
        }
        new Thread(ReadStdin) { IsBackground = true, Name = "xl console stdin" }.Start();
    }

    /// <summary>Starts reading stdin (raw mode on a terminal). Dispose it to restore the terminal.</summary>
    public static ConsoleSession Start(bool detachOnEof = false) => new(detachOnEof);

    /// <summary>Whether stdin is a terminal in raw mode (output needs "\r\n" for a new line).</summary>
    public bool IsRaw => _terminal is not null;

    /// <summary>The exit code once the user detached (0 for Ctrl-] or the end of stdin with --detach-on-eof, 128+N for signal N), else null.</summary>
    public int? DetachCode
    {
        get { lock (_lock) return _detachCode; }
    }

    /// <summary>
    /// Input goes to <paramref name="client"/>'s console stream from now on (with what was read
    /// while no stream took it); <paramref name="takesInput"/> is the daemon's acknowledgement.
    /// After a detach the connection is shut at once.
    /// </summary>
    public void Connect(ControlClient client, bool takesInput)
    {
        lock (_lock)
        {
            _target = client;
            _targetTakesInput = takesInput;
            // What was typed before the stream existed goes first, even when the user already
            // detached (piped input "text, then Ctrl-]": the text still reaches the guest).
            if (_held.Count > 0) Send(client, takesInput, _held.ToArray());
            _held.Clear();
            if (_detachCode is not null) client.Shutdown();
        }
    }

    /// <summary>The stream ended (its domain is gone): input waits for the next one.</summary>
    public void Disconnect(ControlClient client)
    {
        lock (_lock)
        {
            if (_target == client) _target = null;
        }
    }

    /// <summary>Writes a message of xl's own to stderr, ending the line as the terminal mode needs.</summary>
    public void Notice(string line) => Console.Error.Write(line + (IsRaw ? "\r\n" : "\n"));

    private void ReadStdin()
    {
        var buffer = new byte[4096];
        while (true)
        {
            int n = RawTerminal.Read(StdinFd, buffer);
            if (n <= 0)
            {
                // End of stdin (or a read error): no more input. The console stays attached
                // unless asked otherwise.
                if (_detachOnEof) Detach(ExitCodes.Success);
                return;
            }
            var read = buffer.AsSpan(0, n);
            int forward = _escape.Forwardable(read);
            if (forward > 0)
            {
                ControlClient? target;
                bool takesInput;
                lock (_lock)
                {
                    target = _target;
                    takesInput = _targetTakesInput;
                    if (target is null) Hold(read[..forward]);
                }
                // Outside the lock: a write that waits for the daemon never delays a detach.
                if (target is not null) Send(target, takesInput, read[..forward]);
            }
            if (_escape.Detached)
            {
                Detach(ExitCodes.Success);
                return;
            }
        }
    }

    private void Hold(ReadOnlySpan<byte> data)
    {
        int room = MaxHeldInput - _held.Count;
        if (room > 0) _held.AddRange(data[..Math.Min(room, data.Length)].ToArray());
    }

    private void Send(ControlClient target, bool takesInput, ReadOnlySpan<byte> data)
    {
        if (!takesInput)
        {
            if (Interlocked.Exchange(ref _warnedNoInput, 1) == 0)
                Notice("xl: this XenSharp daemon does not take console input (restart it with `xl daemon-stop` to use a newer one)");
            return;
        }
        try
        {
            target.SendConsoleInput(data);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // The stream is ending (the domain is gone, or we detached): the receiving side reports it.
        }
    }

    /// <summary>Detaches: the console stream is shut, so the receiving loop returns <see cref="DetachCode"/>.</summary>
    private void Detach(int code)
    {
        ControlClient? target;
        lock (_lock)
        {
            _detachCode ??= code;
            target = _target;
        }
        target?.Shutdown();
    }

    private void RestoreTerminal(object? sender, EventArgs e) => _terminal?.Restore();

    public void Dispose()
    {
        foreach (var s in _signals) s.Dispose();
        _signals.Clear();
        _terminal?.Restore();
        if (_terminal is not null) AppDomain.CurrentDomain.ProcessExit -= RestoreTerminal;
    }
}
