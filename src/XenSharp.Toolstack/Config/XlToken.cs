namespace XenSharp.Toolstack.Config;

/// <summary>
/// One token of xl.cfg text: its kind, its meaning (<paramref name="Text"/>: a word, or a
/// string's decoded characters), its source form (<paramref name="Raw"/>) and its line.
/// </summary>
internal readonly record struct XlToken(XlTokenKind Kind, string Text, string Raw, int Line);
