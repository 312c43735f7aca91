namespace XenSharp.Abi.X86;

/// <summary>
/// struct xenstore_domain_interface (io/xs_wire.h): the guest's XenStore ring page. The guest
/// produces requests into <c>req</c> and consumes replies from <c>rsp</c>; indices are
/// free-running u32s masked by the ring size.
/// </summary>
public static class XenStoreDomainInterface
{
    public const int RingSize = 1024;
    public const int ReqOffset = 0;
    public const int RspOffset = 1024;
    public const int ReqConsOffset = 2048;
    public const int ReqProdOffset = 2052;
    public const int RspConsOffset = 2056;
    public const int RspProdOffset = 2060;
    public const int ServerFeaturesOffset = 2064;
    public const int ConnectionOffset = 2068;
    public const int ErrorOffset = 2072;

    /// <summary>XENSTORE_CONNECTED / XENSTORE_RECONNECT values of the connection field.</summary>
    public const uint Connected = 0;
    public const uint Reconnect = 1;
    /// <summary>XENSTORE_ERROR_* values of the error field.</summary>
    public const uint ErrorNone = 0;
    public const uint ErrorComm = 1;
    public const uint ErrorRingIdx = 2;
    public const uint ErrorProto = 3;
}
