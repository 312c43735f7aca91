using XenSharp.Abi.Arm;
using static XenSharp.Abi.Arm.ArmDeviceTreeDefs;

namespace XenSharp.Boot.Arm64;

/// <summary>What goes into an ARM guest's device tree beyond the layout.</summary>
public sealed record Arm64DeviceTreeOptions
{
    /// <summary>/chosen/bootargs (extra= / cmdline=), or none.</summary>
    public string? Bootargs { get; init; }

    /// <summary>The initrd's guest-physical [Start, End), for linux,initrd-start / linux,initrd-end.</summary>
    public (ulong Start, ulong End)? Initrd { get; init; }

    /// <summary>vuart="sbsa_uart": describe the emulated SBSA UART and make it stdout-path.</summary>
    public bool SbsaUart { get; init; }

    /// <summary>/timer clock-frequency in Hz, only when CNTFRQ_EL0 cannot be trusted; none by default.</summary>
    public uint? TimerFrequency { get; init; }

    /// <summary>Describe the GICv3 ITS (a child of the GIC node).</summary>
    public bool Its { get; init; } = true;

    /// <summary>The Xen version in "xen,xenvm-M.m" and "xen,xen-M.m".</summary>
    public int XenMajor { get; init; } = 4;
    public int XenMinor { get; init; } = 20;
}

/// <summary>
/// The device tree of an ARM guest, as libxl writes it (tools/libs/light/libxl_arm.c,
/// libxl__prepare_dtb), plus an ITS and a stdout-path:
/// <code>
/// / { model "XENVM-4.20"; compatible "xen,xenvm-4.20", "xen,xenvm"; interrupt-parent &amp;gic;
///     #address-cells 2; #size-cells 2;
///   chosen { bootargs; stdout-path; linux,initrd-start/end (u64) }
///   cpus { #address-cells 1; #size-cells 0; cpu@N { device_type "cpu"; compatible "arm,armv8";
///          enable-method "psci"; reg &lt;MPIDR affinity&gt; } }
///   psci { compatible "arm,psci-1.0", "arm,psci-0.2", "arm,psci"; method "hvc"; cpu_off 1; cpu_on 2 }
///   memory@40000000 { device_type "memory"; reg = one (base, size) per populated bank }
///   interrupt-controller@3001000 { compatible "arm,gic-v3"; #interrupt-cells 3; interrupt-controller;
///     #address-cells 2; #size-cells 2; ranges; #redistributor-regions 1; reg GICD, GICR; phandle 65000
///     its@4020000 { compatible "arm,gic-v3-its"; msi-controller; #msi-cells 1; reg; phandle } }
///   timer { compatible "arm,armv8-timer"; interrupts: PPI 29, 30, 27, level-low, all CPUs }
///   hypervisor { compatible "xen,xen-4.20", "xen,xen"; reg grant-table window; interrupts PPI 31 }
///   sbsa-uart@22000000 { compatible "arm,sbsa-uart"; reg; interrupts SPI 0 level-high; current-speed 115200 }
/// }
/// </code>
/// The timer lists the three PPIs Xen gives guests (secure physical, non-secure physical,
/// virtual), as libxl does; there is no EL2 timer for an EL1 guest. "hypervisor" has no unit
/// address although it has a reg, because Linux looks for the node by that exact name.
/// </summary>
public static class Arm64DeviceTree
{
    public const uint UartBaud = 115200;

    public static string UartNodeName => $"sbsa-uart@{ArmGuestLayout.Pl011Base:x}";
    public static string GicNodeName => $"interrupt-controller@{ArmGuestLayout.GicV3DistributorBase:x}";
    public static string ItsNodeName => $"its@{ArmGuestLayout.GicV3ItsBase:x}";
    public static string MemoryNodeName => $"memory@{ArmGuestLayout.Ram0Base:x}";

    /// <summary>Writes the blob for <paramref name="layout"/>.</summary>
    public static byte[] Build(Arm64Layout layout, Arm64DeviceTreeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        options ??= new Arm64DeviceTreeOptions();
        const int ac = RootAddressCells, sc = RootSizeCells;
        var fdt = new FdtBuilder { BootCpuId = (uint)Arm64Layout.MpidrAffinity(0) };

        fdt.BeginNode("")
            .PropertyString("model", $"XENVM-{options.XenMajor}.{options.XenMinor}")
            .PropertyStrings("compatible", $"xen,xenvm-{options.XenMajor}.{options.XenMinor}", "xen,xenvm")
            .PropertyU32("interrupt-parent", PhandleGic)
            .PropertyU32("#address-cells", ac)
            .PropertyU32("#size-cells", sc);

        fdt.BeginNode("chosen");
        if (options.Bootargs is { } bootargs) fdt.PropertyString("bootargs", bootargs);
        if (options.SbsaUart) fdt.PropertyString("stdout-path", "/" + UartNodeName);
        if (options.Initrd is { } initrd)
        {
            if (initrd.End < initrd.Start) throw new ArgumentException("the initrd ends before it starts", nameof(options));
            fdt.PropertyU64("linux,initrd-start", initrd.Start).PropertyU64("linux,initrd-end", initrd.End);
        }
        fdt.EndNode();

        fdt.BeginNode("cpus").PropertyU32("#address-cells", 1).PropertyU32("#size-cells", 0);
        for (int i = 0; i < layout.Vcpus; i++)
        {
            ulong mpidr = Arm64Layout.MpidrAffinity(i);
            fdt.BeginNode($"cpu@{mpidr:x}")
                .PropertyString("device_type", "cpu")
                .PropertyStrings("compatible", "arm,armv8")
                .PropertyString("enable-method", "psci")
                .PropertyU32("reg", (uint)mpidr)
                .EndNode();
        }
        fdt.EndNode();

        fdt.BeginNode("psci")
            .PropertyStrings("compatible", "arm,psci-1.0", "arm,psci-0.2", "arm,psci")
            .PropertyString("method", "hvc")
            .PropertyU32("cpu_off", PsciFunction.V01CpuOff)
            .PropertyU32("cpu_on", PsciFunction.V01CpuOn)
            .EndNode();

        fdt.BeginNode(MemoryNodeName)
            .PropertyString("device_type", "memory")
            .PropertyRegs("reg", ac, sc, layout.RamBanks.Select(b => (b.Base, b.Size)).ToArray())
            .EndNode();

        fdt.BeginNode(GicNodeName)
            .PropertyStrings("compatible", "arm,gic-v3")
            .PropertyU32("#interrupt-cells", 3)
            .PropertyEmpty("interrupt-controller")
            .PropertyU32("#redistributor-regions", ArmGuestLayout.GicV3RedistributorRegions)
            .PropertyRegs("reg", ac, sc,
                (ArmGuestLayout.GicV3DistributorBase, ArmGuestLayout.GicV3DistributorSize),
                (ArmGuestLayout.GicV3Redistributor0Base, ArmGuestLayout.GicV3Redistributor0Size))
            .PropertyU32("linux,phandle", PhandleGic)
            .PropertyU32("phandle", PhandleGic);
        if (options.Its)
        {
            fdt.PropertyU32("#address-cells", ac).PropertyU32("#size-cells", sc).PropertyEmpty("ranges");
            fdt.BeginNode(ItsNodeName)
                .PropertyStrings("compatible", "arm,gic-v3-its")
                .PropertyEmpty("msi-controller")
                .PropertyU32("#msi-cells", 1)
                .PropertyRegs("reg", ac, sc, (ArmGuestLayout.GicV3ItsBase, ArmGuestLayout.GicV3ItsSize))
                .PropertyU32("phandle", PhandleIts)
                .EndNode();
        }
        else
        {
            fdt.PropertyU32("#address-cells", 0);
        }
        fdt.EndNode();

        fdt.BeginNode("timer").PropertyStrings("compatible", "arm,armv8-timer");
        fdt.PropertyCells("interrupts", Interrupts(
            (ArmGuestLayout.TimerPhysicalSecurePpi, IrqTypeLevelLow),
            (ArmGuestLayout.TimerPhysicalNonSecurePpi, IrqTypeLevelLow),
            (ArmGuestLayout.TimerVirtualPpi, IrqTypeLevelLow)));
        fdt.PropertyU32("interrupt-parent", PhandleGic);
        if (options.TimerFrequency is { } hz) fdt.PropertyU32("clock-frequency", hz);
        fdt.EndNode();

        fdt.BeginNode("hypervisor")
            .PropertyStrings("compatible", $"xen,xen-{options.XenMajor}.{options.XenMinor}", "xen,xen")
            .PropertyRegs("reg", ac, sc, (ArmGuestLayout.GrantTableBase, ArmGuestLayout.GrantTableSize))
            .PropertyCells("interrupts", Interrupts((ArmGuestLayout.EventChannelPpi, IrqTypeLevelLow)))
            .PropertyU32("interrupt-parent", PhandleGic)
            .EndNode();

        if (options.SbsaUart)
        {
            fdt.BeginNode(UartNodeName)
                .PropertyStrings("compatible", "arm,sbsa-uart")
                .PropertyRegs("reg", ac, sc, (ArmGuestLayout.Pl011Base, ArmGuestLayout.Pl011Size))
                .PropertyCells("interrupts", Interrupts((ArmGuestLayout.Vpl011Spi, IrqTypeLevelHigh)))
                .PropertyU32("interrupt-parent", PhandleGic)
                .PropertyU32("current-speed", UartBaud)
                .EndNode();
        }

        fdt.EndNode();
        return fdt.Finish();
    }

    private static uint[] Interrupts(params ReadOnlySpan<(int Intid, uint Trigger)> interrupts)
    {
        var cells = new uint[interrupts.Length * 3];
        for (int i = 0; i < interrupts.Length; i++)
        {
            var (kind, number, flags) = GicInterrupt(interrupts[i].Intid, interrupts[i].Trigger);
            cells[i * 3] = kind;
            cells[i * 3 + 1] = number;
            cells[i * 3 + 2] = flags;
        }
        return cells;
    }
}
