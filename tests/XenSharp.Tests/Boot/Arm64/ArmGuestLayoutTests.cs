using XenSharp.Abi.Arm;

namespace XenSharp.Tests.Boot.Arm64;

/// <summary>
/// The numbers of xen/include/public/arch-arm.h (xen-project/xen c447b7308b13), copied by hand:
/// a change in ArmGuestLayout that drifts from Xen fails here.
/// </summary>
public class ArmGuestLayoutTests
{
    [Fact]
    public void Memory_map_matches_arch_arm_h()
    {
        Assert.Equal(0x03001000UL, ArmGuestLayout.GicV3DistributorBase);      // GUEST_GICV3_GICD_BASE
        Assert.Equal(0x00010000UL, ArmGuestLayout.GicV3DistributorSize);      // GUEST_GICV3_GICD_SIZE
        Assert.Equal(1, ArmGuestLayout.GicV3RedistributorRegions);            // GUEST_GICV3_RDIST_REGIONS
        Assert.Equal(0x03020000UL, ArmGuestLayout.GicV3Redistributor0Base);   // GUEST_GICV3_GICR0_BASE
        Assert.Equal(0x01000000UL, ArmGuestLayout.GicV3Redistributor0Size);   // GUEST_GICV3_GICR0_SIZE
        Assert.Equal(0x03001000UL, ArmGuestLayout.GicV2DistributorBase);      // GUEST_GICD_BASE
        Assert.Equal(0x03002000UL, ArmGuestLayout.GicV2CpuInterfaceBase);     // GUEST_GICC_BASE
        Assert.Equal(0x02000000UL, ArmGuestLayout.VirtioMmioBase);            // GUEST_VIRTIO_MMIO_BASE
        Assert.Equal(0x10000000UL, ArmGuestLayout.VpciEcamBase);              // GUEST_VPCI_ECAM_BASE
        Assert.Equal(0x20000000UL, ArmGuestLayout.AcpiBase);                  // GUEST_ACPI_BASE
        Assert.Equal(0x22000000UL, ArmGuestLayout.Pl011Base);                 // GUEST_PL011_BASE
        Assert.Equal(0x00001000UL, ArmGuestLayout.Pl011Size);                 // GUEST_PL011_SIZE
        Assert.Equal(0x38000000UL, ArmGuestLayout.GrantTableBase);            // GUEST_GNTTAB_BASE
        Assert.Equal(0x01000000UL, ArmGuestLayout.GrantTableSize);            // GUEST_GNTTAB_SIZE
        Assert.Equal(0x39000000UL, ArmGuestLayout.MagicBase);                 // GUEST_MAGIC_BASE
        Assert.Equal(0x01000000UL, ArmGuestLayout.MagicSize);                 // GUEST_MAGIC_SIZE
        Assert.Equal(2, ArmGuestLayout.RamBanks);                             // GUEST_RAM_BANKS
        Assert.Equal(0x40000000UL, ArmGuestLayout.Ram0Base);                  // GUEST_RAM0_BASE
        Assert.Equal(0xC0000000UL, ArmGuestLayout.Ram0Size);                  // GUEST_RAM0_SIZE
        Assert.Equal(0x0200000000UL, ArmGuestLayout.Ram1Base);                // GUEST_RAM1_BASE
        Assert.Equal(0xFE00000000UL, ArmGuestLayout.Ram1Size);                // GUEST_RAM1_SIZE
        Assert.Equal(0xC0000000UL + 0xFE00000000UL, ArmGuestLayout.RamMax);   // GUEST_RAM_MAX
        Assert.Equal(128, ArmGuestLayout.MaxVcpus);                           // GUEST_MAX_VCPUS
    }

    [Fact]
    public void Interrupts_match_arch_arm_h()
    {
        Assert.Equal(27, ArmGuestLayout.TimerVirtualPpi);            // GUEST_TIMER_VIRT_PPI
        Assert.Equal(29, ArmGuestLayout.TimerPhysicalSecurePpi);     // GUEST_TIMER_PHYS_S_PPI
        Assert.Equal(30, ArmGuestLayout.TimerPhysicalNonSecurePpi);  // GUEST_TIMER_PHYS_NS_PPI
        Assert.Equal(31, ArmGuestLayout.EventChannelPpi);            // GUEST_EVTCHN_PPI
        Assert.Equal(32, ArmGuestLayout.Vpl011Spi);                  // GUEST_VPL011_SPI
        Assert.Equal(33, ArmGuestLayout.VirtioMmioSpiFirst);         // GUEST_VIRTIO_MMIO_SPI_FIRST
        Assert.Equal(43, ArmGuestLayout.VirtioMmioSpiLast);          // GUEST_VIRTIO_MMIO_SPI_LAST
    }

    [Fact]
    public void Redistributor_region_holds_one_redistributor_per_possible_vcpu()
    {
        Assert.Equal((ulong)ArmGuestLayout.MaxVcpus, ArmGuestLayout.GicV3Redistributor0Size / ArmGuestLayout.GicV3RedistributorStride);
    }

    [Fact]
    public void Its_sits_in_the_hole_after_the_redistributors_and_before_vpci()
    {
        Assert.Equal(0x04020000UL, ArmGuestLayout.GicV3ItsBase);
        Assert.Equal(0UL, ArmGuestLayout.GicV3ItsBase % 0x10000);
        Assert.True(ArmGuestLayout.GicV3ItsBase + ArmGuestLayout.GicV3ItsSize <= ArmGuestLayout.VpciEcamBase);
    }

    [Fact]
    public void Initial_cpu_state_constants_match_arch_arm_h()
    {
        // PSR_GUEST64_INIT = PSR_DBG_MASK|PSR_ABT_MASK|PSR_FIQ_MASK|PSR_IRQ_MASK|PSR_MODE_EL1h.
        Assert.Equal(0x200UL | 0x100 | 0x40 | 0x80 | 0x5, ArmGuestLayout.PsrGuest64Init);
        Assert.Equal(0x00c50078UL, ArmGuestLayout.SctlrGuestInit); // SCTLR_GUEST_INIT
    }

    [Fact]
    public void Hypercall_convention_is_hvc_0xea1_with_number_in_x16()
    {
        Assert.Equal(0xEA1, ArmHypercallConvention.HvcImmediate); // XEN_HYPERCALL_TAG
        Assert.Equal(16, ArmHypercallConvention.NumberRegister);
        Assert.Equal(0xD401D422u, ArmHypercallConvention.HvcInstruction); // hvc #0xea1 as assembled by aarch64-linux-gnu-as
    }

    [Fact]
    public void Psci_ids_follow_smccc()
    {
        Assert.Equal(0x84000000u, PsciFunction.Version);
        Assert.Equal(0xC4000001u, PsciFunction.CpuSuspend64);
        Assert.Equal(0x84000002u, PsciFunction.CpuOff);
        Assert.Equal(0xC4000003u, PsciFunction.CpuOn64);
        Assert.Equal(0x84000008u, PsciFunction.SystemOff);
        Assert.Equal(0x84000009u, PsciFunction.SystemReset);
        Assert.Equal(0x8400000Au, PsciFunction.Features);
        Assert.Equal(1u, PsciFunction.V01CpuOff); // PSCI_cpu_off in arch-arm.h
        Assert.Equal(2u, PsciFunction.V01CpuOn);  // PSCI_cpu_on
    }

    [Fact]
    public void Gic_interrupt_specifier_is_encoded_as_libxl_does()
    {
        Assert.Equal((1u, 15u, 0xF08u), ArmDeviceTreeDefs.GicInterrupt(31, ArmDeviceTreeDefs.IrqTypeLevelLow));
        Assert.Equal((0u, 0u, 0xF04u), ArmDeviceTreeDefs.GicInterrupt(32, ArmDeviceTreeDefs.IrqTypeLevelHigh));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArmDeviceTreeDefs.GicInterrupt(15, 4));
    }
}
