using System.Net.Sockets;
using System.Threading.Channels;
using XenSharp.Devices.Console;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// One client's view of a domain console: attached before the guest runs (for `xl create -c`)
/// or later (`xl console`, which first gets the output kept while nobody was attached), it
/// queues output and the end-of-domain notice so that nothing the guest printed is lost even
/// when it exits at once. While attached it also watches the client's side of the connection:
/// the client leaving detaches at once (later output is kept for the next client), and with
/// input on, <c>{"input": BASE64}</c> lines go to the guest's <c>in</c> ring.
/// </summary>
public sealed class ConsoleSubscription
{
    /// <summary>Output queued for a client that does not keep up, beyond which output is dropped (and logged): 1 MiB.</summary>
    public const int MaxQueuedBytes = 1 << 20;

    private readonly Channel<ReadOnlyMemory<byte>> _output = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly int _domid;
    private readonly IConsoleBackend _console;
    private readonly Func<DomainEnd?> _end;
    private readonly Action<string> _log;
    private IDisposable? _attachment;
    private long _queued;
    private long _droppedOutput;
    private bool _droppingInput;

    private ConsoleSubscription(int domid, IConsoleBackend console, Func<DomainEnd?> end, Action<string>? log)
    {
        _domid = domid;
        _console = console;
        _end = end;
        _log = log ?? (_ => { });
    }

    public static ConsoleSubscription Start(ManagedDomain domain, Action<string>? log = null) =>
        Start(domain.Id, domain.PrimaryConsole, () => domain.End, log);

    /// <summary>Attaches to <paramref name="console"/> now; <paramref name="end"/> tells how the domain ended once its console closed.</summary>
    public static ConsoleSubscription Start(int domid, IConsoleBackend console, Func<DomainEnd?> end, Action<string>? log = null)
    {
        var s = new ConsoleSubscription(domid, console, end, log);
        s._attachment = console.Output.Attach(s.OnOutput, () => s._output.Writer.TryComplete());
        return s;
    }

    private void OnOutput(ReadOnlyMemory<byte> data)
    {
        if (Interlocked.Add(ref _queued, data.Length) > MaxQueuedBytes)
        {
            Interlocked.Add(ref _queued, -data.Length);
            Interlocked.Add(ref _droppedOutput, data.Length);
            return;
        }
        if (!_output.Writer.TryWrite(data)) Interlocked.Add(ref _queued, -data.Length);
    }

    /// <summary>
    /// Serves the console on a connection: output lines until the console closes, then the end
    /// line; or until the client goes (a failed write; with <paramref name="input"/> also the
    /// end of what it sends: <paramref name="readLine"/> returns null or fails), which detaches.
    /// With <paramref name="input"/>, the client's input lines go to the guest; without, its
    /// lines are ignored. Always detaches before returning.
    /// </summary>
    public async Task RunAsync(Func<byte[], Task> send, Func<CancellationToken, ValueTask<string?>> readLine, bool input, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var pump = PumpAsync(send, stop.Token);
        var reader = ReadInputAsync(readLine, input, stop.Token);
        try
        {
            await Task.WhenAny(pump, reader);
        }
        finally
        {
            stop.Cancel();
            _attachment?.Dispose();
            await Quietly(pump);
            await Quietly(reader);
        }
    }

    /// <summary>Detaches without serving (the reply could not be sent): later output is kept for the next client.</summary>
    public void Detach() => _attachment?.Dispose();

    private static async Task Quietly(Task t)
    {
        try { await t; }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away, or the other half of the connection finished first.
        }
    }

    private async Task ReadInputAsync(Func<CancellationToken, ValueTask<string?>> readLine, bool input, CancellationToken cancel)
    {
        while (true)
        {
            string? line = await readLine(cancel);
            if (line is null)
            {
                // With input the client's EOF is its detach. A client of the output-only stream may
                // have half-closed its side after the request and still read: it keeps the stream
                // until the end or a failed write, as before console input existed.
                if (input) return;
                await Task.Delay(Timeout.Infinite, cancel);
                return;
            }
            if (!input || ControlProtocol.ParseConsoleInput(line) is not { } bytes || bytes.Length == 0) continue;
            int taken = _console.WriteInput(bytes);
            if (taken < bytes.Length)
            {
                if (!_droppingInput)
                    _log($"d{_domid}: console input: dropped {bytes.Length - taken} bytes: {_console.PendingInput} bytes already wait for the guest to read its console (the bound is {_console.InputQueueCapacity})");
                _droppingInput = true;
            }
            else _droppingInput = false;
        }
    }

    /// <summary>Sends output lines until the console closes, then the end line.</summary>
    public async Task PumpAsync(Func<byte[], Task> send, CancellationToken cancel)
    {
        try
        {
            await foreach (var chunk in _output.Reader.ReadAllAsync(cancel))
            {
                Interlocked.Add(ref _queued, -chunk.Length);
                if (Interlocked.Exchange(ref _droppedOutput, 0) is long dropped and > 0)
                    _log($"d{_domid}: console client too slow: dropped {dropped} bytes of output (more than {MaxQueuedBytes} bytes queued)");
                string b64 = Convert.ToBase64String(chunk.Span);
                await send(JsonLine.Write(w => w.WriteString("console", b64)));
            }
            var end = _end();
            await send(JsonLine.Write(w =>
            {
                w.WriteStartObject("end");
                w.WriteNumber("domid", _domid);
                w.WriteString("reason", end?.Reason ?? "destroyed");
                w.WriteString("action", end?.Action ?? "destroy");
                if (end?.RestartedAs is int r) w.WriteNumber("restarted_as", r);
                if (end?.Detail is string detail) w.WriteString("detail", detail);
                w.WriteEndObject();
            }));
        }
        finally
        {
            _attachment?.Dispose();
        }
    }
}
