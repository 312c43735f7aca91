using XenSharp.Abi.Block;
using XenSharp.Abi.Hypercalls;
using XenSharp.Abi.Xenbus;
using XenSharp.Devices.Block;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Tests.Hypervisor;
using XenSharp.XenStore;

namespace XenSharp.Tests.Devices;

/// <summary>
/// The xenbus handshake of one vbd against the in-process xenstored and a real domain: the
/// toolstack's nodes and permissions, InitWait with the features, connection on the frontend's
/// Initialised (ring mapped, the guest's unbound port bound from the host), requests served on
/// the device thread when the guest kicks, disconnection on Closing/Closed, and unplug.
/// </summary>
public sealed class VbdBackendTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Xenstored _xs = new();
    private readonly BlkifTestFrontend _front;
    private readonly TestImage _file = new();
    private readonly VbdBackend _vbd;
    private readonly List<string> _log = [];
    private readonly int _domid;
    private readonly DiskSpec _disk;

    public VbdBackendTests()
    {
        _front = new BlkifTestFrontend(BlkifAbi.X86_32, ringPages: 2);
        _domid = _front.G.Id;
        EventChannelHostPeerTests.PlaceSharedInfo(_front.T);
        _disk = DiskSpecParser.Parse($"{_file.Path},raw,xvdb,rw", "vm.cfg:1");
        VbdXenStoreNodes.Write(_xs, _domid, _disk, _file.Path);
        _vbd = new VbdBackend(_xs, _front.G, _disk.VirtualDevice, Be, Fe, RawImage.Open(_file.Path, false))
        {
            Log = m => { lock (_log) _log.Add(m); },
        };
        _vbd.Start();
    }

    private string Be => VbdXenStoreNodes.BackendPath(_domid, _disk.VirtualDevice);
    private string Fe => VbdXenStoreNodes.FrontendPath(_domid, _disk.VirtualDevice);

    private void WaitFor(XenbusState state)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (_xs.Read($"{Be}/state") != ((int)state).ToString())
        {
            Assert.True(DateTime.UtcNow < deadline, $"backend state {_xs.Read($"{Be}/state")}, expected {state}; log: {string.Join(" | ", _log)}");
            Thread.Sleep(2);
        }
    }

    private uint Connect(string? protocol = BlkifAbi.X86_32Name)
    {
        int port = _front.G.EventChannels.AllocUnbound(0);
        Assert.True(port > 0);
        _xs.Write($"{Fe}/ring-page-order", "1");
        _xs.Write($"{Fe}/ring-ref0", BlkifTestFrontend.RingRef.ToString());
        _xs.Write($"{Fe}/ring-ref1", (BlkifTestFrontend.RingRef + 1).ToString());
        _xs.Write($"{Fe}/event-channel", port.ToString());
        if (protocol is not null) _xs.Write($"{Fe}/protocol", protocol);
        _xs.Write($"{Fe}/state", "3");
        return (uint)port;
    }

    [Fact]
    public void The_toolstack_nodes_are_laid_out_as_libxl_does_with_their_permissions()
    {
        Assert.Equal(Fe, _xs.Read($"{Be}/frontend"));
        Assert.Equal(_domid.ToString(), _xs.Read($"{Be}/frontend-id"));
        Assert.Equal("1", _xs.Read($"{Be}/online"));
        Assert.Equal(_file.Path, _xs.Read($"{Be}/params"));
        Assert.Equal("w", _xs.Read($"{Be}/mode"));
        Assert.Equal("xvdb", _xs.Read($"{Be}/dev"));
        Assert.Equal("disk", _xs.Read($"{Be}/device-type"));
        Assert.Equal(Be, _xs.Read($"{Fe}/backend"));
        Assert.Equal("0", _xs.Read($"{Fe}/backend-id"));
        Assert.Equal(((202 << 8) | 16).ToString(), _xs.Read($"{Fe}/virtual-device"));
        Assert.Equal([XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(_domid)], _xs.GetPermissions($"{Be}/state"));
        Assert.Equal([XenStorePermission.NoAccess(_domid), XenStorePermission.ReadOnly(0)], _xs.GetPermissions($"{Fe}/state"));
        Assert.Equal([XenStorePermission.NoAccess(_domid), XenStorePermission.ReadOnly(0)], _xs.GetPermissions(Fe));
    }

    [Fact]
    public void Start_publishes_the_features_and_waits_in_InitWait()
    {
        WaitFor(XenbusState.InitWait);
        Assert.Equal("1", _xs.Read($"{Be}/feature-flush-cache"));
        Assert.Equal("1", _xs.Read($"{Be}/feature-barrier"));
        Assert.Equal("1", _xs.Read($"{Be}/feature-discard"));
        Assert.Equal("512", _xs.Read($"{Be}/discard-granularity"));
        Assert.Equal("256", _xs.Read($"{Be}/feature-max-indirect-segments"));
        Assert.Equal("4", _xs.Read($"{Be}/max-ring-page-order"));
        Assert.Equal("64", _xs.Read($"{Be}/sectors"));
        Assert.Equal("512", _xs.Read($"{Be}/sector-size"));
        Assert.Equal("0", _xs.Read($"{Be}/info"));
    }

    [Fact]
    public void The_handshake_connects_serves_kicks_and_disconnects()
    {
        var events = _front.G.EventChannels;
        uint port = Connect();
        WaitFor(XenbusState.Connected);
        Assert.Equal(BlkifAbi.X86_32, _vbd.Protocol);
        Assert.Equal(2, _vbd.RingPages);
        Assert.Equal(0, events.Status(port, out var st));
        Assert.Equal(EventChannelStatus.Interdomain, st.Status);
        Assert.Equal(0, st.RemoteDomainId);

        // The guest queues a write and kicks: the device thread serves it and notifies.
        _front.T.Poke(BlkifTestFrontend.DataGpa(3), Enumerable.Range(0, 4096).Select(i => (byte)(i ^ 0x5A)).ToArray());
        _front.Queue(BlkifOp.Write, 77, 2, [BlkifTestFrontend.Seg(3)]);
        _front.Publish();
        _front.G.EventAbi.ClearPending((int)port);
        Assert.Equal(0, events.Send(port));
        var deadline = DateTime.UtcNow + Timeout;
        while (_front.RspProd == 0) { Assert.True(DateTime.UtcNow < deadline, "no response"); Thread.Sleep(1); }
        Assert.Equal((77UL, BlkifOp.Write, BlkifStatus.Okay), _front.Take());
        var deadline2 = DateTime.UtcNow + Timeout;
        while (!events.IsPending(port)) { Assert.True(DateTime.UtcNow < deadline2, "the guest was not notified"); Thread.Sleep(1); }
        Assert.Equal(Enumerable.Range(0, 4096).Select(i => (byte)(i ^ 0x5A)).ToArray(), _file.Bytes[1024..5120]);

        _xs.Write($"{Fe}/state", "5");
        WaitFor(XenbusState.Closing);
        Assert.Equal(0, _front.G.Grants.MappingCount);
        Assert.Equal(0, events.Status(port, out st));
        Assert.Equal(EventChannelStatus.Unbound, st.Status);   // given back, offered to dom0 again
        _xs.Write($"{Fe}/state", "6");
        WaitFor(XenbusState.Closed);

        // The frontend starts over: InitWait, and it can connect again.
        _xs.Write($"{Fe}/state", "1");
        WaitFor(XenbusState.InitWait);
        Assert.Equal(0, events.Close(port));
        Connect();
        WaitFor(XenbusState.Connected);
    }

    [Theory]
    [InlineData("arm-abi")]
    public void A_bad_protocol_closes_the_backend(string protocol)
    {
        Connect(protocol);
        WaitFor(XenbusState.Closing);
        Assert.Equal(0, _front.G.Grants.MappingCount);
        Assert.Contains(_log, l => l.Contains("unknown protocol", StringComparison.Ordinal));
    }

    [Fact]
    public void Bad_transport_parameters_close_the_backend_without_mapping()
    {
        _xs.Write($"{Fe}/ring-page-order", "5");
        _xs.Write($"{Fe}/state", "3");
        WaitFor(XenbusState.Closing);
        _xs.Write($"{Fe}/state", "6");
        WaitFor(XenbusState.Closed);
        _xs.Write($"{Fe}/state", "1");
        WaitFor(XenbusState.InitWait);
        _xs.Write($"{Fe}/ring-page-order", "0");
        _xs.Write($"{Fe}/ring-ref", "400");        // not granted
        _xs.Write($"{Fe}/event-channel", "5");
        _xs.Write($"{Fe}/state", "3");
        WaitFor(XenbusState.Closing);
        Assert.Equal(0, _front.G.Grants.MappingCount);
    }

    [Fact]
    public void Unplug_unmaps_everything_and_removes_the_nodes()
    {
        uint port = Connect();
        WaitFor(XenbusState.Connected);
        Assert.Equal(2, _front.G.Grants.MappingCount);
        DiskDevices.Unplug(_xs, _domid, [_vbd]);
        Assert.Equal(0, _front.G.Grants.MappingCount);
        Assert.False(_xs.Exists(Be));
        Assert.False(_xs.Exists(Fe));
        Assert.False(_xs.Exists($"/local/domain/0/backend/vbd/{_domid}"));
        Assert.Equal(0, _front.G.EventChannels.Status(port, out var st));
        Assert.Equal(EventChannelStatus.Unbound, st.Status);
        Assert.Throws<ObjectDisposedException>(() => _vbd.Image.Read(0, new byte[512]));
    }

    public void Dispose()
    {
        _vbd.Dispose();
        _front.Dispose();
        _file.Dispose();
    }
}
