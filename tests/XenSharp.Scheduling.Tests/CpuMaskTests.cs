namespace XenSharp.Scheduling.Tests;

public class CpuMaskTests
{
    [Theory]
    [InlineData("0-3,5,^2", "0-1,3,5")]
    [InlineData("5", "5")]
    [InlineData(" 1 , 2 ,3 ", "1-3")]
    [InlineData("all", "all")]
    [InlineData("ALL", "all")]
    [InlineData("none", "none")]
    [InlineData("all,^0", "1-1023")]
    [InlineData("0-7,^2-5", "0-1,6-7")]
    [InlineData("^2", "none")]
    [InlineData("1023", "1023")]
    [InlineData("8,0,4", "0,4,8")]
    public void ParsesAndFormatsXlSyntax(string text, string formatted)
    {
        var m = CpuMask.Parse(text);
        Assert.Equal(formatted, m.ToString());
        Assert.Equal(m, CpuMask.Parse(m.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("abc")]
    [InlineData("3-1")]
    [InlineData("1024")]
    [InlineData("0-")]
    [InlineData("-1")]
    [InlineData("1,,2")]
    [InlineData("^")]
    [InlineData("node:0")]
    [InlineData("1.5")]
    public void RejectsBadSyntaxNamingWhatIsAccepted(string text)
    {
        var ex = Assert.Throws<FormatException>(() => CpuMask.Parse(text));
        Assert.Contains("accepted:", ex.Message);
        Assert.Contains("0..1023", ex.Message);
        Assert.False(CpuMask.TryParse(text, out _));
    }

    [Fact]
    public void ReversedRangeErrorSaysSo()
    {
        var ex = Assert.Throws<FormatException>(() => CpuMask.Parse("0,7-3"));
        Assert.Contains("reversed range \"7-3\"", ex.Message);
    }

    [Fact]
    public void SetOperationsAndIteration()
    {
        var a = CpuMask.Parse("0-9,100,1000");
        var b = CpuMask.Parse("5-200");
        Assert.Equal("5-9,100", (a & b).ToString());
        Assert.Equal("0-200,1000", (a | b).ToString());
        var c = a; c.AndNot(b);
        Assert.Equal("0-4,1000", c.ToString());
        Assert.True(a.Intersects(b));
        Assert.True(CpuMask.Parse("6-7").IsSubsetOf(a));
        Assert.False(b.IsSubsetOf(a));
        Assert.Equal(12, a.Count);
        Assert.Equal(0, a.First());
        Assert.Equal(100, a.Next(9));
        Assert.Equal(-1, a.Next(1000));
        var seen = new List<int>();
        foreach (int cpu in a) seen.Add(cpu);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 1000 }, seen);
        Assert.True(CpuMask.None.IsEmpty);
        Assert.Equal(-1, CpuMask.None.First());
        Assert.Equal(CpuMask.MaxCpus, CpuMask.All.Count);
        Assert.False(a.Contains(-1));
        Assert.False(a.Contains(5000));
        Assert.Equal("2-4", CpuMask.Range(2, 4).ToString());
        Assert.Equal("1,3", CpuMask.Of(3, 1).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuMask.Of(1024));
    }

    [Fact]
    public void DomainParameterRangesAreChecked()
    {
        var d = new SchedDomain(1, "d");
        Assert.Equal(256, d.Weight);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => d.Weight = 0);
        Assert.Contains("1..65535", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Weight = 65536);
        _ = new SchedVcpu(d, 0);
        _ = new SchedVcpu(d, 1);
        d.Cap = 200;
        var cex = Assert.Throws<ArgumentOutOfRangeException>(() => d.Cap = 201);
        Assert.Contains("0..200", cex.Message);
    }
}
