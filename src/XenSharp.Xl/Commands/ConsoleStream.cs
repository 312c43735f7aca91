using System.Net.Sockets;
using System.Text.Json;
using XenSharp.Toolstack.Daemon;
using XenSharp.Xl.Terminal;

namespace XenSharp.Xl.Commands;

/// <summary>
/// Prints a console stream (after a create -c or console reply) to stdout until the domain
/// ends or the user detaches (<see cref="ConsoleSession"/>, which also sends stdin to the
/// guest). When the domain was restarted (on_reboot = "restart"), follows the new domain.
/// Returns the xl exit code for how the guest ended (0 after a detach, 128+N after signal N).
/// With <c>print</c> false (`xl create -F`) the output is read and dropped: only the end matters.
/// </summary>
public static class ConsoleStream
{
    private const int StdoutFd = 1;

    public static int Pump(ControlClient client, bool print = true, ConsoleSession? session = null, bool takesInput = false)
    {
        session?.Connect(client, takesInput);
        try
        {
            while (true)
            {
                if (session?.DetachCode is int detached) return detached;
                JsonElement? line;
                try
                {
                    line = client.Receive();
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    line = null;
                }
                if (line is not { } msg)
                {
                    if (session?.DetachCode is int code) return code;
                    Console.Error.WriteLine("xl: lost the connection to the daemon");
                    return ExitCodes.Failure;
                }
                if (msg.GetString("console") is string b64)
                {
                    // Straight to fd 1 (write(2)): the guest's bytes unchanged, and System.Console's
                    // terminal handling kept out of a raw-mode session.
                    if (print) RawTerminal.WriteAll(StdoutFd, Convert.FromBase64String(b64));
                    continue;
                }
                if (msg.TryGetProperty("end", out var end))
                {
                    string reason = end.GetString("reason") ?? "destroyed";
                    int domid = end.GetProperty("domid").GetInt32();
                    if (end.TryGetProperty("restarted_as", out var r))
                    {
                        int newId = r.GetInt32();
                        Notice(session, $"xl: domain {domid} {reason}: restarted as domain {newId}");
                        session?.Disconnect(client);
                        client.Dispose();
                        return ConsoleCommand.Attach(newId.ToString(), print, session);
                    }
                    if (end.GetString("detail") is string detail)
                        Notice(session, $"xl: domain {domid} {reason}: {detail}");
                    return reason is "crash" or "watchdog" ? ExitCodes.GuestCrashed : ExitCodes.Success;
                }
            }
        }
        finally
        {
            session?.Disconnect(client);
        }
    }

    private static void Notice(ConsoleSession? session, string line)
    {
        if (session is not null) session.Notice(line);
        else Console.Error.WriteLine(line);
    }
}
