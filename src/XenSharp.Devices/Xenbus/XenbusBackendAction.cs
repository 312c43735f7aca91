namespace XenSharp.Devices.Xenbus;

/// <summary>What a backend does when its frontend's state changes (<see cref="XenbusBackendStateMachine"/>).</summary>
public enum XenbusBackendAction
{
    /// <summary>Nothing to do.</summary>
    None,
    /// <summary>Publish the features again and go to InitWait (a frontend starting over after Closed).</summary>
    Reinitialise,
    /// <summary>Read the frontend's transport parameters, map the ring, bind the event channel; Connected (or Closing on failure).</summary>
    Connect,
    /// <summary>Unmap the ring and unbind the event channel, then go to <see cref="XenbusTransition.Next"/>.</summary>
    Disconnect,
}

/// <summary>An action and the backend state to switch to afterwards (null: decided by the action's outcome, or unchanged).</summary>
public readonly record struct XenbusTransition(XenbusBackendAction Action, XenSharp.Abi.Xenbus.XenbusState? Next);
