namespace XenSharp.XenStore.Wire;

/// <summary>
/// Size limits fixed by <c>xs_wire.h</c>: violating the payload limit gets a connection closed,
/// violating the path limits gets an error reply.
/// </summary>
public static class XsWireLimits
{
    /// <summary>Largest payload (bytes after the header) in either direction (<c>XENSTORE_PAYLOAD_MAX</c>).</summary>
    public const int PayloadMax = 4096;

    /// <summary>Longest absolute path (<c>XENSTORE_ABS_PATH_MAX</c>).</summary>
    public const int AbsolutePathMax = 3072;

    /// <summary>Longest relative path a client should use (<c>XENSTORE_REL_PATH_MAX</c>).</summary>
    public const int RelativePathMax = 2048;

    /// <summary>Size of each of the two byte rings in the shared page (<c>XENSTORE_RING_SIZE</c>).</summary>
    public const int RingSize = 1024;
}
