namespace XenSharp.Toolstack.Parameters;

/// <summary>
/// The hypervisor's named parameters and their current values. Assignments are NAME=VALUE
/// (Xen's command-line syntax); a batch of them is applied all-or-nothing: every assignment is
/// parsed and checked first, and only when all are good are the values stored (and pushed to
/// their owners, see <see cref="Bind"/>). Boot assignments may set every parameter; live
/// ones (`xl set-parameters`) only those marked <see cref="ParameterDefinition.Live"/>.
/// </summary>
public sealed class ParameterRegistry
{
    private readonly List<ParameterDefinition> _definitions;
    private readonly Dictionary<string, ParameterDefinition> _byName;
    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Func<object> Read, Action<object> Write)> _bindings = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private readonly List<string> _boot = [];

    public ParameterRegistry(IEnumerable<ParameterDefinition> definitions)
    {
        _definitions = definitions.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        _byName = _definitions.ToDictionary(d => d.Name, StringComparer.Ordinal);
        foreach (var d in _definitions) _values[d.Name] = d.Default;
    }

    public IReadOnlyList<ParameterDefinition> Definitions => _definitions;

    /// <summary>The boot assignments as given (xensharpd.conf's first, then the daemon's command line): `xl info`'s xen_commandline.</summary>
    public string BootCommandLine
    {
        get { lock (_lock) return string.Join(' ', _boot); }
    }

    public ParameterDefinition? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The current value (read from its owner when bound).</summary>
    public object Get(string name)
    {
        if (!_byName.ContainsKey(name)) throw new ArgumentException($"unknown parameter {name}", nameof(name));
        lock (_lock) return _bindings.TryGetValue(name, out var b) ? b.Read() : _values[name];
    }

    public T Get<T>(string name) => (T)Get(name);

    /// <summary>The current value as text.</summary>
    public string GetText(string name) => _byName[name].Format(Get(name));

    /// <summary>
    /// Hands a parameter's value to the component that owns it (e.g. xenstored's quotas, which
    /// xenstore-control can also change): the registry's value is written to it now, later
    /// reads come from <paramref name="read"/> and changes go through <paramref name="write"/>.
    /// </summary>
    public void Bind(string name, Func<object> read, Action<object> write)
    {
        lock (_lock)
        {
            write(_values[name]);
            _bindings[name] = (read, write);
        }
    }

    /// <summary>Splits a command line ("a=1 b=2") into NAME=VALUE assignments.</summary>
    public static IReadOnlyList<string> SplitCommandLine(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Applies boot assignments (every parameter may be set), all-or-nothing, and records them
    /// in <see cref="BootCommandLine"/>. Throws <see cref="ParameterException"/> naming every bad one.
    /// </summary>
    public void ApplyBoot(IEnumerable<string> assignments)
    {
        var list = assignments.ToList();
        lock (_lock)
        {
            Commit(Stage(list, live: false));
            _boot.AddRange(list);
        }
    }

    /// <summary>
    /// `xl set-parameters`: applies live assignments all-or-nothing. Unknown names, bad values
    /// and boot-only parameters are refused, each named in the one-line message, and then
    /// nothing changes. Returns the new values as NAME=VALUE, in the order given.
    /// </summary>
    public IReadOnlyList<string> SetLive(string commandLine)
    {
        var list = SplitCommandLine(commandLine);
        if (list.Count == 0) throw new ParameterException("no parameters given (NAME=VALUE ...)");
        lock (_lock)
        {
            var staged = Stage(list, live: true);
            Commit(staged);
            return staged.Select(s => $"{s.Name}={_byName[s.Name].Format(s.Value)}").Distinct().ToList();
        }
    }

    /// <summary>Checks assignments without applying them (e.g. xensharpd.conf before the daemon starts).</summary>
    public void Check(IEnumerable<string> assignments, bool live)
    {
        lock (_lock) Stage(assignments.ToList(), live);
    }

    private List<(string Name, object Value)> Stage(IReadOnlyList<string> assignments, bool live)
    {
        var errors = new List<string>();
        var staged = new Dictionary<string, object>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var a in assignments)
        {
            int eq = a.IndexOf('=');
            string name = eq < 0 ? a : a[..eq];
            if (eq <= 0)
            {
                errors.Add($"\"{a}\" is not NAME=VALUE");
                continue;
            }
            string text = a[(eq + 1)..];
            if (!_byName.TryGetValue(name, out var def))
            {
                errors.Add($"unknown parameter \"{name}\" (known: {string.Join(", ", _definitions.Select(d => d.Name))})");
                continue;
            }
            if (live && !def.Live)
            {
                errors.Add($"{name} can only be set at boot (`xl daemon -- {name}=...` or xensharpd.conf; " +
                           $"parameters that can change at run time: {string.Join(", ", _definitions.Where(d => d.Live).Select(d => d.Name))})");
                continue;
            }
            object current = staged.TryGetValue(name, out var s) ? s
                : _bindings.TryGetValue(name, out var b) ? b.Read() : _values[name];
            try
            {
                staged[name] = def.Parse(text, current);
                if (!order.Contains(name)) order.Add(name);
            }
            catch (FormatException)
            {
                errors.Add($"{name}: bad value \"{text}\" (accepted: {def.Accepted})");
            }
        }
        if (errors.Count > 0)
            throw new ParameterException(string.Join("; ", errors) + (live ? "; no parameter changed" : ""));
        return order.Select(n => (n, staged[n])).ToList();
    }

    private void Commit(List<(string Name, object Value)> staged)
    {
        foreach (var (name, value) in staged)
        {
            _values[name] = value;
            if (_bindings.TryGetValue(name, out var b)) b.Write(value);
        }
    }
}
