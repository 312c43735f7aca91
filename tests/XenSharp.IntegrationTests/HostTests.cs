using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>`xl info` and `xl dmesg`.</summary>
[Collection(HostCollection.Name)]
public sealed class HostTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void Info_PrintsPaddedKeyValueLines()
    {
        var r = Host.Xl("info").AssertSuccess();
        var lines = r.StdoutLines.ToList();
        Assert.NotEmpty(lines);

        // xl's layout: the key left-aligned in 23 columns, then ": " and the value.
        foreach (var line in lines)
            Assert.True(Regex.IsMatch(line, @"^(?=[a-z_0-9]+ *: )[a-z_0-9 ]{23}: "), $"not an xl info line: \"{line}\"\n{r.Describe()}");

        Assert.Contains("xen_version            : 4.20.0-xensharp", lines);
        var nrCpus = lines.Select(l => Regex.Match(l, @"^nr_cpus {16}: (\d+)$")).SingleOrDefault(m => m.Success);
        Assert.True(nrCpus is not null, "no nr_cpus line\n" + r.Describe());
        Assert.Equal(Environment.ProcessorCount, int.Parse(nrCpus.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void DmesgMinusC_ClearsTheBuffer()
    {
        int first = RunDemo();
        var cleared = Host.Xl("dmesg", "-c").AssertSuccess();
        Assert.Contains($"(d{first}) XenSharp demo:", cleared.Stdout);

        var empty = Host.Xl("dmesg").AssertSuccess();
        Assert.True(empty.Stdout.Trim().Length == 0, "`xl dmesg` after `xl dmesg -c` is not empty\n" + empty.Describe());

        int second = RunDemo();
        var fresh = Host.Xl("dmesg").AssertSuccess();
        Assert.Contains($"(d{second}) XenSharp demo:", fresh.Stdout);
        Assert.DoesNotContain($"(d{first}) ", fresh.Stdout);
        Assert.DoesNotContain($"d{first}: ", fresh.Stdout);
    }

    private int RunDemo()
    {
        var r = Host.Xl("create", "-c", XenSharpHost.DemoConfig).AssertSuccess();
        var m = Regex.Match(r.Stdout, @"hello from domain (\d+)");
        Assert.True(m.Success, r.Describe());
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
