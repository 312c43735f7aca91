namespace XenSharp.Xl.Commands;

/// <summary>`xl create [-c] [-p] CFG [key=value ...]`: create a domain from an xl.cfg file.</summary>
public static class CreateCommand
{
    public static int Run(string[] args)
    {
        bool console = false, paused = false;
        string? configPath = null;
        var overrides = new List<string>();
        foreach (var a in args)
        {
            switch (a)
            {
                case "-c": console = true; break;
                case "-p": paused = true; break;
                case "-f":
                    break;
                default:
                    if (a.StartsWith('-')) throw new XlUsageException($"xl create: unknown option '{a}' (accepted: -c, -p)");
                    if (configPath is null && !a.Contains('=')) configPath = a;
                    else overrides.Add(a);
                    break;
            }
        }
        if (configPath is null) throw new XlUsageException("xl create: no config file given (usage: xl create [-c] [-p] <ConfigFile> [key=value ...])");
        string full = Path.GetFullPath(configPath);
        if (!File.Exists(full)) return XlMain.Fail($"xl create: {configPath}: no such file");
        string text;
        try { text = File.ReadAllText(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return XlMain.Fail($"xl create: {configPath}: {e.Message}"); }

        Console.Error.WriteLine($"Parsing config from {configPath}");
        using var client = DaemonConnection.Connect();
        var reply = Request.Call(client, "create", w =>
        {
            w.WriteString("config_text", text);
            w.WriteString("config_path", configPath);
            w.WriteString("cwd", Environment.CurrentDirectory);
            w.WriteStartArray("overrides");
            foreach (var o in overrides) w.WriteStringValue(o);
            w.WriteEndArray();
            w.WriteBoolean("paused", paused);
            w.WriteBoolean("console", console);
        });
        if (reply.TryGetProperty("warnings", out var warnings))
            foreach (var warning in warnings.EnumerateArray()) Console.Error.WriteLine($"Warning: {warning.GetString()}");
        if (!console) return ExitCodes.Success;
        return ConsoleStream.Pump(client);
    }
}
