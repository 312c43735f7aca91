namespace XenSharp.Toolstack.Config;

/// <summary>
/// A value on the right of <c>key = ...</c> in an xl.cfg file: an <see cref="XlString"/>,
/// an <see cref="XlNumber"/> or an <see cref="XlList"/>. Values compare by content; the
/// line they were read from is informational and ignored by equality.
/// </summary>
public abstract class XlValue : IEquatable<XlValue>
{
    private protected XlValue(int line)
    {
        Line = line;
    }

    /// <summary>The 1-based line the value starts on (0 for a value built in code).</summary>
    public int Line { get; }

    /// <summary>Which of the three shapes this value has.</summary>
    public abstract XlValueKind Kind { get; }

    /// <summary>
    /// The text of a single value: a string's characters or a number as written (xl treats
    /// numbers and strings alike where text is wanted, so <c>name = 42</c> names the domain
    /// "42"). Null for a list.
    /// </summary>
    public virtual string? ScalarText => null;

    /// <inheritdoc />
    public abstract bool Equals(XlValue? other);

    /// <inheritdoc />
    public sealed override bool Equals(object? obj) => obj is XlValue other && Equals(other);

    /// <inheritdoc />
    public abstract override int GetHashCode();

    /// <summary>The value written in xl.cfg syntax (strings double-quoted and escaped).</summary>
    public abstract override string ToString();
}
