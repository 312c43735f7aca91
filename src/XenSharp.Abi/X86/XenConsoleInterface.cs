namespace XenSharp.Abi.X86;

/// <summary>
/// struct xencons_interface (io/console.h): the PV console ring page. The guest produces into
/// <c>out</c> and the backend into <c>in</c>; indices are free-running u32s masked by size.
/// </summary>
public static class XenConsoleInterface
{
    public const int InOffset = 0;
    public const int InSize = 1024;
    public const int OutOffset = 1024;
    public const int OutSize = 2048;
    public const int InConsOffset = 3072;
    public const int InProdOffset = 3076;
    public const int OutConsOffset = 3080;
    public const int OutProdOffset = 3084;
}
