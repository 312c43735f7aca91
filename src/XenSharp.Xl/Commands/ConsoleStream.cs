using System.Text.Json;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// Prints a console stream (after a create -c or console reply) to stdout until the domain
/// ends. When the domain was restarted (on_reboot = "restart"), follows the new domain.
/// Returns the xl exit code for how the guest ended. With <c>print</c> false (`xl create -F`)
/// the output is read and dropped: only the end matters.
/// </summary>
public static class ConsoleStream
{
    public static int Pump(ControlClient client, bool print = true)
    {
        var stdout = Console.OpenStandardOutput();
        while (true)
        {
            var line = client.Receive();
            if (line is not { } msg)
            {
                Console.Error.WriteLine("xl: lost the connection to the daemon");
                return ExitCodes.Failure;
            }
            if (msg.GetString("console") is string b64)
            {
                if (!print) continue;
                stdout.Write(Convert.FromBase64String(b64));
                stdout.Flush();
                continue;
            }
            if (msg.TryGetProperty("end", out var end))
            {
                string reason = end.GetString("reason") ?? "destroyed";
                if (end.TryGetProperty("restarted_as", out var r))
                {
                    int newId = r.GetInt32();
                    Console.Error.WriteLine($"xl: domain {end.GetProperty("domid").GetInt32()} {reason}: restarted as domain {newId}");
                    client.Dispose();
                    return ConsoleCommand.Attach(newId.ToString(), print);
                }
                if (end.GetString("detail") is string detail)
                    Console.Error.WriteLine($"xl: domain {end.GetProperty("domid").GetInt32()} {reason}: {detail}");
                return reason is "crash" or "watchdog" ? ExitCodes.GuestCrashed : ExitCodes.Success;
            }
        }
    }
}
