namespace XenSharp.Toolstack.Config;

/// <summary>The kinds of token the xl.cfg lexer produces.</summary>
internal enum XlTokenKind
{
    /// <summary>A run of characters that is not punctuation, space or a string: a key or a number (or junk).</summary>
    Word,

    /// <summary>A quoted string.</summary>
    String,

    /// <summary><c>[</c></summary>
    LeftBracket,

    /// <summary><c>]</c></summary>
    RightBracket,

    /// <summary><c>,</c></summary>
    Comma,

    /// <summary><c>=</c></summary>
    Assign,

    /// <summary><c>+=</c></summary>
    AppendAssign,

    /// <summary><c>;</c></summary>
    Semicolon,

    /// <summary>The end of a line (a comment runs up to it).</summary>
    Newline,

    /// <summary>The end of the text.</summary>
    End,
}
