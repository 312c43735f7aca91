namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// `xl console`'s escape: Ctrl-] (0x1D) detaches, like xl's console client, and is not sent
/// to the guest. Fed stdin as it is read, in whatever pieces the reads return: the bytes
/// before the escape are forwarded, the escape and everything after it are not.
/// </summary>
public sealed class ConsoleEscape
{
    /// <summary>Ctrl-]: ASCII GS.</summary>
    public const byte Character = 0x1D;

    /// <summary>The escape was seen: nothing more is forwarded.</summary>
    public bool Detached { get; private set; }

    /// <summary>How many leading bytes of <paramref name="read"/> go to the guest (all of them until the escape shows up).</summary>
    public int Forwardable(ReadOnlySpan<byte> read)
    {
        if (Detached) return 0;
        int i = read.IndexOf(Character);
        if (i < 0) return read.Length;
        Detached = true;
        return i;
    }
}
