using System.Text;

namespace XenSharp.Hypervisor.Console;

/// <summary>
/// The hypervisor's console log, shown by `xl dmesg`: a bounded ring of text where the
/// hypervisor writes lines prefixed "(XEN) " and guests' console_io output arrives as
/// "(dN) " lines. When full, the oldest text is dropped (whole lines).
/// </summary>
public sealed class ConsoleLog
{
    private readonly int _capacity;
    private readonly StringBuilder _text = new();
    private readonly object _lock = new();
    private long _dropped;

    public ConsoleLog(int capacity = 256 * 1024) => _capacity = capacity;

    /// <summary>Raised with each completed line (including its prefix), e.g. for a log file.</summary>
    public event Action<string>? LineWritten;

    /// <summary>Xen's log levels (loglvl=), most severe first.</summary>
    public enum Level { None = 0, Error = 1, Warning = 2, Info = 3, Debug = 4, All = 5 }

    private volatile int _threshold = (int)Level.Info;

    /// <summary>Hypervisor messages above this level are not recorded (loglvl=; default info, as Xen).</summary>
    public Level Threshold
    {
        get => (Level)_threshold;
        set => _threshold = (int)value;
    }

    /// <summary>A hypervisor message ("(XEN) " prefix) at <paramref name="level"/>; dropped when above <see cref="Threshold"/>.</summary>
    public void Xen(string message, Level level = Level.Info)
    {
        if ((int)level > _threshold) return;
        AppendLine("(XEN) " + message);
    }

    /// <summary>Appends one complete line.</summary>
    public void AppendLine(string line)
    {
        lock (_lock)
        {
            _text.Append(line).Append('\n');
            Trim();
        }
        LineWritten?.Invoke(line);
    }

    private void Trim()
    {
        if (_text.Length <= _capacity) return;
        int excess = _text.Length - _capacity;
        int cut = excess;
        while (cut < _text.Length && _text[cut - 1] != '\n') cut++;
        _text.Remove(0, cut);
        _dropped += cut;
    }

    /// <summary>The whole retained log.</summary>
    public string Read()
    {
        lock (_lock) return _text.ToString();
    }

    /// <summary>Reads and empties the log (`xl dmesg -c`).</summary>
    public string ReadAndClear()
    {
        lock (_lock)
        {
            string s = _text.ToString();
            _text.Clear();
            return s;
        }
    }
}
