using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class DebugKeysCollection : ICollectionFixture<XenSharpHost> { public const string Name = "debug keys"; }

/// <summary>`xl debug-keys`: each key's handler writes into the hypervisor log that `xl dmesg` shows.</summary>
[Collection(DebugKeysCollection.Name)]
public sealed class DebugKeysTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void KeysQEG_DumpTheRunningDomain_IntoDmesg()
    {
        Host.Xl("create", Host.WritePvhConfig("dk-spin", XenSharpHost.Guest("spin"), vcpus: 2)).AssertSuccess();
        int id = Host.List().Single(d => d.Name == "dk-spin").Id;
        Thread.Sleep(300);
        Host.Xl("dmesg", "-c").AssertSuccess();

        var keys = Host.Xl("debug-keys", "qeg").AssertSuccess();
        Assert.Equal("", keys.Stdout);
        string log = Host.Xl("dmesg").AssertSuccess().Stdout;

        Assert.Contains("(XEN) 'q' pressed -> dumping domain info", log);
        Assert.Contains($"(XEN) General information for domain {id}:", log);
        Assert.Matches(new Regex($@"\(XEN\)     name=dk-spin uuid=[0-9a-f-]{{36}} state=running"), log);
        Assert.Contains("(XEN)     nr_pages=4096 max_pages=4096 memory=16 MiB", log);
        Assert.Matches(new Regex(@"\(XEN\)     VCPU0: CPU\d+ state=(running|blocked)"), log);
        Assert.Contains("(XEN)     VCPU1: CPU? state=offline", log);

        Assert.Contains("(XEN) 'e' pressed -> dumping event-channel info", log);
        Assert.Matches(new Regex($@"\(XEN\) d{id}: event channels \(2-level, max 1023\): \d+ bound"), log);
        Assert.Matches(new Regex(@"\(XEN\)     port    1: interdomain remote=d0 \(host backend\) vcpu=0 pending=[01] masked=[01]"), log);

        Assert.Contains("(XEN) 'g' pressed -> dumping grant table info", log);
        Assert.Matches(new Regex($@"\(XEN\) d{id}: grant table v1: 1/64 frames \(0 placed in guest RAM\), 512 entries, 0 in use, 0 pinned, 0 host mappings"), log);
        Assert.True(log.IndexOf("'q' pressed", StringComparison.Ordinal) < log.IndexOf("'e' pressed", StringComparison.Ordinal)
                    && log.IndexOf("'e' pressed", StringComparison.Ordinal) < log.IndexOf("'g' pressed", StringComparison.Ordinal),
            "the keys' output is not in the order given\n" + log);
        Host.Xl("destroy", "dk-spin").AssertSuccess();
    }

    [Fact]
    public void KeyH_ListsTheKeys_UnknownKeysAreReported_AndNoKeysIsAUsageError()
    {
        Host.Xl("dmesg", "-c").AssertSuccess();
        Host.Xl("debug-keys", "hZrt").AssertSuccess();
        string log = Host.Xl("dmesg").AssertSuccess().Stdout;
        Assert.Contains("(XEN) 'h' pressed -> showing installed handlers", log);
        foreach (char k in "eghqrt") Assert.Contains($"(XEN)  key '{k}' (ascii '{(int)k:x2}') => ", log);
        Assert.Contains("(XEN) 'Z' pressed -> unknown key", log);
        Assert.Contains("(XEN) 'r' pressed -> dumping run queues", log);
        Assert.Contains("(XEN) 't' pressed -> host clock", log);

        Assert.Contains("usage: xl debug-keys <Keys>", Host.Xl("debug-keys").AssertExit(1).Stderr);
    }
}
