namespace XenSharp.Boot;

/// <summary>
/// The domain builder cannot boot the given images: a malformed or unsupported kernel, or an
/// image that does not fit the domain. The message names the file (or item) and what is wrong,
/// in words meant for the person who wrote the domain configuration.
/// </summary>
public sealed class BootException : Exception
{
    public BootException(string message) : base(message) { }

    public BootException(string message, Exception innerException) : base(message, innerException) { }
}
