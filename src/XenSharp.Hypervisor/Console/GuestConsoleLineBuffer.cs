using System.Text;

namespace XenSharp.Hypervisor.Console;

/// <summary>
/// Collects a guest's console_io bytes into lines for the hypervisor log, prefixed "(dN) ".
/// Non-printable bytes are shown as '?' so a guest cannot inject terminal escapes into `xl dmesg`.
/// </summary>
public sealed class GuestConsoleLineBuffer(int domainId, ConsoleLog log)
{
    private readonly StringBuilder _line = new();
    private const int MaxLine = 1024;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_line)
        {
            foreach (byte b in bytes)
            {
                if (b == '\n') { Flush(); continue; }
                if (b == '\r') continue;
                _line.Append(b is >= 0x20 and < 0x7F or (byte)'\t' ? (char)b : '?');
                if (_line.Length >= MaxLine) Flush();
            }
        }
    }

    /// <summary>Emits a pending partial line (at shutdown).</summary>
    public void Flush()
    {
        lock (_line)
        {
            if (_line.Length == 0) return;
            log.AppendLine($"(d{domainId}) {_line}");
            _line.Clear();
        }
    }
}
