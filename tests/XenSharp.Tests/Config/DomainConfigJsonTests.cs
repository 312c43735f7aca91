using System.Text.Json;
using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>DomainConfig.ToJson prints the parsed configuration as indented JSON (for "xl create -n").</summary>
public class DomainConfigJsonTests
{
    [Fact]
    public void Writes_every_field_and_the_raw_settings_in_file_order()
    {
        var config = DomainConfig.FromFile(XlConfigParser.Parse("""
            name = "web"
            uuid = "6f9a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
            type = "pvh"
            kernel = "/boot/vmlinuz+xen"
            vif = [ 'bridge=xenbr0', ]
            memory = 512
            vnuma = [ [ "pnode=0", "size=512" ], [ 1, 0x10 ] ]
            cpu_weight = 256
            on_crash = "preserve"
            """, "web.cfg"));

        string expected = """
            {
              "name": "web",
              "uuid": "6f9a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
              "type": "pvh",
              "kernel": "/boot/vmlinuz+xen",
              "ramdisk": null,
              "cmdline": null,
              "memory": 512,
              "maxmem": 512,
              "vcpus": 1,
              "maxvcpus": 1,
              "max_event_channels": 1023,
              "max_grant_frames": 64,
              "max_grant_version": 2,
              "cpus": null,
              "cpus_soft": null,
              "cpu_weight": 256,
              "cap": 0,
              "pool": null,
              "on_poweroff": "destroy",
              "on_reboot": "restart",
              "on_crash": "preserve",
              "on_watchdog": "destroy",
              "on_soft_reset": "soft-reset",
              "raw_settings": {
                "vif": [
                  "bridge=xenbr0"
                ],
                "vnuma": [
                  [
                    "pnode=0",
                    "size=512"
                  ],
                  [
                    1,
                    16
                  ]
                ]
              }
            }
            """;
        Assert.Equal(expected, config.ToJson());
    }

    [Fact]
    public void Escapes_what_json_requires_and_parses_back()
    {
        var config = DomainConfig.FromFile(XlConfigParser.Parse(
            "name = 'q\"uo\\\\te'\ntype='hvm'\ncmdline = 'a\\tb\\n<é>'", "vm.cfg"));

        using var doc = JsonDocument.Parse(config.ToJson());
        var root = doc.RootElement;
        Assert.Equal("q\"uo\\te", root.GetProperty("name").GetString());
        Assert.Equal("a\tb\n<é>", root.GetProperty("cmdline").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("uuid").ValueKind);
        Assert.Equal("hvm", root.GetProperty("type").GetString());
        Assert.Contains("<é>", config.ToJson(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Object, root.GetProperty("raw_settings").ValueKind);
    }
}
