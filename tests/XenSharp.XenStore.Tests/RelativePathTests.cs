using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class RelativePathTests
{
    [Fact]
    public void RelativePathsAreBelowTheCallersHome()
    {
        var store = StoreSetup.Create();
        var dom1 = new TestClient(store, 1);
        Expect.Ok(dom1.Write("device/vif/0/state", "1"));
        Assert.Equal("1", store.Read("/local/domain/1/device/vif/0/state"));
        Expect.Value("1", dom1.Read("/local/domain/1/device/vif/0/state"));
        Expect.Value("vif\0", dom1.Directory("device"));
        Expect.Ok(dom1.Rm("device/vif"));
        Assert.Null(store.Read("/local/domain/1/device/vif"));
        Expect.Error("EINVAL", dom1.Read(""));

        var dom0 = new TestClient(store, 0);
        Expect.Ok(dom0.Write("name", "Domain-0"));
        Assert.Equal("Domain-0", store.Read("/local/domain/0/name"));
    }

    [Fact]
    public void RelativeWatchesReportRelativePaths()
    {
        var store = StoreSetup.Create();
        var dom1 = new TestClient(store, 1);
        Expect.Ok(dom1.Watch("control", "tok"));
        Assert.Equal([("control", "tok")], dom1.TakeEvents());
        store.Write("/local/domain/1/control/shutdown", "poweroff");
        Assert.Equal([("control/shutdown", "tok")], dom1.TakeEvents());
        Expect.Ok(dom1.Unwatch("/local/domain/1/control", "tok")); // the same watch, named absolutely
        store.Write("/local/domain/1/control/shutdown", "reboot");
        Assert.Empty(dom1.TakeEvents());
    }

    [Fact]
    public void RelativePathLengthQuotaCountsBelowHome()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { PathMax = 20 });
        var dom1 = new TestClient(store, 1);
        Expect.Ok(dom1.Write(new string('a', 19), "x"));
        Expect.Error("EINVAL", dom1.Write(new string('a', 20), "x"));
        Expect.Error("EINVAL", dom1.Call(XsMessageType.Watch, new string('b', 20), "t"));
    }
}
