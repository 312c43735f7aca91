using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class NodeOperationTests
{
    private readonly Xenstored _store = StoreSetup.Create();
    private readonly TestClient _dom0;

    public NodeOperationTests() => _dom0 = new TestClient(_store, 0);

    [Fact]
    public void InitialStructureIsXenstoreds()
    {
        Expect.Value("tool\0local\0", _dom0.Directory("/"));
        Expect.Value("xenstored\0", _dom0.Directory("/tool"));
        Expect.Value("n0\0", _dom0.GetPerms("/"));
        Expect.Value("n0\0r32757\0", _dom0.GetPerms("@releaseDomain"));
        Expect.Value("n0\0", _dom0.GetPerms("@introduceDomain"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void WriteThenRead()
    {
        Expect.Ok(_dom0.Write("/vm/abc/name", "guest"));
        Expect.Value("guest", _dom0.Read("/vm/abc/name"));
        Expect.Value("", _dom0.Read("/vm/abc"));          // created parent, empty value
        Expect.Value("abc\0", _dom0.Directory("/vm"));
        Expect.Ok(_dom0.Write("/vm/abc/name", "other"));
        Expect.Value("other", _dom0.Read("/vm/abc/name"));
    }

    [Fact]
    public void ValuesAreBinary()
    {
        byte[] value = [0, 1, 2, 0, 255];
        var r = _dom0.Call(XsMessageType.Write, XsPayload.StringThenBytes("/bin", value));
        Expect.Ok(r);
        Assert.Equal(value, _dom0.Read("/bin").Payload);
        Expect.Ok(_dom0.Write("/empty", ""));
        Assert.Empty(_dom0.Read("/empty").Payload);
    }

    [Fact]
    public void ReadErrors()
    {
        Expect.Error("ENOENT", _dom0.Read("/nope"));
        Expect.Error("EINVAL", _dom0.Read("/bad/"));
        Expect.Error("EINVAL", _dom0.Read("@releaseDomain"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Read, Encoding.ASCII.GetBytes("/tool")));           // no NUL
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Read, XsPayload.FromStrings("/tool", "extra")));   // two args
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.Write, Encoding.ASCII.GetBytes("/nonul")));
    }

    [Fact]
    public void MkdirKeepsExistingValue()
    {
        Expect.Ok(_dom0.Write("/a", "v"));
        Expect.Ok(_dom0.Mkdir("/a"));
        Expect.Value("v", _dom0.Read("/a"));
        Expect.Ok(_dom0.Mkdir("/b/c/d"));
        Expect.Value("", _dom0.Read("/b/c/d"));
        Expect.Error("EINVAL", _dom0.Mkdir("/b//c"));
    }

    [Fact]
    public void RmRemovesSubtree()
    {
        _store.Write("/a/b/c", "1");
        _store.Write("/a/b/d", "2");
        _store.Write("/a/e", "3");
        Expect.Ok(_dom0.Rm("/a/b"));
        Expect.Error("ENOENT", _dom0.Read("/a/b/c"));
        Expect.Error("ENOENT", _dom0.Read("/a/b"));
        Expect.Value("e\0", _dom0.Directory("/a"));
        Expect.Ok(_dom0.Rm("/a/b"));               // missing, parent exists: fine
        Expect.Error("ENOENT", _dom0.Rm("/a/x/y")); // parent missing too
        Expect.Error("EINVAL", _dom0.Rm("/"));
        Assert.Empty(_store.CheckInvariants());
    }

    [Fact]
    public void DirectoryKeepsCreationOrder()
    {
        foreach (var name in new[] { "zeta", "alpha", "mid" }) _store.Write("/d/" + name, "");
        Expect.Value("zeta\0alpha\0mid\0", _dom0.Directory("/d"));
        _store.Remove("/d/alpha");
        _store.Write("/d/alpha", "");
        Expect.Value("zeta\0mid\0alpha\0", _dom0.Directory("/d"));
        Expect.Value("", _dom0.Directory("/d/mid"));
    }

    [Fact]
    public void GetAndSetPerms()
    {
        _store.Write("/p", "x");
        Expect.Value("n0\0", _dom0.GetPerms("/p"));
        Expect.Ok(_dom0.SetPerms("/p", "b1", "r2", "w3", "n4"));
        Expect.Value("b1\0r2\0w3\0n4\0", _dom0.GetPerms("/p"));
        Expect.Error("EINVAL", _dom0.SetPerms("/p", "x1"));
        Expect.Error("EINVAL", _dom0.SetPerms("/p", "r1z"));
        Expect.Error("EINVAL", _dom0.Call(XsMessageType.SetPerms, "/p"));
        Expect.Error("ENOENT", _dom0.SetPerms("/p", "b40000"));   // owner is no real domain
        Expect.Error("ENOENT", _dom0.SetPerms("/missing", "b0"));
        Expect.Value("b1\0r2\0w3\0n4\0", _dom0.GetPerms("/p"));
        Expect.Ok(_dom0.SetPerms("@introduceDomain", "n0", "r1"));
        Expect.Value("n0\0r1\0", _dom0.GetPerms("@introduceDomain"));
    }

    [Fact]
    public void DirectoryPartPagesLongLists()
    {
        var names = Enumerable.Range(0, 700).Select(i => $"child-number-{i:D4}").ToList();
        foreach (var n in names) _store.Mkdir("/big/" + n);

        // DIRECTORY cannot carry it: E2BIG.
        Expect.Error("E2BIG", _dom0.Directory("/big"));

        var collected = new List<string>();
        string? generation = null;
        int offset = 0;
        while (true)
        {
            var r = _dom0.Call(XsMessageType.DirectoryPart, "/big", offset.ToString());
            Assert.False(r.IsError, r.ToString());
            Assert.True(r.Payload.Length <= 4096);
            var parts = XsPayload.Strings(r.Payload);
            generation ??= parts[0];
            Assert.Equal(generation, parts[0]);
            bool end = r.Payload.Length >= 2 && r.Payload[^1] == 0 && r.Payload[^2] == 0;
            var chunk = parts.Skip(1).Where(s => s.Length > 0).ToList();
            collected.AddRange(chunk);
            offset += chunk.Sum(c => c.Length + 1);
            if (end) break;
        }
        Assert.Equal(names, collected);

        // Past the end: generation and the end mark only.
        var tail = _dom0.Call(XsMessageType.DirectoryPart, "/big", "999999");
        Assert.Equal(Encoding.ASCII.GetBytes(generation + "\0\0"), tail.Payload);

        // The generation changes when the child list does.
        _store.Mkdir("/big/one-more");
        var after = _dom0.Call(XsMessageType.DirectoryPart, "/big", "0");
        Assert.NotEqual(generation, XsPayload.Strings(after.Payload)[0]);

        Expect.Error("EINVAL", _dom0.Call(XsMessageType.DirectoryPart, "/big"));
        Expect.Error("ENOENT", _dom0.Call(XsMessageType.DirectoryPart, "/nothing", "0"));
    }

    [Fact]
    public void SmallDirectoryPartEndsWithDoubleNul()
    {
        _store.Mkdir("/s/a");
        _store.Mkdir("/s/b");
        var r = _dom0.Call(XsMessageType.DirectoryPart, "/s", "0");
        var text = XsPayload.Text(r.Payload);
        Assert.EndsWith("\0a\0b\0\0", text);
        var fromB = _dom0.Call(XsMessageType.DirectoryPart, "/s", "2");
        Assert.EndsWith("\0b\0\0", XsPayload.Text(fromB.Payload));
    }

    [Fact]
    public void ToolstackHelpers()
    {
        _store.Write("/t/x", "1");
        Assert.Equal("1", _store.Read("/t/x"));
        Assert.Null(_store.Read("/t/none"));
        Assert.True(_store.Exists("/t"));
        Assert.False(_store.Exists("/t/none"));
        Assert.Equal(["x"], _store.Directory("/t"));
        _store.SetPermissions("/t/x", XenStorePermission.ReadWrite(1), XenStorePermission.ReadOnly(2));
        Assert.Equal([XenStorePermission.ReadWrite(1), XenStorePermission.ReadOnly(2)], _store.GetPermissions("/t/x"));
        var e = Assert.Throws<XenStoreException>(() => _store.Directory("/t/none"));
        Assert.Equal("ENOENT", e.ErrorName);
        Assert.Equal("EINVAL", Assert.Throws<XenStoreException>(() => _store.Write("bad path", "")).ErrorName);
        _store.Remove("/t");
        Assert.False(_store.Exists("/t/x"));
        Assert.Equal("/local/domain/7", Xenstored.GetDomainPath(7));
    }

    [Fact]
    public void GetDomainPath()
    {
        var dom1 = new TestClient(_store, 1);
        Expect.Value("/local/domain/5\0", dom1.Call(XsMessageType.GetDomainPath, "5"));
        Expect.Error("EINVAL", dom1.Call(XsMessageType.GetDomainPath, "5x"));
        Expect.Error("EINVAL", dom1.Call(XsMessageType.GetDomainPath, "70000"));
    }
}
