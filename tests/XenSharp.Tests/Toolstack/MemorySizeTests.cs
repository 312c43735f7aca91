using XenSharp.Toolstack.Domains;

namespace XenSharp.Tests.Toolstack;

/// <summary>xl's memory sizes for mem-set / mem-max (parse_mem_size_kb): KiB results.</summary>
public sealed class MemorySizeTests
{
    [Theory]
    [InlineData("256", 262144L)]
    [InlineData("256m", 262144L)]
    [InlineData("256M", 262144L)]
    [InlineData("1g", 1048576L)]
    [InlineData("1t", 1073741824L)]
    [InlineData("4096k", 4096L)]
    [InlineData("8192b", 8L)]
    public void ValidSizes(string text, long kib) => Assert.Equal(kib, DomainManager.ParseMemoryKiB(text));

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("12q")]
    [InlineData("12mb")]
    [InlineData("-5")]
    [InlineData("1.5g")]
    [InlineData("99999999999999999999")]
    public void InvalidSizes(string text) => Assert.Null(DomainManager.ParseMemoryKiB(text));
}
