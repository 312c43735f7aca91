using System.Threading.Channels;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// One client's view of a domain console: attached before the guest runs (for `xl create -c`)
/// or later (`xl console`), it queues output and the end-of-domain notice so that nothing the
/// guest printed is lost even when it exits at once.
/// </summary>
public sealed class ConsoleSubscription
{
    private readonly Channel<ReadOnlyMemory<byte>> _output = Channel.CreateUnbounded<ReadOnlyMemory<byte>>();
    private readonly ManagedDomain _domain;
    private IDisposable? _attachment;

    private ConsoleSubscription(ManagedDomain domain) => _domain = domain;

    public static ConsoleSubscription Start(ManagedDomain domain)
    {
        var s = new ConsoleSubscription(domain);
        s._attachment = domain.Console.Output.Attach(
            data => s._output.Writer.TryWrite(data),
            () => s._output.Writer.TryComplete());
        return s;
    }

    /// <summary>Sends output lines until the console closes, then the end line.</summary>
    public async Task PumpAsync(Func<byte[], Task> send, CancellationToken cancel)
    {
        try
        {
            await foreach (var chunk in _output.Reader.ReadAllAsync(cancel))
            {
                string b64 = Convert.ToBase64String(chunk.Span);
                await send(JsonLine.Write(w => w.WriteString("console", b64)));
            }
            var end = _domain.End;
            await send(JsonLine.Write(w =>
            {
                w.WriteStartObject("end");
                w.WriteNumber("domid", _domain.Id);
                w.WriteString("reason", end?.Reason ?? "destroyed");
                w.WriteString("action", end?.Action ?? "destroy");
                if (end?.RestartedAs is int r) w.WriteNumber("restarted_as", r);
                if (end?.Detail is string detail) w.WriteString("detail", detail);
                w.WriteEndObject();
            }));
        }
        finally
        {
            _attachment?.Dispose();
        }
    }
}
