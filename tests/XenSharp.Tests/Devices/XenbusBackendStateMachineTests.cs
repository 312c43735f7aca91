using XenSharp.Abi.Xenbus;
using XenSharp.Devices.Xenbus;

namespace XenSharp.Tests.Devices;

public class XenbusBackendStateMachineTests
{
    [Theory]
    [InlineData(XenbusState.InitWait, XenbusState.Initialising, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Closed, XenbusState.Initialising, XenbusBackendAction.Reinitialise, XenbusState.InitWait)]
    [InlineData(XenbusState.InitWait, XenbusState.Initialised, XenbusBackendAction.Connect, null)]
    [InlineData(XenbusState.InitWait, XenbusState.Connected, XenbusBackendAction.Connect, null)] // Initialised missed
    [InlineData(XenbusState.Closing, XenbusState.Connected, XenbusBackendAction.Connect, null)]
    [InlineData(XenbusState.Connected, XenbusState.Connected, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Initialised, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Closing, XenbusBackendAction.Disconnect, XenbusState.Closing)]
    [InlineData(XenbusState.Closing, XenbusState.Closing, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Closed, XenbusBackendAction.Disconnect, XenbusState.Closed)]
    [InlineData(XenbusState.Closing, XenbusState.Closed, XenbusBackendAction.Disconnect, XenbusState.Closed)]
    [InlineData(XenbusState.Closed, XenbusState.Closed, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Unknown, XenbusBackendAction.Disconnect, XenbusState.Closed)]
    [InlineData(XenbusState.InitWait, XenbusState.InitWait, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Reconfiguring, XenbusBackendAction.None, null)]
    [InlineData(XenbusState.Connected, XenbusState.Reconfigured, XenbusBackendAction.None, null)]
    public void Frontend_changes_drive_the_backend(XenbusState backend, XenbusState frontend, XenbusBackendAction action, XenbusState? next)
    {
        Assert.Equal(new XenbusTransition(action, next), XenbusBackendStateMachine.OnFrontendChanged(backend, frontend));
    }

    [Theory]
    [InlineData("0", XenbusState.Unknown)]
    [InlineData("1", XenbusState.Initialising)]
    [InlineData("3", XenbusState.Initialised)]
    [InlineData("8", XenbusState.Reconfigured)]
    [InlineData("9", XenbusState.Unknown)]
    [InlineData("-1", XenbusState.Unknown)]
    [InlineData(" 4", XenbusState.Unknown)]
    [InlineData("", XenbusState.Unknown)]
    [InlineData(null, XenbusState.Unknown)]
    public void State_nodes_parse_strictly(string? text, XenbusState expected) =>
        Assert.Equal(expected, XenbusBackendStateMachine.Parse(text));
}
