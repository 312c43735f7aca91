namespace XenSharp.XenStore.Tests;

public class PathTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("/a/b-c_d@e/0", "/a/b-c_d@e/0")]
    [InlineData("data/x", "/local/domain/3/data/x")]
    [InlineData("x", "/local/domain/3/x")]
    public void ValidPaths(string input, string canonical) =>
        Assert.Equal(canonical, XenStorePath.Canonicalize(input, 3, false, 0));

    [Theory]
    [InlineData("")]
    [InlineData("/a/")]
    [InlineData("//a")]
    [InlineData("/a//b")]
    [InlineData("/a b")]
    [InlineData("/a.b")]
    [InlineData("/ä")]
    [InlineData("@introduceDomain")]
    [InlineData("a/")]
    public void InvalidPaths(string input) => Assert.Null(XenStorePath.Canonicalize(input, 3, false, 0));

    [Fact]
    public void SpecialPathsOnlyWhereAllowed()
    {
        Assert.Equal("@releaseDomain", XenStorePath.Canonicalize("@releaseDomain", 1, true, 0));
        Assert.Null(XenStorePath.Canonicalize("@releaseDomain/", 1, true, 0));
        Assert.Null(XenStorePath.Canonicalize("@releaseDomain", 1, false, 0));
    }

    [Fact]
    public void LengthLimits()
    {
        string abs = "/" + new string('a', 3071);
        Assert.NotNull(XenStorePath.Canonicalize(abs, 0, false, 0));
        Assert.Null(XenStorePath.Canonicalize(abs + "a", 0, false, 0));

        // path-max counts what follows /local/domain/N/ and refuses reaching the quota.
        string rel = new('r', 2047);
        Assert.NotNull(XenStorePath.Canonicalize(rel, 5, false, 2048));
        Assert.Null(XenStorePath.Canonicalize(rel + "r", 5, false, 2048));
        Assert.NotNull(XenStorePath.Canonicalize(rel + "r", 5, false, 0));
        Assert.Equal("/local/domain/5/".Length, XenStorePath.LocalDomainPrefixLength("/local/domain/5/x"));
        Assert.Equal(0, XenStorePath.LocalDomainPrefixLength("/local/domain/123456/x"));
    }

    [Fact]
    public void PathArithmetic()
    {
        Assert.Equal("/", XenStorePath.Parent("/a"));
        Assert.Equal("/a", XenStorePath.Parent("/a/b"));
        Assert.Equal("/", XenStorePath.Parent("@releaseDomain"));
        Assert.Equal("b", XenStorePath.BaseName("/a/b"));
        Assert.Equal("/a", XenStorePath.Child("/", "a"));
        Assert.Equal("/a/b", XenStorePath.Child("/a", "b"));
    }

    [Theory]
    [InlineData("/a", "/a", -1, true)]
    [InlineData("/a/b/c", "/a", -1, true)]
    [InlineData("/ab", "/a", -1, false)]
    [InlineData("/a", "/a/b", -1, false)]
    [InlineData("/x", "/", -1, true)]
    [InlineData("/", "/", 0, true)]
    [InlineData("/x", "/", 0, false)]
    [InlineData("/x", "/", 1, true)]
    [InlineData("/x/y", "/", 1, false)]
    [InlineData("/a", "/a", 0, true)]
    [InlineData("/a/b", "/a", 0, false)]
    [InlineData("/a/b", "/a", 1, true)]
    [InlineData("/a/b/c", "/a", 1, false)]
    [InlineData("/a/b/c", "/a", 2, true)]
    [InlineData("@releaseDomain/4", "@releaseDomain", 1, true)]
    [InlineData("@releaseDomain", "/", -1, false)]
    public void IsChild(string child, string parent, int depth, bool expected) =>
        Assert.Equal(expected, XenStorePath.IsChild(child, parent, depth));
}
