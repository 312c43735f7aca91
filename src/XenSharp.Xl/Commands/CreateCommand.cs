using XenSharp.Toolstack.Daemon;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl create [-c] [-p] [-n] [-q] [-F] CFG [key=value ...]`: create a domain from an xl.cfg
/// file. -c attaches the console (before the guest runs, interactive as `xl console`), -p leaves the domain paused, -n (dry run) parses and checks
/// the config and prints it as JSON without creating anything, -q drops the "Parsing config"
/// line, -F stays in the foreground until the domain is gone (like -c, without its output).
/// </summary>
public static class CreateCommand
{
    private const string Options = "-c, -p, -n, -q, -F";

    public static int Run(string[] args)
    {
        bool console = false, paused = false, dryRun = false, quiet = false, foreground = false;
        string? configPath = null;
        var overrides = new List<string>();
        foreach (var a in args)
        {
            switch (a)
            {
                case "-c": console = true; break;
                case "-p": paused = true; break;
                case "-n" or "--dryrun": dryRun = true; break;
                case "-q" or "--quiet": quiet = true; break;
                case "-F": foreground = true; break;
                case "-f":
                    break;
                default:
                    if (a.StartsWith('-')) throw new XlUsageException($"xl create: unknown option '{a}' (accepted: {Options})");
                    if (configPath is null && !a.Contains('=')) configPath = a;
                    else overrides.Add(a);
                    break;
            }
        }
        if (configPath is null) throw new XlUsageException("xl create: no config file given (usage: xl create [-c] [-p] [-n] [-q] [-F] <ConfigFile> [key=value ...])");
        string full = Path.GetFullPath(configPath);
        if (!File.Exists(full)) return XlMain.Fail($"xl create: {configPath}: no such file");
        string text;
        try { text = File.ReadAllText(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return XlMain.Fail($"xl create: {configPath}: {e.Message}"); }

        if (!quiet) Console.Error.WriteLine($"Parsing config from {configPath}");
        using var client = DaemonConnection.Connect();
        // -c is interactive from the start: keys typed while the domain is built wait for it.
        using var session = console && !dryRun ? ConsoleSession.Start() : null;
        var reply = Request.Call(client, "create", w =>
        {
            w.WriteString("config_text", text);
            w.WriteString("config_path", configPath);
            w.WriteString("cwd", Environment.CurrentDirectory);
            w.WriteStartArray("overrides");
            foreach (var o in overrides) w.WriteStringValue(o);
            w.WriteEndArray();
            w.WriteBoolean("paused", paused);
            w.WriteBoolean("console", !dryRun && (console || foreground));
            if (dryRun) w.WriteBoolean("dry_run", true);
            if (session is not null) w.WriteBoolean(ControlProtocol.InputField, true);
        });
        if (reply.TryGetProperty("warnings", out var warnings))
            foreach (var warning in warnings.EnumerateArray())
            {
                if (session is not null) session.Notice($"Warning: {warning.GetString()}");
                else Console.Error.WriteLine($"Warning: {warning.GetString()}");
            }
        if (dryRun)
        {
            // The daemon sends the config compact (one protocol line); print it as ToJson does.
            Console.Out.Write(IndentedJson(reply.GetProperty("config")) + "\n");
            return ExitCodes.Success;
        }
        if (!console && !foreground) return ExitCodes.Success;
        if (!console && !quiet)
            Console.Error.WriteLine($"Waiting for domain {reply.GetProperty("name").GetString()} (domid {reply.GetProperty("domid").GetInt32()}) to die [pid {Environment.ProcessId}]");
        return ConsoleStream.Pump(client, print: console, session, reply.GetBool(ControlProtocol.InputField));
    }

    private static string IndentedJson(System.Text.Json.JsonElement e)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions
        {
            Indented = true,
            NewLine = "\n",
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            e.WriteTo(w);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
