using XenSharp.Abi.Xenbus;
using XenSharp.Hypervisor;
using XenSharp.Tests.Devices;
using XenSharp.Tests.Hypervisor;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Domains;
using XenSharp.XenStore;

namespace XenSharp.Tests.Toolstack;

/// <summary>
/// Disks through domain creation and destruction (DomainManager on the fake accelerator): the
/// device nodes and a running backend exist before the guest starts, destroy unplugs them, and
/// a missing image fails create with nothing left behind.
/// </summary>
public sealed class DiskDevicesTests : IDisposable
{
    private readonly XenHypervisor _hv = new(new FakeAccelerator());
    private readonly Xenstored _xs = new();
    private readonly DomainManager _manager;
    private readonly TestImage _image = new();

    public DiskDevicesTests() => _manager = new DomainManager(_hv, _xs);

    private static DomainConfig Config(string disk) => DomainConfig.FromFile(XlConfigParser.Parse($"""
        name = "disky"
        type = "pvh"
        kernel = "builtin:demo"
        memory = 16
        disk = [ '{disk}' ]
        """, "/cfg/disky.cfg"));

    [Fact]
    public void Create_plugs_the_disk_before_the_guest_runs_and_destroy_unplugs_it()
    {
        var d = _manager.Create(Config($"format=raw, vdev=xvda, access=rw, target={_image.Path}"), "/", paused: true);
        string be = VbdXenStoreNodes.BackendPath(d.Id, 51712), fe = VbdXenStoreNodes.FrontendPath(d.Id, 51712);
        var vbd = Assert.Single(d.Disks);
        Assert.Equal(_image.Path, _xs.Read($"{be}/params"));
        Assert.Equal("1", _xs.Read($"{fe}/state"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_xs.Read($"{be}/state") != "2") { Assert.True(DateTime.UtcNow < deadline); Thread.Sleep(2); }
        Assert.Equal(XenbusState.InitWait, vbd.State);
        Assert.Equal("64", _xs.Read($"{be}/sectors"));

        _manager.Destroy(d);
        Assert.False(_xs.Exists(be));
        Assert.False(_xs.Exists(fe));
        Assert.Throws<ObjectDisposedException>(() => vbd.Image.Read(0, new byte[512]));
        Assert.Empty(_manager.List());
        Assert.Equal(_image.Original, _image.Bytes);
    }

    [Fact]
    public void A_missing_image_fails_create_first_and_leaves_nothing()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.img");
        var config = Config($"{missing},raw,xvda,rw");
        var e = Assert.Throws<ToolstackException>(() => _manager.Create(config, "/"));
        Assert.Equal($"/cfg/disky.cfg:5: disk: target {missing} does not exist", e.Message);
        Assert.Throws<ToolstackException>(() => _manager.Validate(config, "/"));
        Assert.Empty(_manager.List());
        Assert.Empty(_hv.Domains);
        Assert.False(_xs.Exists("/local/domain/0/backend/vbd"));
    }

    [Fact]
    public void A_relative_target_resolves_against_the_working_directory()
    {
        string dir = Path.GetDirectoryName(_image.Path)!;
        var config = Config($"{Path.GetFileName(_image.Path)},raw,xvdb,ro");
        Assert.Equal(_image.Path, DiskDevices.ImagePath(config.Disks[0], dir));
        var d = _manager.Create(config, dir, paused: true);
        Assert.Equal("r", _xs.Read($"{VbdXenStoreNodes.BackendPath(d.Id, (202 << 8) | 16)}/mode"));
        Assert.True(d.Disks[0].Image.ReadOnly);
        _manager.Destroy(d);
    }

    public void Dispose()
    {
        _manager.Dispose();
        _hv.Dispose();
        _image.Dispose();
    }
}
