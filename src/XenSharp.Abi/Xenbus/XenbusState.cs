namespace XenSharp.Abi.Xenbus;

/// <summary>enum xenbus_state (io/xenbus.h): the value of a device's frontend and backend <c>state</c> nodes.</summary>
public enum XenbusState
{
    Unknown = 0,
    Initialising = 1,
    /// <summary>The backend published its features and waits for the frontend's transport parameters.</summary>
    InitWait = 2,
    /// <summary>The frontend published its transport parameters (ring, event channel, protocol).</summary>
    Initialised = 3,
    Connected = 4,
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}
