using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>The README's first step: `xl create -c examples/demo.cfg`.</summary>
[Collection(DemoCollection.Name)]
public sealed class DemoTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void Demo_PrintsHelloAndPowersOff()
    {
        var r = Host.Xl("create", "-c", XenSharpHost.DemoConfig).AssertSuccess();

        var hello = Regex.Match(r.Stdout, @"^XenSharp demo: hello from domain (\d+), running on Xen 4\.20\.0-xensharp\r?$", RegexOptions.Multiline);
        Assert.True(hello.Success, "no hello line on the console\n" + r.Describe());
        int domid = int.Parse(hello.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(domid >= 1, $"the demo ran as domain {domid}; guests get ids from 1 (0 is Domain-0)");

        // on_poweroff = "destroy": nothing is left once the console client returns.
        Host.AssertOnlyDomain0();

        var dmesg = Host.Xl("dmesg").AssertSuccess();
        Assert.True(dmesg.Stdout.Contains($"(d{domid}) XenSharp demo:", StringComparison.Ordinal),
            $"the demo's HYPERVISOR_console_io line for d{domid} is not in `xl dmesg`\n{dmesg.Describe()}");
        Assert.True(Regex.IsMatch(dmesg.Stdout, $@"^\(XEN\) d{domid}: .*poweroff", RegexOptions.Multiline),
            $"no poweroff line for d{domid} in `xl dmesg`\n{dmesg.Describe()}");
    }
}
