using System.Text;
using XenSharp.Toolstack.XenStore;
using XenSharp.XenStore;
using XenSharp.XenStore.Wire;

namespace XenSharp.Tests.Toolstack;

/// <summary>
/// The nodes the toolstack writes for a domain (libxl's layout) and who may do what with them,
/// checked through real wire requests from the guest's and another domain's connections.
/// </summary>
public sealed class DomainXenStoreNodesTests
{
    private const int Guest = 7;
    private const int Other = 8;
    private static readonly Guid Uuid = Guid.Parse("4f7c2a5e-0b1d-4c3e-9a8f-123456789abc");

    private static readonly DomainXenStoreNodes.Layout Layout = new(
        DomainId: Guest, Name: "web-1", Uuid: Uuid, MemoryKiB: 16384, MaxMemoryKiB: 32768, Vcpus: 2, MaxVcpus: 3,
        ConsoleFrame: 0xfeff0, ConsolePort: 2, StoreFrame: 0xfeff1, StorePort: 1);

    private readonly Xenstored _xs = new();

    public DomainXenStoreNodesTests() => DomainXenStoreNodes.Write(_xs, Layout);

    /// <summary>A client of one domain speaking the wire protocol to the store (one request, one reply).</summary>
    private sealed class Client
    {
        private readonly XenStoreConnection _connection;
        private readonly XsMessageReader _reader = new();
        private readonly List<XsMessage> _replies = [];
        private uint _id = 1;

        public Client(Xenstored xs, int domid) => _connection = xs.Connect(domid, bytes =>
        {
            var span = bytes.Span;
            while (_reader.TryRead(ref span, out var m) == XsReadStatus.Message)
                if (m.Type != XsMessageType.WatchEvent) _replies.Add(new XsMessage(m.Header, m.Payload.ToArray()));
        });

        /// <summary>The reply: its text (trailing NUL removed) or "ERROR name".</summary>
        public string Call(XsMessageType type, byte[] payload)
        {
            _replies.Clear();
            uint id = _id++;
            _connection.Receive(XsMessage.Encode(type, id, 0, payload));
            var r = Assert.Single(_replies);
            Assert.Equal(id, r.Header.RequestId);
            string text = XsPayload.Text(r.Payload.Span).TrimEnd('\0');
            return r.Type == XsMessageType.Error ? "ERROR " + text : text;
        }

        public string Read(string path) => Call(XsMessageType.Read, XsPayload.FromStrings(path));
        public string Write(string path, string value) => Call(XsMessageType.Write, XsPayload.StringThenBytes(path, Encoding.ASCII.GetBytes(value)));
        public string Directory(string path) => Call(XsMessageType.Directory, XsPayload.FromStrings(path)).Replace('\0', ' ');
        public string Rm(string path) => Call(XsMessageType.Rm, XsPayload.FromStrings(path));
    }

    private static string P(string rel) => $"/local/domain/{Guest}/{rel}";

    [Fact]
    public void Write_lays_out_libxl_nodes_with_their_values()
    {
        Assert.Equal("web-1", _xs.Read(P("name")));
        Assert.Equal("7", _xs.Read(P("domid")));
        Assert.Equal($"/vm/{Uuid}", _xs.Read(P("vm")));
        Assert.Equal("32768", _xs.Read(P("memory/static-max")));
        Assert.Equal("16384", _xs.Read(P("memory/target")));
        Assert.Equal("online", _xs.Read(P("cpu/0/availability")));
        Assert.Equal("online", _xs.Read(P("cpu/1/availability")));
        Assert.Equal("offline", _xs.Read(P("cpu/2/availability")));
        Assert.Equal(0xfeff0.ToString(), _xs.Read(P("console/ring-ref")));
        Assert.Equal("2", _xs.Read(P("console/port")));
        Assert.Equal(0xfeff1.ToString(), _xs.Read(P("store/ring-ref")));
        Assert.Equal("1", _xs.Read(P("store/port")));
        Assert.Equal("", _xs.Read(P("control/shutdown")));
        Assert.Equal("1", _xs.Read(P("control/platform-feature-xs_reset_watches")));
        foreach (var dir in new[] { "device", "data", "drivers", "attr", "error" })
            Assert.True(_xs.Exists(P(dir)), $"{P(dir)} is missing");

        Assert.Equal("web-1", _xs.Read($"/vm/{Uuid}/name"));
        Assert.Equal(Uuid.ToString(), _xs.Read($"/vm/{Uuid}/uuid"));
        Assert.True(long.TryParse(_xs.Read($"/vm/{Uuid}/start_time"), out long t) && t > 1_600_000_000, "start_time is not a recent Unix time");
    }

    [Fact]
    public void Write_sets_the_documented_permissions()
    {
        string[] readOnly = ["n0", $"r{Guest}"];
        string[] guestOwned = [$"n{Guest}"];
        Assert.Equal(readOnly, Perms($"/local/domain/{Guest}"));
        Assert.Equal(readOnly, Perms(P("name")));
        Assert.Equal(readOnly, Perms(P("device")));
        Assert.Equal(readOnly, Perms($"/vm/{Uuid}"));
        Assert.Equal(readOnly, Perms($"/vm/{Uuid}/name"));
        Assert.Equal(guestOwned, Perms(P("control/shutdown")));
        foreach (var dir in new[] { "data", "drivers", "attr", "error" })
            Assert.Equal(guestOwned, Perms(P(dir)));
    }

    private string[] Perms(string path) => [.. _xs.GetPermissions(path).Select(p => p.ToString())];

    [Fact]
    public void The_guest_can_read_its_home_but_not_write_the_toolstacks_nodes()
    {
        var guest = new Client(_xs, Guest);

        Assert.Equal("web-1", guest.Read(P("name")));
        Assert.Equal("web-1", guest.Read("name")); // relative to its home
        Assert.Contains("control", guest.Directory($"/local/domain/{Guest}"));
        Assert.Equal("web-1", guest.Read($"/vm/{Uuid}/name"));

        Assert.Equal("ERROR EACCES", guest.Write(P("name"), "evil"));
        Assert.Equal("ERROR EACCES", guest.Write(P("domid"), "0"));
        Assert.Equal("ERROR EACCES", guest.Write(P("memory/target"), "99999999"));
        Assert.Equal("ERROR EACCES", guest.Write(P("new-node"), "x"));
        Assert.Equal("ERROR EACCES", guest.Rm(P("name")));
        Assert.Equal("ERROR EACCES", guest.Write($"/vm/{Uuid}/name", "evil"));
        Assert.Equal("web-1", _xs.Read(P("name")));
    }

    [Fact]
    public void The_guest_can_write_its_data_and_control_shutdown()
    {
        var guest = new Client(_xs, Guest);

        Assert.Equal("OK", guest.Write(P("data/greeting"), "hello"));
        Assert.Equal("OK", guest.Write("data/relative", "yes"));
        Assert.Equal("OK", guest.Write(P("control/shutdown"), "")); // acknowledging a request
        Assert.Equal("OK", guest.Write(P("drivers/0"), "linux"));
        Assert.Equal("OK", guest.Write(P("attr/x"), "1"));
        Assert.Equal("OK", guest.Write(P("error/x"), "1"));

        Assert.Equal("hello", _xs.Read(P("data/greeting")));
        Assert.Equal("yes", _xs.Read(P("data/relative")));
        Assert.Equal("hello", guest.Read(P("data/greeting")));
        Assert.Equal([$"n{Guest}"], Perms(P("data/greeting"))); // inherited: the guest's own
    }

    [Fact]
    public void Another_domain_can_neither_read_nor_write_the_guests_nodes()
    {
        _xs.Write(P("data/secret"), "s3cr3t");
        _xs.SetPermissions(P("data/secret"), XenStorePermission.NoAccess(Guest));
        var other = new Client(_xs, Other);

        Assert.Equal("ERROR EACCES", other.Read(P("name")));
        Assert.Equal("ERROR EACCES", other.Read(P("data/secret")));
        Assert.Equal("ERROR EACCES", other.Read(P("control/shutdown")));
        Assert.Equal("ERROR EACCES", other.Directory($"/local/domain/{Guest}"));
        Assert.Equal("ERROR EACCES", other.Read($"/vm/{Uuid}/name"));
        Assert.Equal("ERROR EACCES", other.Write(P("data/x"), "1"));
        Assert.Equal("ERROR EACCES", other.Write(P("control/shutdown"), "poweroff"));
        Assert.Equal("", _xs.Read(P("control/shutdown")));
    }

    [Fact]
    public void Remove_deletes_the_domain_and_vm_nodes_and_leaves_others()
    {
        var second = Layout with { DomainId = 9, Name = "web-2", Uuid = Guid.NewGuid() };
        DomainXenStoreNodes.Write(_xs, second);

        DomainXenStoreNodes.Remove(_xs, Guest, Uuid);

        Assert.False(_xs.Exists($"/local/domain/{Guest}"));
        Assert.False(_xs.Exists($"/vm/{Uuid}"));
        Assert.Null(_xs.Read(P("name")));
        Assert.Equal("web-2", _xs.Read("/local/domain/9/name"));
        Assert.True(_xs.Exists($"/vm/{second.Uuid}"));
        Assert.Empty(_xs.CheckInvariants());

        DomainXenStoreNodes.Remove(_xs, Guest, Uuid); // a second removal is harmless
        Assert.Equal("web-2", _xs.Read("/local/domain/9/name"));
    }
}
