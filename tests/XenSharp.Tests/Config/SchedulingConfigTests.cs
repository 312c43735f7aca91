using System.Text.Json;
using XenSharp.Scheduling;
using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>xl.cfg's scheduling keys: cpus, cpus_soft, cpu_weight, cap, pool.</summary>
public class SchedulingConfigTests
{
    private static DomainConfig Read(string text) => DomainConfig.FromFile(XlConfigParser.Parse("name = 'vm'\n" + text, "vm.cfg"));

    private static string Error(string text) => Assert.Throws<XlConfigException>(() => Read(text)).Message;

    [Fact]
    public void Defaults_are_xls()
    {
        var c = Read("");
        Assert.Null(c.Cpus);
        Assert.Null(c.CpusSoft);
        Assert.Equal(256, c.CpuWeight);
        Assert.Equal(0, c.Cap);
        Assert.Null(c.Pool);
        Assert.Empty(c.SchedulingKeysSet);
        Assert.False(c.HasSchedulingSettings);
    }

    [Fact]
    public void Cpus_string_applies_to_every_vcpu()
    {
        var c = Read("vcpus = 3\ncpus = \"0-3,^2\"");
        Assert.False(c.Cpus!.PerVcpu);
        Assert.Equal(CpuMask.Of(0, 1, 3), c.Cpus.For(0));
        Assert.Equal(CpuMask.Of(0, 1, 3), c.Cpus.For(2));
        Assert.Equal("cpus", c.Cpus.Key);
        Assert.Equal("vm.cfg:3", c.Cpus.Location);
        Assert.Equal(["cpus"], c.SchedulingKeysSet);
    }

    [Fact]
    public void Cpus_all_and_numbers_are_accepted()
    {
        Assert.Equal(CpuMask.All, Read("cpus = \"all\"").Cpus!.For(0));
        Assert.Equal(CpuMask.Of(1), Read("cpus = 1").Cpus!.For(0));
    }

    [Fact]
    public void Cpus_list_is_per_vcpu_and_later_vcpus_get_all()
    {
        var c = Read("vcpus = 3\ncpus = [\"2\", \"3-4\"]");
        Assert.True(c.Cpus!.PerVcpu);
        Assert.Equal(CpuMask.Of(2), c.Cpus.For(0));
        Assert.Equal(CpuMask.Of(3, 4), c.Cpus.For(1));
        Assert.Equal(CpuMask.All, c.Cpus.For(2));
        Assert.Equal("[\"2\", \"3-4\"]", c.Cpus.ToString());
    }

    [Fact]
    public void Cpus_soft_is_read_like_cpus()
    {
        var c = Read("cpus_soft = \"1\"");
        Assert.Null(c.Cpus);
        Assert.Equal(CpuMask.Of(1), c.CpusSoft!.For(0));
    }

    [Theory]
    [InlineData("cpus = \"\"", "vm.cfg:2: cpus: bad value ''")]
    [InlineData("cpus = \"x\"", "vm.cfg:2: cpus: bad value 'x'")]
    [InlineData("cpus = \"none\"", "vm.cfg:2: cpus: bad value 'none'")]
    [InlineData("cpus = \"3-1\"", "vm.cfg:2: cpus: bad value '3-1'")]
    [InlineData("cpus = \"1024\"", "vm.cfg:2: cpus: bad value '1024'")]
    [InlineData("cpus_soft = \"^0\"", "vm.cfg:2: cpus_soft: bad value '^0'")]
    [InlineData("cpus = []", "vm.cfg:2: cpus: bad value '[ ]'")]
    [InlineData("cpus = [\"1\", \"2\"]", "(a list has 1..1 entries: one per vCPU, maxvcpus = 1)")]
    [InlineData("vcpus = 2\ncpus = [\"1\", \"x\"]", "(entry 1, for vCPU 1, is not)")]
    public void Bad_affinities_name_file_line_key_and_what_is_accepted(string text, string expected)
    {
        string message = Error(text);
        Assert.Contains(expected, message);
        Assert.Contains("accepted: a CPU list \"0-3,^2\" or \"all\"", message);
    }

    [Fact]
    public void Weight_and_cap_are_read_and_bounded()
    {
        var c = Read("vcpus = 2\ncpu_weight = 512\ncap = 150");
        Assert.Equal(512, c.CpuWeight);
        Assert.Equal(150, c.Cap);
        Assert.True(c.HasSchedulingSettings);
        Assert.Equal("vm.cfg:2: cpu_weight: bad value '0' (accepted: a weight 1..65535 (default 256))", Error("cpu_weight = 0"));
        Assert.Equal("vm.cfg:2: cpu_weight: bad value '65536' (accepted: a weight 1..65535 (default 256))", Error("cpu_weight = 65536"));
        Assert.Equal("vm.cfg:3: cap: bad value '201' (accepted: a percentage of one pCPU, 0..200 (100 × maxvcpus = 2; 0 = no cap))",
            Error("maxvcpus = 2\ncap = 201"));
        Assert.Contains("cap: bad value 'lots'", Error("cap = \"lots\""));
        Assert.Equal(0, Read("cap = 0").Cap);
    }

    [Fact]
    public void Pool_is_a_name()
    {
        Assert.Equal("pool1", Read("pool = \"pool1\"").Pool);
        Assert.Contains("vm.cfg:2: pool: bad value ''", Error("pool = \"\""));
        Assert.Contains("vm.cfg:2: pool: bad value '[ \"a\" ]'", Error("pool = [\"a\"]"));
    }

    [Fact]
    public void Scheduling_keys_are_typed_not_raw_and_appear_in_json()
    {
        var c = Read("vcpus = 2\ncpus = [\"0\", \"1\"]\ncpus_soft = \"all\"\ncpu_weight = 128\ncap = 50\npool = \"p\"");
        foreach (var k in DomainConfig.SchedulingKeys) Assert.DoesNotContain(k, c.RawSettings.Keys);
        Assert.Empty(c.Warnings);
        using var doc = JsonDocument.Parse(c.ToJson());
        var root = doc.RootElement;
        Assert.Equal(["0", "1"], root.GetProperty("cpus").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("all", root.GetProperty("cpus_soft").GetString());
        Assert.Equal(128, root.GetProperty("cpu_weight").GetInt32());
        Assert.Equal(50, root.GetProperty("cap").GetInt32());
        Assert.Equal("p", root.GetProperty("pool").GetString());
    }

    [Fact]
    public void Overrides_set_scheduling_keys()
    {
        var file = XlConfigParser.Parse("name = 'vm'\ncpus = \"0\"", "vm.cfg").ApplyOverrides(["cpus=1", "cpu_weight=300"]);
        var c = DomainConfig.FromFile(file);
        Assert.Equal(CpuMask.Of(1), c.Cpus!.For(0));
        Assert.Equal(300, c.CpuWeight);
    }
}
