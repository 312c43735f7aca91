namespace XenSharp.Toolstack.Config;

/// <summary>
/// The three shapes a value takes in an xl.cfg file: a quoted string, an unquoted integer,
/// or a bracketed list of values.
/// </summary>
public enum XlValueKind
{
    /// <summary>A quoted string, <c>"text"</c> or <c>'text'</c>.</summary>
    String,

    /// <summary>An unquoted integer: decimal, <c>0x</c> hexadecimal or <c>0</c>-prefixed octal.</summary>
    Number,

    /// <summary>A list <c>[ value, value, ... ]</c>, possibly containing lists.</summary>
    List,
}
