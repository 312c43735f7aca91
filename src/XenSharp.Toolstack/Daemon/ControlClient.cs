using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace XenSharp.Toolstack.Daemon;

/// <summary>The client side of the control protocol, used by `xl`.</summary>
public sealed class ControlClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private ControlClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    /// <summary>Connects to a running daemon, or returns null when none answers.</summary>
    public static ControlClient? TryConnect(StatePaths paths)
    {
        if (!File.Exists(paths.ControlSocket)) return null;
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(paths.ControlSocket));
            return new ControlClient(s);
        }
        catch (SocketException)
        {
            s.Dispose();
            return null;
        }
    }

    /// <summary>Wraps a connected socket (tests, and anything that connects by itself).</summary>
    public static ControlClient FromSocket(Socket connected) => new(connected);

    private readonly object _sendLock = new();

    /// <summary>Sends one request (the "v" field is added).</summary>
    public void Send(Action<Utf8JsonWriter> body)
    {
        var line = JsonLine.Write(w =>
        {
            w.WriteNumber("v", ControlProtocol.Version);
            body(w);
        });
        lock (_sendLock) _stream.Write(line);
    }

    /// <summary>
    /// Sends console input (<c>{"input": BASE64}</c>) on a console stream whose reply
    /// acknowledged <c>"input": true</c>; safe from another thread than the one receiving.
    /// </summary>
    public void SendConsoleInput(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        var line = ControlProtocol.ConsoleInputLine(data);
        lock (_sendLock) _stream.Write(line);
    }

    /// <summary>Ends the connection in both directions: a <see cref="Receive"/> blocked on another thread returns (null or an IOException).</summary>
    public void Shutdown()
    {
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    /// <summary>Reads one reply or stream line; null when the daemon closed the connection.</summary>
    public JsonElement? Receive()
    {
        string? line = _reader.ReadLine();
        return line is null ? null : JsonDocument.Parse(line).RootElement;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }
}
