using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class PermissionTests
{
    private readonly Xenstored _store = StoreSetup.Create();
    private readonly TestClient _dom0, _dom1, _dom2;

    public PermissionTests()
    {
        _dom0 = new TestClient(_store, 0);
        _dom1 = new TestClient(_store, 1);
        _dom2 = new TestClient(_store, 2);
    }

    [Fact]
    public void GuestCannotTouchControlDomainNodes()
    {
        Expect.Error("EACCES", _dom1.Read("/local/domain/0/secret"));
        Expect.Error("EACCES", _dom1.Write("/local/domain/0/secret", "mine"));
        Expect.Error("EACCES", _dom1.Write("/local/domain/0/new", "x"));
        Expect.Error("EACCES", _dom1.Rm("/local/domain/0/secret"));
        Expect.Error("EACCES", _dom1.Directory("/local/domain/0"));
        Expect.Error("EACCES", _dom1.GetPerms("/local/domain/0/secret"));
        Expect.Error("EACCES", _dom1.Write("/toplevel", "x"));
        Assert.Equal("dom0-only", _store.Read("/local/domain/0/secret"));
        Assert.Null(_store.Read("/toplevel"));
    }

    [Fact]
    public void GuestsCannotTouchEachOther()
    {
        Expect.Ok(_dom2.Write("data/key", "two"));
        Expect.Error("EACCES", _dom1.Read("/local/domain/2/data/key"));
        Expect.Error("EACCES", _dom1.Write("/local/domain/2/data/key", "one"));
        Expect.Error("EACCES", _dom1.Rm("/local/domain/2/data"));
        Expect.Error("EACCES", _dom1.SetPerms("/local/domain/2/data/key", "b2", "r1"));
        Expect.Value("two", _dom2.Read("data/key"));
    }

    [Fact]
    public void MissingNodesBehindForbiddenParentsLookForbidden()
    {
        // Not revealing existence: ENOENT only where the caller could read the parent.
        Expect.Error("EACCES", _dom1.Read("/local/domain/0/does-not-exist"));
        Expect.Error("EACCES", _dom1.Read("/local/domain/2/does-not-exist"));
        Expect.Error("ENOENT", _dom1.Read("does-not-exist"));
        Expect.Error("ENOENT", _dom1.Read("a/b/c"));
    }

    [Fact]
    public void CreatedNodesInheritParentPermissions()
    {
        // Control domain writing below a guest's node: the guest's list is copied unchanged.
        _store.SetPermissions("/local/domain/1", XenStorePermission.NoAccess(1), XenStorePermission.ReadOnly(2));
        Expect.Ok(_dom0.Write("/local/domain/1/by-dom0/x", "v"));
        Expect.Value("n1\0r2\0", _dom0.GetPerms("/local/domain/1/by-dom0"));
        Expect.Value("n1\0r2\0", _dom0.GetPerms("/local/domain/1/by-dom0/x"));

        // A guest creating nodes becomes their owner; the rest of the list is inherited.
        _store.Mkdir("/shared");
        _store.SetPermissions("/shared", XenStorePermission.ReadOnly(0), XenStorePermission.ReadWrite(1), XenStorePermission.ReadWrite(2));
        Expect.Ok(_dom1.Write("/shared/from1/leaf", "hello"));
        Expect.Value("r1\0b1\0b2\0", _dom1.GetPerms("/shared/from1"));
        Expect.Value("r1\0b1\0b2\0", _dom1.GetPerms("/shared/from1/leaf"));
        Expect.Value("hello", _dom2.Read("/shared/from1/leaf"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void DefaultAccessComesFromTheFirstEntry()
    {
        _store.Write("/pub/x", "visible");
        _store.SetPermissions("/pub/x", XenStorePermission.ReadOnly(0));
        _store.SetPermissions("/pub", XenStorePermission.ReadOnly(0));
        Expect.Value("visible", _dom1.Read("/pub/x"));
        Expect.Error("EACCES", _dom1.Write("/pub/x", "no"));

        _store.SetPermissions("/pub/x", XenStorePermission.ReadOnly(0), XenStorePermission.NoAccess(2));
        Expect.Value("visible", _dom1.Read("/pub/x"));
        Expect.Error("EACCES", _dom2.Read("/pub/x"));

        _store.SetPermissions("/pub/x", XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(XenStorePermission.DomidAny));
        Expect.Value("visible", _dom2.Read("/pub/x"));
        _store.SetPermissions("/pub/x", XenStorePermission.NoAccess(0), XenStorePermission.WriteOnly(1));
        Expect.Ok(_dom1.Write("/pub/x", "written"));
        Expect.Error("EACCES", _dom1.Read("/pub/x"));
        Assert.Equal("written", _store.Read("/pub/x"));
    }

    [Fact]
    public void OwnerChangeRules()
    {
        Expect.Ok(_dom1.Write("data/x", "1"));
        // The owner may change the other entries...
        Expect.Ok(_dom1.SetPerms("data/x", "n1", "r2"));
        Expect.Value("1", _dom2.Read("/local/domain/1/data/x"));
        // ...but not give the node away.
        Expect.Error("EPERM", _dom1.SetPerms("data/x", "n2"));
        // A non-owner with write access may not change permissions.
        Expect.Ok(_dom1.SetPerms("data/x", "n1", "b2"));
        Expect.Ok(_dom2.Write("/local/domain/1/data/x", "2"));
        Expect.Error("EACCES", _dom2.SetPerms("/local/domain/1/data/x", "n1", "b2", "r3"));
        // The control domain may.
        Expect.Ok(_dom0.SetPerms("/local/domain/1/data/x", "b2"));
        Expect.Ok(_dom2.SetPerms("/local/domain/1/data/x", "r2", "b1"));
        Expect.Value("r2\0b1\0", _dom1.GetPerms("data/x"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void TargetDomainActsForItsTarget()
    {
        _store.IntroduceDomain(1);
        _store.IntroduceDomain(3);
        Expect.Ok(_dom1.Write("data/x", "1"));
        var dom3 = new TestClient(_store, 3);
        Expect.Error("EACCES", dom3.Read("/local/domain/1/data/x"));

        Expect.Error("EACCES", _dom1.Call(XsMessageType.SetTarget, "3", "1"));
        Expect.Error("ENOENT", _dom0.Call(XsMessageType.SetTarget, "3", "9"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetTarget, "3"));
        Expect.Ok(_dom0.Call(XsMessageType.SetTarget, "3", "1"));

        Expect.Value("1", dom3.Read("/local/domain/1/data/x"));
        Expect.Ok(dom3.Write("/local/domain/1/data/y", "from3"));
        // An unprivileged creator owns what it creates, target or not (as xenstored).
        Expect.Value("n3\0", dom3.GetPerms("/local/domain/1/data/y"));
        Expect.Error("EPERM", dom3.SetPerms("/local/domain/1/data/y", "n1"));
        Expect.Ok(dom3.SetPerms("/local/domain/1/data/x", "n1", "r2"));
        Expect.Error("EACCES", dom3.Read("/local/domain/2"));
        Expect.Error("EACCES", dom3.Read("/local/domain/0/secret"));
    }

    [Fact]
    public void ControlDomainOnlyRequests()
    {
        foreach (var (type, args) in new (XsMessageType, string[])[]
        {
            (XsMessageType.Control, ["print", "x"]),
            (XsMessageType.Introduce, ["5", "100", "3"]),
            (XsMessageType.Release, ["2"]),
            (XsMessageType.IsDomainIntroduced, ["1"]),
            (XsMessageType.Resume, ["2"]),
            (XsMessageType.SetTarget, ["2", "1"]),
            (XsMessageType.SetFeature, ["2", "0"]),
            (XsMessageType.GetQuota, []),
            (XsMessageType.SetQuota, ["nodes", "5"]),
        })
        {
            Expect.Error("EACCES", _dom1.Call(type, args));
        }
        Expect.Error("EACCES", _dom1.Call(XsMessageType.GetFeature, "0"));
        Expect.Value("12\0", _dom1.Call(XsMessageType.GetFeature, []));
    }

    [Fact]
    public void PermissionEntriesLimitedForGuests()
    {
        Expect.Ok(_dom1.Write("data/x", "1"));
        Expect.Ok(_dom1.SetPerms("data/x", "n1", "r2", "r3", "r4"));        // 4 entries: below the quota of 5
        Expect.Error("ENOSPC", _dom1.SetPerms("data/x", "n1", "r2", "r3", "r4", "r5"));
        Expect.Ok(_dom0.SetPerms("/local/domain/1/data/x", "n1", "r2", "r3", "r4", "r5", "r6"));
    }
}
