namespace XenSharp.Abi.Arm;

/// <summary>
/// The guest-physical platform of an ARM domain: the GUEST_* constants of Xen's
/// xen/include/public/arch-arm.h ("Virtual machine platform (memory layout, interrupts)"),
/// as of xen-project/xen c447b7308b13. Xen says guests must not rely on them but use the
/// device tree; the toolstack and the hypervisor agree on them, and so do XenSharp's ARM
/// domain builder (src/XenSharp.Boot/Arm64) and its virtual devices.
/// </summary>
/// <remarks>
/// The one region that is XenSharp's own choice is the ITS (<see cref="GicV3ItsBase"/>): Xen's
/// public header defines no virtual ITS for guests built by the toolstack.
/// </remarks>
public static class ArmGuestLayout
{
    // ---- Physical address space -------------------------------------------------------

    /// <summary>GUEST_VIRTIO_MMIO_BASE: virtio-mmio transports.</summary>
    public const ulong VirtioMmioBase = 0x0200_0000;
    /// <summary>GUEST_VIRTIO_MMIO_SIZE.</summary>
    public const ulong VirtioMmioSize = 0x0010_0000;

    /// <summary>GUEST_GICD_BASE (GICv2 distributor; overlaps the GICv3 one, only one GIC is used).</summary>
    public const ulong GicV2DistributorBase = 0x0300_1000;
    /// <summary>GUEST_GICD_SIZE.</summary>
    public const ulong GicV2DistributorSize = 0x0000_1000;
    /// <summary>GUEST_GICC_BASE (GICv2 CPU interface).</summary>
    public const ulong GicV2CpuInterfaceBase = 0x0300_2000;
    /// <summary>GUEST_GICC_SIZE.</summary>
    public const ulong GicV2CpuInterfaceSize = 0x0000_2000;

    /// <summary>GUEST_GICV3_GICD_BASE: the GICv3 distributor.</summary>
    public const ulong GicV3DistributorBase = 0x0300_1000;
    /// <summary>GUEST_GICV3_GICD_SIZE (64 KiB).</summary>
    public const ulong GicV3DistributorSize = 0x0001_0000;
    /// <summary>GUEST_GICV3_RDIST_REGIONS: one contiguous redistributor region.</summary>
    public const int GicV3RedistributorRegions = 1;
    /// <summary>GUEST_GICV3_GICR0_BASE: redistributors of vCPU 0..127, one after another.</summary>
    public const ulong GicV3Redistributor0Base = 0x0302_0000;
    /// <summary>GUEST_GICV3_GICR0_SIZE (16 MiB = 128 redistributors).</summary>
    public const ulong GicV3Redistributor0Size = 0x0100_0000;
    /// <summary>
    /// One GICv3 redistributor: the RD_base and SGI_base 64 KiB frames (Xen's GICV3_GICR_SIZE,
    /// not in the public header). <see cref="GicV3Redistributor0Size"/> / this = <see cref="MaxVcpus"/>.
    /// </summary>
    public const ulong GicV3RedistributorStride = 0x0002_0000;

    /// <summary>
    /// The virtual GICv3 ITS: XenSharp's choice (Xen's public header has no GUEST_GICV3_ITS_*):
    /// the first 64 KiB-aligned address after the redistributor region, in the hole Xen leaves
    /// free before GUEST_VPCI_ECAM_BASE.
    /// </summary>
    public const ulong GicV3ItsBase = GicV3Redistributor0Base + GicV3Redistributor0Size;
    /// <summary>The ITS size: the control frame and the GITS_TRANSLATER frame, 64 KiB each (GICv3, no GICv4 vLPI frames).</summary>
    public const ulong GicV3ItsSize = 0x0002_0000;

    /// <summary>GUEST_VPCI_ECAM_BASE: PCI configuration space (256 buses).</summary>
    public const ulong VpciEcamBase = 0x1000_0000;
    /// <summary>GUEST_VPCI_ECAM_SIZE.</summary>
    public const ulong VpciEcamSize = 0x1000_0000;

    /// <summary>GUEST_ACPI_BASE: ACPI tables, when the guest gets ACPI.</summary>
    public const ulong AcpiBase = 0x2000_0000;
    /// <summary>GUEST_ACPI_SIZE.</summary>
    public const ulong AcpiSize = 0x0200_0000;

    /// <summary>GUEST_PL011_BASE: the emulated SBSA UART (vuart="sbsa_uart").</summary>
    public const ulong Pl011Base = 0x2200_0000;
    /// <summary>GUEST_PL011_SIZE.</summary>
    public const ulong Pl011Size = 0x0000_1000;

    /// <summary>GUEST_GNTTAB_BASE: where the guest maps its grant-table frames (the "reg" of /hypervisor).</summary>
    public const ulong GrantTableBase = 0x3800_0000;
    /// <summary>GUEST_GNTTAB_SIZE (16 MiB = 4096 frames).</summary>
    public const ulong GrantTableSize = 0x0100_0000;

    /// <summary>GUEST_MAGIC_BASE: the toolstack's special pages (console ring, XenStore ring, …).</summary>
    public const ulong MagicBase = 0x3900_0000;
    /// <summary>GUEST_MAGIC_SIZE.</summary>
    public const ulong MagicSize = 0x0100_0000;

    /// <summary>
    /// Pages libxc populates at <see cref="MagicBase"/> (NR_MAGIC_PAGES in tools/libs/guest/xg_dom_arm.c),
    /// in this order: console ring, XenStore ring, memaccess ring, vuart ring.
    /// </summary>
    public const int MagicPageCount = 4;
    /// <summary>CONSOLE_PFN_OFFSET (xg_dom_arm.c): the PV console ring page's index in the magic region.</summary>
    public const int ConsoleRingPage = 0;
    /// <summary>XENSTORE_PFN_OFFSET.</summary>
    public const int XenStoreRingPage = 1;
    /// <summary>MEMACCESS_PFN_OFFSET.</summary>
    public const int MemAccessRingPage = 2;
    /// <summary>VUART_PFN_OFFSET: the ring between the vpl011 emulation and the console backend.</summary>
    public const int VuartRingPage = 3;

    /// <summary>GUEST_RAM_BANKS.</summary>
    public const int RamBanks = 2;
    /// <summary>GUEST_RAM0_BASE: 3 GiB of low RAM at 1 GiB. Also GUEST_RAM_BASE, the lowest RAM address.</summary>
    public const ulong Ram0Base = 0x4000_0000;
    /// <summary>GUEST_RAM0_SIZE.</summary>
    public const ulong Ram0Size = 0xC000_0000;
    /// <summary>GUEST_RAM1_BASE: 1016 GiB of RAM at 8 GiB.</summary>
    public const ulong Ram1Base = 0x02_0000_0000;
    /// <summary>GUEST_RAM1_SIZE.</summary>
    public const ulong Ram1Size = 0xFE_0000_0000;
    /// <summary>GUEST_RAM_MAX: the most RAM a guest can have (both banks full).</summary>
    public const ulong RamMax = Ram0Size + Ram1Size;

    /// <summary>GUEST_MAX_VCPUS.</summary>
    public const int MaxVcpus = 128;

    // ---- Interrupts (GIC INTIDs: PPIs are 16..31, SPIs from 32) -------------------------

    /// <summary>GUEST_TIMER_VIRT_PPI: the EL1 virtual timer.</summary>
    public const int TimerVirtualPpi = 27;
    /// <summary>GUEST_TIMER_PHYS_S_PPI: the secure physical timer.</summary>
    public const int TimerPhysicalSecurePpi = 29;
    /// <summary>GUEST_TIMER_PHYS_NS_PPI: the non-secure EL1 physical timer.</summary>
    public const int TimerPhysicalNonSecurePpi = 30;
    /// <summary>GUEST_EVTCHN_PPI: the event-channel upcall (the "interrupts" of /hypervisor).</summary>
    public const int EventChannelPpi = 31;
    /// <summary>GUEST_VPL011_SPI: the SBSA UART's interrupt.</summary>
    public const int Vpl011Spi = 32;
    /// <summary>GUEST_VIRTIO_MMIO_SPI_FIRST.</summary>
    public const int VirtioMmioSpiFirst = 33;
    /// <summary>GUEST_VIRTIO_MMIO_SPI_LAST.</summary>
    public const int VirtioMmioSpiLast = 43;

    // ---- Initial CPU state (arch-arm.h) ----------------------------------------------------

    /// <summary>
    /// PSR_GUEST64_INIT: D, A, I and F masked, EL1h (PSR_DBG_MASK|PSR_ABT_MASK|PSR_FIQ_MASK|PSR_IRQ_MASK|PSR_MODE_EL1h).
    /// </summary>
    public const ulong PsrGuest64Init = 0x3C5;
    /// <summary>SCTLR_GUEST_INIT: MMU and caches off, RES1 bits set.</summary>
    public const ulong SctlrGuestInit = 0x00C5_0078;
}
