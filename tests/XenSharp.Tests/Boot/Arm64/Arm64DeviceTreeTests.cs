using System.Diagnostics;
using XenSharp.Abi.Arm;
using XenSharp.Boot.Arm64;

namespace XenSharp.Tests.Boot.Arm64;

public class Arm64DeviceTreeTests
{
    private const ulong MiB = 1UL << 20;

    private static FdtReader Tree(ulong ram = 256 * MiB, int vcpus = 2, Arm64DeviceTreeOptions? options = null) =>
        FdtReader.Parse(Arm64DeviceTree.Build(Arm64Layout.Create(ram, vcpus), options ?? Full));

    /// <summary>dtc writes a string list as "a", "b" (newer) or "a\0b" (1.6.1); either will do.</summary>
    private static void AssertStringList(string dts, string property, params string[] values)
    {
        string quoted = $"{property} = \"{string.Join("\", \"", values)}\";";
        string joined = $"{property} = \"{string.Join("\\0", values)}\";";
        Assert.True(dts.Contains(quoted) || dts.Contains(joined), $"neither {quoted} nor {joined} in:\n{dts}");
    }

    private static readonly Arm64DeviceTreeOptions Full = new()
    {
        Bootargs = "console=ttyAMA0 earlycon=pl011,0x22000000",
        Initrd = (0x48000000, 0x48123456),
        SbsaUart = true,
    };

    [Fact]
    public void Root_is_a_xen_vm_with_64_bit_cells()
    {
        var root = Tree().Root;
        Assert.Equal(["xen,xenvm-4.20", "xen,xenvm"], root.GetStrings("compatible"));
        Assert.Equal("XENVM-4.20", root.GetString("model"));
        Assert.Equal(2u, root.GetU32("#address-cells"));
        Assert.Equal(2u, root.GetU32("#size-cells"));
        Assert.Equal(ArmDeviceTreeDefs.PhandleGic, root.GetU32("interrupt-parent"));
    }

    [Fact]
    public void Chosen_carries_bootargs_stdout_and_initrd()
    {
        var chosen = Tree().Find("/chosen")!;
        Assert.Equal("console=ttyAMA0 earlycon=pl011,0x22000000", chosen.GetString("bootargs"));
        Assert.Equal("/sbsa-uart@22000000", chosen.GetString("stdout-path"));
        Assert.Equal(0x48000000UL, chosen.GetU64("linux,initrd-start"));
        Assert.Equal(0x48123456UL, chosen.GetU64("linux,initrd-end"));

        var bare = Tree(options: new Arm64DeviceTreeOptions()).Find("/chosen")!;
        Assert.Empty(bare.Properties);
        Assert.Null(Tree(options: new Arm64DeviceTreeOptions()).Find("/sbsa-uart@22000000"));
    }

    [Fact]
    public void Memory_node_lists_each_populated_bank()
    {
        var small = Tree(ram: 256 * MiB).Find("/memory@40000000")!;
        Assert.Equal("memory", small.GetString("device_type"));
        Assert.Equal([0u, 0x40000000u, 0u, 0x10000000u], small.GetCells("reg"));

        var big = Tree(ram: 4096 * MiB).Find("/memory@40000000")!;
        Assert.Equal([0u, 0x40000000u, 0u, 0xC0000000u, 2u, 0u, 0u, 0x40000000u], big.GetCells("reg"));
    }

    [Fact]
    public void Cpus_are_psci_armv8_with_mpidr_regs()
    {
        var tree = Tree(vcpus: 18);
        var cpus = tree.Find("/cpus")!;
        Assert.Equal(1u, cpus.GetU32("#address-cells"));
        Assert.Equal(0u, cpus.GetU32("#size-cells"));
        Assert.Equal(18, cpus.Children.Count);
        var cpu17 = tree.Find("/cpus/cpu@101")!;
        Assert.Equal(0x101u, cpu17.GetU32("reg"));
        Assert.Equal("cpu", cpu17.GetString("device_type"));
        Assert.Equal(["arm,armv8"], cpu17.GetStrings("compatible"));
        Assert.Equal("psci", cpu17.GetString("enable-method"));
        Assert.NotNull(tree.Find("/cpus/cpu@f"));

        var psci = tree.Find("/psci")!;
        Assert.Equal(["arm,psci-1.0", "arm,psci-0.2", "arm,psci"], psci.GetStrings("compatible"));
        Assert.Equal("hvc", psci.GetString("method"));
        Assert.Equal(2u, psci.GetU32("cpu_on"));
        Assert.Equal(1u, psci.GetU32("cpu_off"));
    }

    [Fact]
    public void Gic_v3_with_its_child()
    {
        var tree = Tree();
        var gic = tree.Find("/interrupt-controller@3001000")!;
        Assert.Equal(["arm,gic-v3"], gic.GetStrings("compatible"));
        Assert.Equal(3u, gic.GetU32("#interrupt-cells"));
        Assert.True(gic.Has("interrupt-controller"));
        Assert.Equal(1u, gic.GetU32("#redistributor-regions"));
        Assert.Equal([0u, 0x03001000u, 0u, 0x10000u, 0u, 0x03020000u, 0u, 0x01000000u], gic.GetCells("reg"));
        Assert.Equal(ArmDeviceTreeDefs.PhandleGic, gic.GetU32("phandle"));
        Assert.Equal(2u, gic.GetU32("#address-cells"));
        Assert.Empty(gic.Get("ranges")!);

        var its = tree.Find("/interrupt-controller@3001000/its@4020000")!;
        Assert.Equal(["arm,gic-v3-its"], its.GetStrings("compatible"));
        Assert.True(its.Has("msi-controller"));
        Assert.Equal(1u, its.GetU32("#msi-cells"));
        Assert.Equal([0u, 0x04020000u, 0u, 0x20000u], its.GetCells("reg"));

        var noIts = Tree(options: new Arm64DeviceTreeOptions { Its = false }).Find("/interrupt-controller@3001000")!;
        Assert.Empty(noIts.Children);
        Assert.Equal(0u, noIts.GetU32("#address-cells"));
    }

    [Fact]
    public void Timer_has_the_three_xen_ppis_level_low_on_all_cpus()
    {
        var timer = Tree().Find("/timer")!;
        Assert.Equal(["arm,armv8-timer"], timer.GetStrings("compatible"));
        Assert.Equal([1u, 13u, 0xF08u, 1u, 14u, 0xF08u, 1u, 11u, 0xF08u], timer.GetCells("interrupts"));
        Assert.False(timer.Has("clock-frequency"));
        Assert.Equal(62_500_000u, Tree(options: new Arm64DeviceTreeOptions { TimerFrequency = 62_500_000 }).Find("/timer")!.GetU32("clock-frequency"));
    }

    [Fact]
    public void Hypervisor_node_has_grant_table_and_event_channel_ppi()
    {
        var hyp = Tree().Find("/hypervisor")!;
        Assert.Equal(["xen,xen-4.20", "xen,xen"], hyp.GetStrings("compatible"));
        Assert.Equal([0u, 0x38000000u, 0u, 0x01000000u], hyp.GetCells("reg"));
        Assert.Equal([1u, 15u, 0xF08u], hyp.GetCells("interrupts"));
        Assert.Equal(ArmDeviceTreeDefs.PhandleGic, hyp.GetU32("interrupt-parent"));
    }

    [Fact]
    public void Sbsa_uart_node()
    {
        var uart = Tree().Find("/sbsa-uart@22000000")!;
        Assert.Equal(["arm,sbsa-uart"], uart.GetStrings("compatible"));
        Assert.Equal([0u, 0x22000000u, 0u, 0x1000u], uart.GetCells("reg"));
        Assert.Equal([0u, 0u, 0xF04u], uart.GetCells("interrupts")); // SPI 32 - 32, level-high
        Assert.Equal(115200u, uart.GetU32("current-speed"));
    }

    [Fact]
    public void Phandles_are_unique()
    {
        var handles = Tree().AllNodes().Where(n => n.Has("phandle")).Select(n => n.GetU32("phandle")).ToArray();
        Assert.Equal(handles.Length, handles.Distinct().Count());
        Assert.Equal(2, handles.Length);
    }

    [DtcFact]
    public void Dtc_accepts_the_blob()
    {
        string dtc = DtcFactAttribute.FindDtc()!;
        var blob = Arm64DeviceTree.Build(Arm64Layout.Create(5UL << 30, 4), Full);
        string file = Path.Combine(Path.GetTempPath(), $"xensharp-arm64-{Guid.NewGuid():N}.dtb");
        File.WriteAllBytes(file, blob);
        try
        {
            var psi = new ProcessStartInfo(dtc, ["-I", "dtb", "-O", "dts", file])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            string dts = stdoutTask.Result;
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);

            // The only warning allowed: /hypervisor has a reg but no unit address, because Linux
            // finds it by that exact name (libxl writes it the same way).
            var warnings = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => !(l.Contains("unit_address_vs_reg") && l.Contains("/hypervisor")))
                .ToArray();
            Assert.True(warnings.Length == 0, "dtc warned:\n" + stderr);

            AssertStringList(dts, "compatible", "xen,xenvm-4.20", "xen,xenvm");
            Assert.Contains("memory@40000000 {", dts);
            Assert.Contains("reg = <0x00 0x40000000 0x00 0xc0000000 0x02 0x00 0x00 0x80000000>;", dts);
            Assert.Contains("cpu@3 {", dts);
            Assert.Contains("enable-method = \"psci\";", dts);
            Assert.Contains("interrupt-controller@3001000 {", dts);
            Assert.Contains("its@4020000 {", dts);
            Assert.Contains("compatible = \"arm,gic-v3-its\";", dts);
            Assert.Contains("msi-controller;", dts);
            Assert.Contains("hypervisor {", dts);
            AssertStringList(dts, "compatible", "xen,xen-4.20", "xen,xen");
            AssertStringList(dts, "compatible", "arm,psci-1.0", "arm,psci-0.2", "arm,psci");
            Assert.Contains("interrupts = <0x01 0x0f 0xf08>;", dts);
            Assert.Contains("sbsa-uart@22000000 {", dts);
            Assert.Contains("current-speed = <0x1c200>;", dts);
            Assert.Contains("linux,initrd-start = <0x00 0x48000000>;", dts);
            Assert.Contains("stdout-path = \"/sbsa-uart@22000000\";", dts);
            Assert.Contains("phandle = <0xfde8>;", dts);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>A fact that runs only where dtc (Debian's device-tree-compiler) is on PATH.</summary>
public sealed class DtcFactAttribute : FactAttribute
{
    public DtcFactAttribute()
    {
        if (FindDtc() is null)
            Skip = "dtc is not on PATH: install Debian's device-tree-compiler to cross-check the ARM device tree";
    }

    public static string? FindDtc()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "dtc");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
