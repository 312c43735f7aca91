using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl console [-t pv|serial|vuart] [-n 0] [--detach-on-eof] DOMAIN`: attach to a domain's
/// console — without -t its primary one: the emulated SBSA UART of an ARM guest that has one
/// (vuart = "sbsa_uart"), else the PV console; "serial" and "vuart" both name the UART —
/// first what it printed while nobody was attached (the newest 64 KiB), then live output;
/// stdin goes to the guest (raw mode on a terminal). Ctrl-] detaches (exit 0). Like xl it
/// prints nothing of its own on attach or detach.
/// </summary>
public static class ConsoleCommand
{
    public const string Usage = "xl console [-t pv|serial|vuart] [-n 0] [--detach-on-eof] <Domain>";

    public static int Run(string[] args)
    {
        string? domain = null;
        string? type = null;
        bool detachOnEof = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--detach-on-eof":
                    detachOnEof = true;
                    break;
                case "-t":
                    type = i + 1 < args.Length ? args[++i] : throw new XlUsageException($"xl console: -t needs a console type (accepted: pv, serial, vuart); usage: {Usage}");
                    if (type is not ("pv" or "serial" or "vuart"))
                        throw new XlUsageException($"xl console: -t {type}: unknown console type (accepted: pv, serial, vuart)");
                    break;
                case "-n":
                    string num = i + 1 < args.Length ? args[++i] : throw new XlUsageException($"xl console: -n needs a console number (accepted: 0); usage: {Usage}");
                    if (num != "0")
                        throw new XlUsageException($"xl console: -n {num}: XenSharp guests have one console (accepted: 0)");
                    break;
                default:
                    if (a.StartsWith('-'))
                        throw new XlUsageException($"xl console: unknown option '{a}' (accepted: -t pv|serial|vuart, -n 0, --detach-on-eof); usage: {Usage}");
                    if (domain is not null) throw new XlUsageException($"usage: {Usage}");
                    domain = a;
                    break;
            }
        }
        if (domain is null) throw new XlUsageException($"usage: {Usage}");
        using var session = ConsoleSession.Start(detachOnEof);
        return Attach(domain, print: true, session, type);
    }

    /// <summary>
    /// Attaches to <paramref name="domain"/>'s console stream; with a <paramref name="session"/>
    /// its stdin goes to the guest (the daemon is asked for console input).
    /// </summary>
    public static int Attach(string domain, bool print = true, ConsoleSession? session = null, string? type = null)
    {
        using var client = DaemonConnection.Connect();
        var reply = Request.Call(client, "console", w =>
        {
            w.WriteString("domain", domain);
            if (type is not null) w.WriteString(ControlProtocol.ConsoleTypeField, type);
            if (session is not null) w.WriteBoolean(ControlProtocol.InputField, true);
        });
        return ConsoleStream.Pump(client, print, session, reply.GetBool(ControlProtocol.InputField));
    }
}
