namespace XenSharp.Abi.Hypercalls;

/// <summary>console_io sub-commands (CONSOLEIO_* in xen.h).</summary>
public static class ConsoleIoOp
{
    public const int Write = 0;
    public const int Read = 1;
}
