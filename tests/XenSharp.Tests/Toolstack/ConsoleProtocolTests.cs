using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using XenSharp.Devices.Console;
using XenSharp.Hypervisor.Memory;
using XenSharp.Toolstack.Daemon;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Tests.Toolstack;

/// <summary>
/// The console stream of the control protocol with console input (feature "console-input"):
/// one connection carries the guest's output to the client and the client's input to the
/// guest's in ring; the client closing its side detaches; the domain's end ends the stream.
/// </summary>
public sealed class ConsoleProtocolTests : IDisposable
{
    private const ulong Ring = 0x5000;
    private const int InSize = 1024, Out = 1024, OutSize = 2048;
    private const int InCons = 3072, InProd = 3076, OutProd = 3084;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly GuestMemory _memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
    private readonly PvConsoleBackend _backend;
    private readonly Channel<string?> _fromClient = Channel.CreateUnbounded<string?>();
    private readonly Channel<string> _toClient = Channel.CreateUnbounded<string>();
    private readonly List<string> _log = new();
    private DomainEnd? _end;

    public ConsoleProtocolTests() => _backend = new PvConsoleBackend(_memory, Ring);

    public void Dispose() => _memory.Dispose();

    private ConsoleSubscription Subscribe(PvConsoleBackend? backend = null) =>
        ConsoleSubscription.Start(7, backend ?? _backend, () => _end, m => { lock (_log) _log.Add(m); });

    private Task Run(ConsoleSubscription s, bool input) => s.RunAsync(
        line => { _toClient.Writer.TryWrite(Encoding.UTF8.GetString(line)); return Task.CompletedTask; },
        ct => _fromClient.Reader.ReadAsync(ct),
        input, CancellationToken.None);

    private void ClientSendsInput(string text) =>
        _fromClient.Writer.TryWrite(Encoding.UTF8.GetString(ControlProtocol.ConsoleInputLine(Encoding.UTF8.GetBytes(text))).TrimEnd('\n'));

    private async Task<JsonElement> NextLineToClient()
    {
        string line = await _toClient.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.EndsWith("\n", line);
        Assert.DoesNotContain('\n', line[..^1]);
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    private uint Index(int offset)
    {
        Assert.True(_memory.TryRead(Ring + (ulong)offset, out uint v));
        return v;
    }

    private string InRing()
    {
        uint cons = Index(InCons), prod = Index(InProd);
        var data = new byte[prod - cons];
        for (int i = 0; i < data.Length; i++)
            Assert.True(_memory.TryRead(Ring + ((cons + (uint)i) & (InSize - 1)), out data[i]));
        return Encoding.ASCII.GetString(data);
    }

    private void GuestPrints(string text)
    {
        uint prod = Index(OutProd);
        foreach (byte b in Encoding.ASCII.GetBytes(text))
            Assert.True(_memory.TryWrite(Ring + Out + (prod++ & (OutSize - 1)), b));
        Assert.True(_memory.TryWrite(Ring + OutProd, prod));
        _backend.Drain();
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Timeout) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public void Input_lines_round_trip_every_byte_value()
    {
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        byte[] line = ControlProtocol.ConsoleInputLine(all);
        Assert.Equal((byte)'\n', line[^1]);
        Assert.Equal(1, line.Count(b => b == '\n'));
        Assert.Equal(all, ControlProtocol.ParseConsoleInput(Encoding.UTF8.GetString(line)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"console\": \"aGk=\"}")]
    [InlineData("{\"input\": 5}")]
    [InlineData("{\"input\": \"not base64!\"}")]
    [InlineData("{\"v\": 1, \"cmd\": \"list\"}")]
    public void Other_lines_are_not_input(string line) => Assert.Null(ControlProtocol.ParseConsoleInput(line));

    [Fact]
    public void The_daemon_advertises_console_input() =>
        Assert.Contains(ControlProtocol.FeatureConsoleInput, ControlProtocol.Features);

    [Fact]
    public async Task Input_reaches_the_in_ring_and_output_then_the_end_reach_the_client()
    {
        GuestPrints("booting\n"); // before anyone attached: kept, then replayed first
        var run = Run(Subscribe(), input: true);

        var replay = await NextLineToClient();
        Assert.Equal("booting\n", Encoding.ASCII.GetString(Convert.FromBase64String(replay.GetProperty("console").GetString()!)));

        ClientSendsInput("hello\n");
        ClientSendsInput("\u0003quit\r");
        await WaitFor(() => InRing() == "hello\n\u0003quit\r", "the input in the guest's in ring");

        GuestPrints("echo: hello\n");
        var output = await NextLineToClient();
        Assert.Equal("echo: hello\n", Encoding.ASCII.GetString(Convert.FromBase64String(output.GetProperty("console").GetString()!)));

        _end = new DomainEnd("poweroff", "destroy", null, null);
        _backend.Output.Close();
        var end = (await NextLineToClient()).GetProperty("end");
        Assert.Equal(7, end.GetProperty("domid").GetInt32());
        Assert.Equal("poweroff", end.GetProperty("reason").GetString());
        Assert.Equal("destroy", end.GetProperty("action").GetString());
        Assert.False(end.TryGetProperty("restarted_as", out _));
        await run.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_client_closing_its_side_detaches_at_once_and_later_output_waits_for_the_next_client()
    {
        var run = Run(Subscribe(), input: true);
        ClientSendsInput("last words\n");
        _fromClient.Writer.TryWrite(null); // EOF: the client left
        await run.WaitAsync(Timeout);
        Assert.Equal("last words\n", InRing()); // input sent before leaving still arrived

        GuestPrints("while nobody looked\n");
        var next = new List<byte>();
        using var _ = _backend.Output.Attach(d => next.AddRange(d.ToArray()), () => { });
        Assert.Equal("while nobody looked\n", Encoding.ASCII.GetString(next.ToArray()));
    }

    [Fact]
    public async Task Without_input_client_lines_are_ignored_and_its_end_of_sending_keeps_the_stream()
    {
        var run = Run(Subscribe(), input: false);
        ClientSendsInput("ignored\n");
        _fromClient.Writer.TryWrite(null); // a half-closed old-style client still reads
        await Task.Delay(100);
        Assert.False(run.IsCompleted);
        Assert.Equal("", InRing());

        GuestPrints("still streaming\n");
        Assert.True((await NextLineToClient()).TryGetProperty("console", out _));
        _backend.Output.Close();
        Assert.True((await NextLineToClient()).TryGetProperty("end", out _));
        await run.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Two_clients_each_get_all_output_and_both_can_type()
    {
        var second = Channel.CreateUnbounded<string>();
        var run1 = Run(Subscribe(), input: true);
        var run2 = Subscribe().RunAsync(line => { second.Writer.TryWrite(Encoding.UTF8.GetString(line)); return Task.CompletedTask; },
            ct => new ValueTask<string?>(Task.Delay(System.Threading.Timeout.Infinite, ct).ContinueWith(_ => (string?)null, TaskScheduler.Default)),
            input: true, CancellationToken.None);

        GuestPrints("to both\n");
        Assert.True((await NextLineToClient()).TryGetProperty("console", out _));
        var other = JsonDocument.Parse(await second.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).RootElement;
        Assert.Equal("to both\n", Encoding.ASCII.GetString(Convert.FromBase64String(other.GetProperty("console").GetString()!)));

        _backend.Output.Close();
        await run1.WaitAsync(Timeout);
        await run2.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Input_over_the_queue_bound_is_dropped_with_a_log_line()
    {
        var backend = new PvConsoleBackend(_memory, Ring, inputQueueCapacity: 16);
        var run = Run(Subscribe(backend), input: true);
        ClientSendsInput(new string('a', InSize + 10));  // fits: 1024 in the ring, 10 wait
        ClientSendsInput(new string('b', 20));           // 6 fit, 14 dropped: logged
        ClientSendsInput(new string('c', 5));            // still over: not logged again
        await WaitFor(() => { lock (_log) return _log.Count > 0; }, "the log line");
        await Task.Delay(50);
        lock (_log)
        {
            Assert.Single(_log);
            Assert.Contains("d7: console input: dropped 14 bytes", _log[0]);
        }
        Assert.Equal(16, backend.PendingInput);
        _fromClient.Writer.TryWrite(null);
        await run.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Over_a_socket_one_connection_carries_input_and_output()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xs-console-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "s");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var server = Task.Run(async () =>
            {
                using var socket = await listener.AcceptAsync();
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                string? request = await reader.ReadLineAsync();
                Assert.True(JsonDocument.Parse(request!).RootElement.GetBool(ControlProtocol.InputField));
                var subscription = Subscribe();
                await stream.WriteAsync(JsonLine.Ok(w => w.WriteBoolean(ControlProtocol.InputField, true)));
                await subscription.RunAsync(async line => await stream.WriteAsync(line), reader.ReadLineAsync, input: true, CancellationToken.None);
            });

            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            using var client = ControlClient.FromSocket(socket);
            client.Send(w => { w.WriteString("cmd", "console"); w.WriteBoolean(ControlProtocol.InputField, true); });
            Assert.True(client.Receive()!.Value.GetBool(ControlProtocol.InputField));

            client.SendConsoleInput("hello\n"u8);
            client.SendConsoleInput([0x00, 0xFF, (byte)'\n']);
            await WaitFor(() => Index(InProd) == 9, "the input in the in ring");
            Assert.True(_memory.TryGetSpan(Ring, 9, out var inRing));
            Assert.Equal([.. "hello\n"u8, 0x00, 0xFF, (byte)'\n'], inRing.ToArray());

            GuestPrints("echo: hello\n");
            var line = client.Receive()!.Value;
            Assert.Equal("echo: hello\n", Encoding.ASCII.GetString(Convert.FromBase64String(line.GetString("console")!)));

            _end = new DomainEnd("crash", "destroy", null, "triple fault");
            _backend.Output.Close();
            var end = client.Receive()!.Value.GetProperty("end");
            Assert.Equal("crash", end.GetString("reason"));
            Assert.Equal("triple fault", end.GetString("detail"));
            Assert.Null(client.Receive()); // the daemon closes after the end line
            await server.WaitAsync(Timeout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
