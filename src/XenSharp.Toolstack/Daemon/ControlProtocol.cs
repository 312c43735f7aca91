using System.Text.Json;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's control protocol (documented in docs/control-protocol.md): JSON objects, one
/// per line, over the Unix stream socket <see cref="StatePaths.ControlSocket"/>. Every request
/// carries <c>"v": 1</c> and a <c>"cmd"</c>; every reply has <c>"ok"</c> and either the
/// command's fields or <c>"error"</c>. Console streams follow a successful reply with
/// <c>{"console": BASE64}</c> lines and end with one <c>{"end": {...}}</c> line; when the
/// request asked for <c>"input": true</c> and the reply acknowledged it, the client may send
/// <c>{"input": BASE64}</c> lines on the same connection (feature <see cref="FeatureConsoleInput"/>).
/// </summary>
public static class ControlProtocol
{
    public const int Version = 1;

    /// <summary>
    /// Additions to version 1 that old clients and daemons simply do not use: a client asks for
    /// one with a request field, a daemon that has it says so in its reply (and in
    /// <c>ping</c>'s <c>features</c>).
    /// </summary>
    public const string FeatureConsoleInput = "console-input";

    /// <summary>The features this daemon has, as <c>ping</c> lists them.</summary>
    public static IReadOnlyList<string> Features { get; } = [FeatureConsoleInput];

    /// <summary>The request field (console, create) and reply field that turn console input on, and the stream line that carries it.</summary>
    public const string InputField = "input";

    /// <summary>A console request's optional console type: "pv", "serial" or "vuart" (absent: the domain's primary console).</summary>
    public const string ConsoleTypeField = "type";

    /// <summary>One console input line, client to daemon: <c>{"input": BASE64}</c>.</summary>
    public static byte[] ConsoleInputLine(ReadOnlySpan<byte> data)
    {
        string b64 = Convert.ToBase64String(data);
        return JsonLine.Write(w => w.WriteString(InputField, b64));
    }

    /// <summary>
    /// The bytes of a console input line, or null for any other line (not JSON, no
    /// <c>input</c> string, bad base64): the daemon ignores those.
    /// </summary>
    public static byte[]? ParseConsoleInput(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || doc.RootElement.GetString(InputField) is not string b64) return null;
            return Convert.FromBase64String(b64);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return null;
        }
    }

    public const string Create = "create";
    public const string List = "list";
    public const string Destroy = "destroy";
    public const string Console = "console";
    public const string Dmesg = "dmesg";
    public const string Info = "info";
    public const string Unpause = "unpause";
    public const string Pause = "pause";
    public const string Rename = "rename";
    public const string VcpuList = "vcpu-list";
    public const string Shutdown = "shutdown";
    public const string Ping = "ping";
    public const string SetParameters = "set-parameters";
    public const string GetParameters = "get-parameters";
    public const string DebugKeys = "debug-keys";
    public const string Quit = "quit";
    public const string VcpuPin = "vcpu-pin";
    public const string SchedList = "sched-list";
    public const string SchedDomainSet = "sched-domain-set";
    public const string SchedPoolSet = "sched-pool-set";
    public const string CpupoolList = "cpupool-list";
    public const string CpupoolCreate = "cpupool-create";
    public const string CpupoolDestroy = "cpupool-destroy";
    public const string CpupoolCpuAdd = "cpupool-cpu-add";
    public const string CpupoolCpuRemove = "cpupool-cpu-remove";
    public const string CpupoolMigrate = "cpupool-migrate";
    public const string DumpCore = "dump-core";
    public const string MemSet = "mem-set";
    public const string MemMax = "mem-max";
    public const string VcpuSet = "vcpu-set";
}
