namespace XenSharp.Toolstack.Parameters;

/// <summary>
/// One hypervisor parameter (an entry of Xen's command line, docs/misc/xen-command-line.pandoc):
/// its name, the syntax it accepts, its default, and whether `xl set-parameters` may change it
/// while the daemon runs (<see cref="Live"/>) or only at boot (`xl daemon -- NAME=VALUE`, or
/// xensharpd.conf).
/// </summary>
public sealed class ParameterDefinition
{
    public required string Name { get; init; }

    /// <summary>What the value may be, for messages and `xl info -p` ("an integer 1..4096").</summary>
    public required string Accepted { get; init; }

    /// <summary>One line on what the parameter does in XenSharp.</summary>
    public required string Description { get; init; }

    public required bool Live { get; init; }

    public required object Default { get; init; }

    /// <summary>
    /// Parses a value given the current one (so a parameter can update part of its value, as
    /// xenstore_quota does). Throws <see cref="FormatException"/> when the text is not accepted;
    /// the registry turns that into a message naming the parameter and <see cref="Accepted"/>.
    /// </summary>
    public required Func<string, object, object> Parse { get; init; }

    /// <summary>The value as NAME=VALUE text would give it back.</summary>
    public Func<object, string> Format { get; init; } = v => v.ToString() ?? "";
}
