using System.Net.Sockets;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.XenStore;

/// <summary>
/// xenstored's Unix socket: the same xs_wire protocol as a guest's ring, for clients in the
/// control domain — the toolstack's own tools and Debian's xenstore-utils
/// (`XENSTORED_PATH=SOCKET xenstore-ls`). Every socket client acts as domain 0, as on Xen
/// where only dom0 can reach xenstored's socket; the socket file is made accessible to its
/// owner only. One task per client; a client that sends a malformed message is disconnected,
/// others are unaffected.
/// </summary>
public sealed class XenStoreSocketServer : IDisposable
{
    private readonly Xenstored _xenstored;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    public string Path { get; }

    public XenStoreSocketServer(Xenstored xenstored, string path)
    {
        _xenstored = xenstored;
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(64);
        _ = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    /// <summary>Output a client may leave unread before it is disconnected (it stalls nobody else).</summary>
    public const int MaxQueuedBytes = 1 << 20;

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        var closed = new TaskCompletionSource();
        // Replies and watch events are produced under xenstored's lock: they go into this
        // client's queue, and a writer task sends them, so a client that stops reading only
        // fills its own queue (and is dropped when that passes MaxQueuedBytes).
        var outgoing = System.Threading.Channels.Channel.CreateUnbounded<ReadOnlyMemory<byte>>(
            new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
        long queued = 0;
        var connection = _xenstored.Connect(0, message =>
        {
            if (Interlocked.Add(ref queued, message.Length) > MaxQueuedBytes)
            {
                closed.TrySetResult();
                return;
            }
            outgoing.Writer.TryWrite(message.ToArray());
        });
        connection.Closed += () => closed.TrySetResult();
        var writer = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in outgoing.Reader.ReadAllAsync())
                {
                    await client.SendAsync(message, SocketFlags.None);
                    Interlocked.Add(ref queued, -message.Length);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                closed.TrySetResult();
            }
        });
        var buffer = new byte[8192];
        try
        {
            while (!connection.IsClosed && !_stop.IsCancellationRequested)
            {
                var read = client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).AsTask();
                if (await Task.WhenAny(read, closed.Task) != read) break;
                int n = await read;
                if (n == 0) break;
                connection.Receive(buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            connection.Close();
            outgoing.Writer.TryComplete();
            // Let queued replies go out, but never wait long for a client that does not read.
            await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(1)));
            client.Dispose();
            await writer;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        File.Delete(Path);
    }
}
