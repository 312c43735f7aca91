using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// AArch64 guests under `xl create`: the C test guests of guests/arm64 (built with Debian's
/// gcc-aarch64-linux-gnu) run on XenSharp's AArch64 CPU with the GICv3/ITS, generic timer, SBSA
/// UART and PSCI, each printing "NAME: PASS" as its last UART line before PSCI SYSTEM_OFF; the
/// built-in demo of examples/arm64-demo.cfg; and bad ARM configurations refused with one line
/// that names the file and what is accepted, leaving no domain behind.
/// </summary>
[Collection(ArmGuestCollection.Name)]
public sealed class ArmGuestTests(XenSharpHost host) : XlTestBase(host)
{
    private string ArmConfig(string name, string kernel, int vcpus = 1, string extra = "vuart = \"sbsa_uart\"") =>
        Host.WriteConfig(name, $"""
            name = "{name}"
            type = "pvh"
            kernel = "{kernel}"
            memory = 32
            vcpus = {vcpus}
            on_poweroff = "destroy"
            on_crash = "destroy"
            {extra}
            """);

    [Theory]
    [InlineData("arm64-hello", 1)]     // entry state, xen_version, console_io, PSCI_VERSION/FEATURES
    [InlineData("arm64-timer", 1)]     // GIC + virtual timer PPI 27, WFI wake-ups
    [InlineData("arm64-its", 1)]       // LPIs through the ITS: INT, GITS_TRANSLATER, out-of-range ids dropped
    [InlineData("arm64-smp", 2)]       // PSCI CPU_ON/AFFINITY_INFO/CPU_OFF, SGIs, atomics across vCPUs
    [InlineData("arm64-xen", 1)]       // shared_info, event channels, the upcall PPI 31
    [InlineData("arm64-badmmio", 1)]   // an access to unmapped MMIO is a data abort for the guest
    public void TestGuest_BootsAndPasses(string guest, int vcpus)
    {
        var r = Host.Xl("create", "-c", ArmConfig(guest, XenSharpHost.ArmGuest(guest), vcpus)).AssertSuccess();
        string last = r.StdoutLines.LastOrDefault(l => l.StartsWith(guest + ":", StringComparison.Ordinal)) ?? "";
        Assert.True(last == $"{guest}: PASS", $"the guest's last line is not '{guest}: PASS'\n{r.Describe()}");
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Demo_PrintsItsLineOnTheUartAndConsoleIo_AndPowersOffWithPsci()
    {
        var r = Host.Xl("create", "-c", Path.Combine(XenSharpHost.RepoRoot, "examples", "arm64-demo.cfg")).AssertSuccess();
        Assert.Matches(new Regex(@"^XenSharp arm64 demo: hello from an AArch64 guest, running on Xen 4\.20\.0-xensharp\r?$", RegexOptions.Multiline), r.Stdout);
        Host.AssertOnlyDomain0();
        var dmesg = Host.Xl("dmesg").AssertSuccess().Stdout;
        var created = Regex.Match(dmesg, @"^\(XEN\) d(\d+): created ""arm64-demo"" \(AArch64\)", RegexOptions.Multiline | RegexOptions.RightToLeft);
        Assert.True(created.Success, "no AArch64 domain creation in xl dmesg\n" + dmesg);
        string d = created.Groups[1].Value;
        Assert.Contains($"(d{d}) XenSharp arm64 demo: hello", dmesg);   // console_io
        Assert.Contains($"(XEN) d{d}: shutdown: poweroff", dmesg);      // PSCI SYSTEM_OFF
    }

    [Fact]
    public void XlConsole_TypePv_ReachesThePvConsole_AndVuartOfAnX86Guest_IsRefused()
    {
        // arm64-smp waits for its second vCPU long enough to attach; -t pv shows nothing of the UART output.
        Host.Xl("create", "-p", ArmConfig("arm64-pv", XenSharpHost.ArmGuest("arm64-hello"))).AssertSuccess();
        using (var pv = Host.StartXl("console", "-t", "pv", "arm64-pv"))
        {
            Host.Xl("unpause", "arm64-pv").AssertSuccess();
            Assert.True(pv.WaitForExit(XenSharpHost.DefaultTimeout), "xl console -t pv did not return when the guest powered off");
            Assert.DoesNotContain("arm64-hello: PASS", pv.Stdout);
        }
        string x86 = Host.WritePvhConfig("x86-vuart", XenSharpHost.Guest("console-echo"));
        Host.Xl("create", x86).AssertSuccess();
        var refused = Host.Xl("console", "-t", "vuart", "x86-vuart").AssertExit(1);
        Assert.Contains("has no vuart console", refused.Stderr);
        Host.Xl("destroy", "x86-vuart").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void ArchThatContradictsTheImage_IsRefusedAndLeavesNoDomain()
    {
        string cfg = ArmConfig("arm64-as-x86", XenSharpHost.ArmGuest("arm64-hello"), extra: "arch = \"x86\"");
        var r = Host.Xl("create", cfg).AssertExit(1);
        string error = Assert.Single(r.ErrorLines);
        Assert.Contains(cfg, error);
        Assert.Contains("arch = \"x86\", but kernel", error);
        Assert.Contains("is an aarch64 image", error);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void VuartOnAnX86Guest_IsRefused_AndAnUnknownModelNamesWhatIsAccepted()
    {
        string x86 = Host.WritePvhConfig("x86-with-vuart", XenSharpHost.Guest("console-echo"), extra: "vuart = \"sbsa_uart\"");
        var r = Host.Xl("create", x86).AssertExit(1);
        Assert.Contains("vuart = \"sbsa_uart\" is for ARM guests", Assert.Single(r.ErrorLines));

        string bad = ArmConfig("arm64-bad-vuart", XenSharpHost.ArmGuest("arm64-hello"), extra: "vuart = \"pl011\"");
        var b = Host.Xl("create", bad).AssertExit(1);
        string line = Assert.Single(b.ErrorLines);
        Assert.Matches(new Regex(Regex.Escape(bad) + @":\d+: vuart: .*pl011.*sbsa_uart"), line);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void XlInfo_ListsTheAArch64Accelerator_AndCountsItsInstructions()
    {
        Host.Xl("create", "-c", ArmConfig("arm64-info", XenSharpHost.ArmGuest("arm64-hello"))).AssertSuccess();
        var info = Host.Xl("info").AssertSuccess().Stdout;
        Assert.Matches(new Regex(@"^accelerators\s*:.*soft-arm64 \(aarch64\)", RegexOptions.Multiline), info);
        var insns = Regex.Match(info, @"^aarch64_guest_insns\s*:\s*(\d+)", RegexOptions.Multiline);
        Assert.True(insns.Success && long.Parse(insns.Groups[1].Value) > 1000, "no AArch64 instruction count in xl info\n" + info);
    }
}
