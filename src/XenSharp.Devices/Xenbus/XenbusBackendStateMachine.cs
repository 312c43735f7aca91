using XenSharp.Abi.Xenbus;

namespace XenSharp.Devices.Xenbus;

/// <summary>
/// The backend half of the xenbus handshake (io/blkif.h "STATE DIAGRAMS", Linux's
/// xen-blkback frontend_changed), as pure logic: given the backend's state and the frontend's
/// new state, what to do.
/// <code>
///   frontend Initialising         backend Closed → Reinitialise (InitWait); else nothing
///   frontend Initialised/Connected backend Connected → nothing; else Connect
///                                 (a frontend may skip Initialised, or two watches may fire
///                                 before the backend looks: it connects either way)
///   frontend Closing              Disconnect → Closing
///   frontend Closed / Unknown     Disconnect → Closed   (Unknown: the frontend's node is gone)
///   frontend InitWait, Reconfiguring, Reconfigured, anything else: nothing
/// </code>
/// </summary>
public static class XenbusBackendStateMachine
{
    public static XenbusTransition OnFrontendChanged(XenbusState backend, XenbusState frontend) => frontend switch
    {
        XenbusState.Initialising => backend == XenbusState.Closed
            ? new(XenbusBackendAction.Reinitialise, XenbusState.InitWait)
            : new(XenbusBackendAction.None, null),
        XenbusState.Initialised or XenbusState.Connected => backend == XenbusState.Connected
            ? new(XenbusBackendAction.None, null)
            : new(XenbusBackendAction.Connect, null),
        XenbusState.Closing => backend is XenbusState.Closing or XenbusState.Closed
            ? new(XenbusBackendAction.None, null)
            : new(XenbusBackendAction.Disconnect, XenbusState.Closing),
        XenbusState.Closed or XenbusState.Unknown => backend == XenbusState.Closed
            ? new(XenbusBackendAction.None, null)
            : new(XenbusBackendAction.Disconnect, XenbusState.Closed),
        _ => new(XenbusBackendAction.None, null),
    };

    /// <summary>
    /// Parses a state node: a decimal 0..8; null, empty or anything else reads as Unknown (a
    /// frontend that writes garbage is treated as gone).
    /// </summary>
    public static XenbusState Parse(string? value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
        && n is >= 0 and <= (int)XenbusState.Reconfigured
            ? (XenbusState)n
            : XenbusState.Unknown;

    /// <summary>The state node's value.</summary>
    public static string Format(XenbusState state) => ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
