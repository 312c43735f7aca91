namespace XenSharp.Abi.Arm;

/// <summary>
/// Device-tree constants shared by Xen and its toolstack (xen/include/public/device_tree_defs.h)
/// and the GIC interrupt-specifier encoding libxl uses (tools/libs/light/libxl_arm.c, set_interrupt).
/// </summary>
public static class ArmDeviceTreeDefs
{
    /// <summary>GUEST_PHANDLE_GIC: the phandle of the guest's interrupt controller.</summary>
    public const uint PhandleGic = 65000;
    /// <summary>GUEST_PHANDLE_IOMMU.</summary>
    public const uint PhandleIommu = PhandleGic + 1;
    /// <summary>The phandle of the ITS node (XenSharp's choice: Xen's guests get no ITS node).</summary>
    public const uint PhandleIts = PhandleGic + 2;

    /// <summary>GUEST_ROOT_ADDRESS_CELLS.</summary>
    public const int RootAddressCells = 2;
    /// <summary>GUEST_ROOT_SIZE_CELLS.</summary>
    public const int RootSizeCells = 2;

    /// <summary>DT_IRQ_TYPE_EDGE_RISING.</summary>
    public const uint IrqTypeEdgeRising = 0x1;
    /// <summary>DT_IRQ_TYPE_EDGE_FALLING.</summary>
    public const uint IrqTypeEdgeFalling = 0x2;
    /// <summary>DT_IRQ_TYPE_LEVEL_HIGH.</summary>
    public const uint IrqTypeLevelHigh = 0x4;
    /// <summary>DT_IRQ_TYPE_LEVEL_LOW.</summary>
    public const uint IrqTypeLevelLow = 0x8;

    /// <summary>First cell of a GIC interrupt specifier: an SPI.</summary>
    public const uint GicSpi = 0;
    /// <summary>First cell of a GIC interrupt specifier: a PPI.</summary>
    public const uint GicPpi = 1;

    /// <summary>
    /// The three cells of a GIC interrupt specifier for INTID <paramref name="intid"/> (16..1019),
    /// as libxl writes them: PPI/SPI, the number within its class, and (cpumask &lt;&lt; 8) | trigger.
    /// </summary>
    public static (uint Kind, uint Number, uint Flags) GicInterrupt(int intid, uint trigger, uint cpuMask = 0xF)
    {
        if (intid < 16 || intid > 1019)
            throw new ArgumentOutOfRangeException(nameof(intid), intid, "PPIs are 16..31, SPIs 32..1019 (SGIs are not described in device trees)");
        bool ppi = intid < 32;
        return (ppi ? GicPpi : GicSpi, (uint)(intid - (ppi ? 16 : 32)), (cpuMask << 8) | trigger);
    }
}
