using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>XlConfigFile.ApplyOverrides handles "xl create CFG key=value ..." with the file grammar.</summary>
public class XlOverrideTests
{
    private static readonly XlConfigFile File = XlConfigParser.Parse("""
        name = "vm"
        type = "pvh"
        kernel = "/k"
        memory = 256
        extra = "console=hvc0"
        vif = [ 'bridge=br0' ]
        """, "vm.cfg");

    [Fact]
    public void Overrides_replace_file_values_without_warnings()
    {
        var cfg = File.ApplyOverrides(["memory=512", "name=\"other\"", "vcpus = 2"]);
        var config = DomainConfig.FromFile(cfg);

        Assert.Equal(512, config.MemoryMiB);
        Assert.Equal("other", config.Name);
        Assert.Equal(2, config.Vcpus);
        Assert.Empty(config.OtherWarnings());
        Assert.Equal(256, DomainConfig.FromFile(File).MemoryMiB); // the original is unchanged
    }

    [Fact]
    public void Override_settings_record_their_text()
    {
        var cfg = File.ApplyOverrides(["memory=512"]);
        var setting = cfg.Find("memory")!;

        Assert.Equal("memory=512", setting.Override);
        Assert.Equal("command-line override 'memory=512'", setting.Location);
        Assert.Equal(7, cfg.Settings.Count);
    }

    [Fact]
    public void Later_overrides_win_and_one_override_may_hold_several_settings()
    {
        var cfg = File.ApplyOverrides(["memory=512; vcpus=3", "memory=1024"]);
        Assert.Equal(new XlNumber(1024), cfg["memory"]);
        Assert.Equal(new XlNumber(3), cfg["vcpus"]);
    }

    [Fact]
    public void Overrides_take_lists_strings_with_quotes_and_appends()
    {
        var cfg = File.ApplyOverrides(["vif+=['bridge=br1',]", "extra+=' quiet'", "disk=[ '/a,,xvda', '/b,,xvdb' ]"]);

        Assert.Equal(new XlList([new XlString("bridge=br0"), new XlString("bridge=br1")]), cfg["vif"]);
        Assert.Equal(new XlString("console=hvc0 quiet"), cfg["extra"]);
        Assert.Equal(new XlList([new XlString("/a,,xvda"), new XlString("/b,,xvdb")]), cfg["disk"]);
        var config = DomainConfig.FromFile(cfg);
        Assert.Equal("console=hvc0 quiet", config.Cmdline);
        Assert.Equal(["/a", "/b"], config.Disks.Select(d => d.Target));
        Assert.StartsWith("command-line override", config.Disks[0].Location);
    }

    [Theory]
    [InlineData("memory", "command-line override 'memory': syntax error: end of text (expected '=' or '+=' after 'memory')")]
    [InlineData("memory=", "command-line override 'memory=': syntax error: end of text (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("name=vm2", "command-line override 'name=vm2': syntax error: 'vm2' (expected a value: a \"quoted string\", a number, or a [ list ] (text must be quoted))")]
    [InlineData("disk=['a' 'b']", "command-line override 'disk=['a' 'b']': syntax error: 'b' (expected ',' or ']' in the list)")]
    [InlineData("", "command-line override '': syntax error: no setting (expected key=value, e.g. memory=512)")]
    [InlineData(" ; ", "command-line override ' ; ': syntax error: no setting (expected key=value, e.g. memory=512)")]
    [InlineData("vif+='x'", "command-line override 'vif+='x'': vif: bad value 'x' (accepted: a [ list ], to add with '+=' to the value from vm.cfg:6)")]
    public void Override_syntax_errors_name_the_override(string text, string message)
    {
        var e = Assert.Throws<XlConfigException>(() => File.ApplyOverrides(["memory=512", text]));
        Assert.Equal(message, e.Message);
        Assert.Null(e.Line);
    }

    [Fact]
    public void Override_value_errors_name_the_override()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromFile(File.ApplyOverrides(["vcpus=0"])));
        Assert.Equal("command-line override 'vcpus=0': vcpus: bad value '0' (accepted: 1..128)", e.Message);
        Assert.Equal("vcpus", e.Key);
    }

    [Fact]
    public void Unknown_keys_in_overrides_warn_naming_the_override()
    {
        var config = DomainConfig.FromFile(File.ApplyOverrides(["colour='blue'"]));
        Assert.Equal(["command-line override 'colour='blue'': unknown key 'colour' ignored"], config.OtherWarnings());
    }

    [Fact]
    public void No_overrides_is_a_copy_of_the_file()
    {
        var cfg = File.ApplyOverrides([]);
        Assert.Equal(File.Settings, cfg.Settings);
        Assert.Equal("vm.cfg", cfg.FileName);
    }
}
