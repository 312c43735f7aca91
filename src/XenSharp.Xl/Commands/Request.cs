using System.Text.Json;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>One request/reply exchange with the daemon; a failed reply becomes a one-line error.</summary>
public static class Request
{
    public static JsonElement Call(ControlClient client, string cmd, Action<Utf8JsonWriter>? body = null)
    {
        client.Send(w =>
        {
            w.WriteString("cmd", cmd);
            body?.Invoke(w);
        });
        var reply = client.Receive() ?? throw new XlUsageException("xl: the daemon closed the connection");
        if (!reply.GetProperty("ok").GetBoolean())
            throw new XlUsageException(reply.GetString("error") ?? "xl: request failed");
        return reply;
    }

    public static JsonElement Call(string cmd, Action<Utf8JsonWriter>? body = null)
    {
        using var client = DaemonConnection.Connect();
        return Call(client, cmd, body);
    }
}
