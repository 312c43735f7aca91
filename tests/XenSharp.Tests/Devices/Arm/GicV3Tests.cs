using XenSharp.Devices.Arm;

namespace XenSharp.Tests.Devices.Arm;

/// <summary>GICv3 distributor, redistributors and CPU interface, driven as a guest would.</summary>
public class GicV3Tests
{
    internal const ulong SgiBase = 0x10000;

    internal static ulong Rd(int vcpu, ulong offset) => (ulong)vcpu * GicV3.RedistributorStride + offset;

    /// <summary>A GIC brought up the way Linux does: WAKER handshake, Group 1 on, PMR open.</summary>
    internal static GicV3 BootedGic(int vcpus = 4, int spis = 64, XenSharp.Hypervisor.Memory.GuestMemory? memory = null)
    {
        var gic = new GicV3(vcpus, spis, memory);
        gic.Distributor.Write(0x0, 4, 1u << 1);                       // EnableGrp1A
        for (int v = 0; v < vcpus; v++)
        {
            gic.Redistributors.Write(Rd(v, 0x14), 4, 0);              // ProcessorSleep = 0
            var cpu = gic.CpuInterface(v);
            Assert.True(cpu.TryWriteSysReg(ArmSysReg.ICC_PMR_EL1, 0xF0));
            Assert.True(cpu.TryWriteSysReg(ArmSysReg.ICC_IGRPEN1_EL1, 1));
        }
        return gic;
    }

    internal static uint Iar(GicV3 gic, int vcpu)
    {
        Assert.True(gic.CpuInterface(vcpu).TryReadSysReg(ArmSysReg.ICC_IAR1_EL1, out ulong v));
        return (uint)v;
    }

    internal static void Eoi(GicV3 gic, int vcpu, uint intid) =>
        Assert.True(gic.CpuInterface(vcpu).TryWriteSysReg(ArmSysReg.ICC_EOIR1_EL1, intid));

    private static ulong Sys(GicV3 gic, int vcpu, uint reg)
    {
        Assert.True(gic.CpuInterface(vcpu).TryReadSysReg(reg, out ulong v));
        return v;
    }

    [Fact]
    public void Distributor_identification_and_type()
    {
        var gic = new GicV3(vcpuCount: 2, spiCount: 64);
        uint typer = (uint)gic.Distributor.Read(0x4, 4);
        Assert.Equal(2u, typer & 0x1F);                                // ITLinesNumber: INTIDs up to 95
        Assert.Equal(1u, (typer >> 5) & 7);                            // CPUNumber = 2 - 1
        Assert.Equal(15u, (typer >> 19) & 0x1F);                       // 16 ID bits
        Assert.Equal(0u, typer & (1u << 17));                          // no LPIs without guest memory
        Assert.Equal(3u, (gic.Distributor.Read(0xFFE8, 4) >> 4) & 0xF);   // PIDR2.ArchRev = GICv3
        Assert.Equal(3u, (gic.Redistributors.Read(Rd(1, 0xFFE8), 4) >> 4) & 0xF);
        Assert.Equal(GicV3.Iidr, gic.Distributor.Read(0x8, 4));
        Assert.Equal(1u << 4, gic.Distributor.Read(0x0, 4));            // ARE_NS always set, groups off
        gic.Distributor.Write(0x0, 4, 0x13);
        Assert.Equal(0x12u, gic.Distributor.Read(0x0, 4));              // EnableGrp1A kept, ARE stays one
    }

    [Fact]
    public void Enable_pending_and_active_bitmaps_set_and_clear_per_bit()
    {
        var gic = new GicV3(2, 64);
        var d = gic.Distributor;
        d.Write(0x104, 4, 0x0000_0005);                                // ISENABLER1: SPIs 32 and 34
        d.Write(0x104, 4, 0x0000_0100);                                // setting is cumulative
        Assert.Equal(0x105u, d.Read(0x104, 4));
        Assert.Equal(0x105u, d.Read(0x184, 4));                         // ICENABLER reads the same state
        d.Write(0x184, 4, 0x1);                                        // clear SPI 32 only
        Assert.Equal(0x104u, d.Read(0x104, 4));

        d.Write(0xC04 + 4, 4, 0);                                      // (ICFGR for 48..63: keep level)
        d.Write(0x204, 4, 0x8000_0000);                                // ISPENDR1: SPI 63
        Assert.True(gic.IsPending(0, 63));
        d.Write(0x284, 4, 0x8000_0000);
        Assert.False(gic.IsPending(0, 63));
        d.Write(0x304, 4, 0x2);                                        // ISACTIVER1: SPI 33
        Assert.Equal(0x2u, d.Read(0x384, 4));
        d.Write(0x384, 4, 0x2);
        Assert.Equal(0u, d.Read(0x304, 4));

        Assert.Equal(0u, d.Read(0x100, 4));                             // SGIs/PPIs live in the redistributor (ARE)
        Assert.Equal(0u, d.Read(0x10C, 4));                             // beyond the implemented SPIs: RAZ
        d.Write(0x10C, 4, ~0u);
        Assert.Equal(0u, d.Read(0x10C, 4));

        var r = gic.Redistributors;
        r.Write(Rd(1, SgiBase + 0x100), 4, 0x0800_0001);               // SGI 0, PPI 27 on vCPU 1
        Assert.Equal(0x0800_0001u, r.Read(Rd(1, SgiBase + 0x100), 4));
        Assert.Equal(0u, r.Read(Rd(0, SgiBase + 0x100), 4));            // vCPU 0 is separate
        r.Write(Rd(1, SgiBase + 0x180), 4, 1);
        Assert.Equal(0x0800_0000u, r.Read(Rd(1, SgiBase + 0x100), 4));
        Assert.Equal(~0u, r.Read(Rd(1, SgiBase + 0x80), 4));            // IGROUPR0 resets to Group 1
        Assert.Equal(0xAAAA_AAAAu, r.Read(Rd(1, SgiBase + 0xC00), 4));  // SGIs are edge, read only
        r.Write(Rd(1, SgiBase + 0xC00), 4, 0);
        Assert.Equal(0xAAAA_AAAAu, r.Read(Rd(1, SgiBase + 0xC00), 4));
    }

    [Fact]
    public void Priorities_are_byte_accessible_and_keep_five_bits()
    {
        var gic = new GicV3(2, 64);
        var d = gic.Distributor;
        d.Write(0x400 + 33, 1, 0xA7);                                  // SPI 33
        Assert.Equal(0xA0u, d.Read(0x400 + 33, 1));
        Assert.Equal(0xA000u, d.Read(0x400 + 32, 4));                   // word view of 32..35
        d.Write(0x400 + 36, 4, 0x80604020);
        Assert.Equal(0x60u, d.Read(0x400 + 38, 1));
        Assert.Equal(0u, d.Read(0x400 + 5, 1));                          // SGI bytes in the distributor: RAZ
        var r = gic.Redistributors;
        r.Write(Rd(0, SgiBase + 0x400 + 27), 1, 0x48);
        Assert.Equal(0x48u << 24, r.Read(Rd(0, SgiBase + 0x418), 4));
        Assert.Equal(0u, r.Read(Rd(1, SgiBase + 0x418), 4));
    }

    [Fact]
    public void Irouter_holds_affinity_and_routes_spis()
    {
        var gic = BootedGic(vcpus: 20);
        var d = gic.Distributor;
        ulong vcpu17 = GicV3.AffinityOf(17);
        Assert.Equal(0x101UL, vcpu17);                                  // Aff1 = 1, Aff0 = 1
        d.Write(0x6000 + 8 * 40, 8, vcpu17 | 0xFF00_0000_0000_0000UL);  // reserved bits dropped
        Assert.Equal(vcpu17, d.Read(0x6000 + 8 * 40, 8));
        Assert.Equal(vcpu17, d.Read(0x6000 + 8 * 40, 4));
        d.Write(0x104, 4, 1u << 8);                                    // enable SPI 40
        d.Write(0x200 + 4, 4, 1u << 8);                                // pend SPI 40
        Assert.False(gic.IsIrqAsserted(0));
        Assert.True(gic.IsIrqAsserted(17));
        Assert.Equal(40u, Iar(gic, 17));

        d.Write(0x6000 + 8 * 41, 4, 1u << 31);                         // IRM: any vCPU
        d.Write(0x104, 4, 1u << 9);
        d.Write(0x204, 4, 1u << 9);
        Assert.True(gic.IsIrqAsserted(3));
        Assert.True(gic.IsIrqAsserted(5));
        Assert.Equal(41u, Iar(gic, 5));
        Assert.False(gic.IsIrqAsserted(3));                             // the first acknowledge wins
    }

    [Fact]
    public void Redistributor_type_and_waker_handshake()
    {
        var gic = new GicV3(3, 32);
        var r = gic.Redistributors;
        ulong t0 = r.Read(Rd(0, 0x8), 8), t2 = r.Read(Rd(2, 0x8), 8);
        Assert.Equal(0UL, t0 & (1 << 4));                               // not Last
        Assert.Equal(1UL << 4, t2 & (1 << 4));                          // Last
        Assert.Equal(2UL, (t2 >> 8) & 0xFFFF);                          // Processor_Number
        Assert.Equal(GicV3.AffinityOf(2), t2 >> 32);
        Assert.Equal(t2 >> 32, r.Read(Rd(2, 0xC), 4));

        Assert.Equal(0b110UL, r.Read(Rd(1, 0x14), 4));                  // asleep at reset
        // Asleep: nothing is forwarded even with everything else ready.
        gic.Distributor.Write(0, 4, 2);
        gic.CpuInterface(1).TryWriteSysReg(ArmSysReg.ICC_PMR_EL1, 0xFF);
        gic.CpuInterface(1).TryWriteSysReg(ArmSysReg.ICC_IGRPEN1_EL1, 1);
        r.Write(Rd(1, SgiBase + 0x100), 4, 1u << 27);
        gic.SetPpiLevel(1, 27, true);
        Assert.False(gic.IsIrqAsserted(1));
        r.Write(Rd(1, 0x14), 4, 0);                                    // clear ProcessorSleep
        Assert.Equal(0UL, r.Read(Rd(1, 0x14), 4));                       // ChildrenAsleep follows
        Assert.True(gic.IsIrqAsserted(1));
        r.Write(Rd(1, 0x14), 4, 2);
        Assert.Equal(0b110UL, r.Read(Rd(1, 0x14), 4));
        Assert.Equal(0UL, r.Read(Rd(3, 0x14), 4));                       // beyond the last redistributor: RAZ
    }

    [Fact]
    public void Acknowledge_and_eoi_follow_priority_order()
    {
        var gic = BootedGic(2);
        var d = gic.Distributor;
        d.Write(0x104, 4, 0b111);                                      // SPIs 32, 33, 34
        for (int i = 32; i <= 34; i++) d.Write(0x6000 + 8 * (ulong)i, 8, 0);  // to vCPU 0
        d.Write(0x400 + 32, 1, 0x80);
        d.Write(0x400 + 33, 1, 0x40);
        d.Write(0x400 + 34, 1, 0x40);
        d.Write(0xC08, 4, 0b10_10_10);                                 // edge for 32..34
        foreach (uint i in new uint[] { 32, 33, 34 }) gic.InjectPending(0, i);

        Assert.Equal(33u, Sys(gic, 0, ArmSysReg.ICC_HPPIR1_EL1));       // ties go to the lower INTID
        Assert.Equal(33u, Iar(gic, 0));
        Assert.Equal(0x40UL, Sys(gic, 0, ArmSysReg.ICC_RPR_EL1));
        Assert.True(gic.IsActive(0, 33));
        Assert.False(gic.IsPending(0, 33));
        // Same group priority cannot preempt; lower priority cannot either.
        Assert.False(gic.IsIrqAsserted(0));
        Assert.Equal(GicV3.SpuriousIntId, Iar(gic, 0));
        Assert.Equal(34u, Sys(gic, 0, ArmSysReg.ICC_HPPIR1_EL1));       // still visible as highest pending

        // A higher-priority interrupt preempts.
        gic.Redistributors.Write(Rd(0, SgiBase + 0x100), 4, 1u << 5);   // SGI 5
        gic.Redistributors.Write(Rd(0, SgiBase + 0x405), 1, 0x10);
        gic.InjectPending(0, 5);
        Assert.Equal(5u, Iar(gic, 0));
        Assert.Equal(0x10UL, Sys(gic, 0, ArmSysReg.ICC_RPR_EL1));
        Eoi(gic, 0, 5);
        Assert.Equal(0x40UL, Sys(gic, 0, ArmSysReg.ICC_RPR_EL1));
        Eoi(gic, 0, 33);
        Assert.False(gic.IsActive(0, 33));
        Assert.Equal(0xFFUL, Sys(gic, 0, ArmSysReg.ICC_RPR_EL1));
        Assert.Equal(34u, Iar(gic, 0));
        Eoi(gic, 0, 34);
        Assert.Equal(32u, Iar(gic, 0));
        Eoi(gic, 0, 32);
        Assert.Equal(GicV3.SpuriousIntId, Iar(gic, 0));
    }

    [Fact]
    public void Pmr_masks_interrupts_at_or_below_its_priority()
    {
        var gic = BootedGic(1);
        var cpu = gic.CpuInterface(0);
        gic.Redistributors.Write(Rd(0, SgiBase + 0x100), 4, 1u << 27);
        gic.Redistributors.Write(Rd(0, SgiBase + 0x400 + 27), 1, 0xA0);
        gic.SetPpiLevel(0, 27, true);
        cpu.TryWriteSysReg(ArmSysReg.ICC_PMR_EL1, 0xA0);
        Assert.False(cpu.IrqAsserted);
        Assert.Equal(GicV3.SpuriousIntId, cpu.Acknowledge());
        cpu.TryWriteSysReg(ArmSysReg.ICC_PMR_EL1, 0xA8);
        Assert.True(cpu.IrqAsserted);
        cpu.TryWriteSysReg(ArmSysReg.ICC_IGRPEN1_EL1, 0);
        Assert.False(cpu.IrqAsserted);
        cpu.TryWriteSysReg(ArmSysReg.ICC_IGRPEN1_EL1, 1);
        gic.Distributor.Write(0, 4, 0);                                 // distributor group disabled
        Assert.False(cpu.IrqAsserted);
    }

    [Fact]
    public void Level_interrupt_stays_pending_while_its_line_is_high()
    {
        var gic = BootedGic(1);
        var cpu = gic.CpuInterface(0);
        gic.Redistributors.Write(Rd(0, SgiBase + 0x100), 4, 1u << 30);
        var line = gic.PpiLine(0, 30);
        line.SetLevel(true);
        Assert.Equal(30u, cpu.Acknowledge());
        Assert.True(gic.IsPending(0, 30));                              // active and pending
        cpu.EndOfInterrupt(30);
        Assert.True(cpu.IrqAsserted);                                   // still high: taken again
        line.SetLevel(false);
        Assert.False(cpu.IrqAsserted);
        Assert.False(gic.IsPending(0, 30));
        gic.Redistributors.Write(Rd(0, SgiBase + 0x280), 4, 1u << 30);  // ICPENDR cannot clear a high level
        line.SetLevel(true);
        gic.Redistributors.Write(Rd(0, SgiBase + 0x280), 4, 1u << 30);
        Assert.True(gic.IsPending(0, 30));
    }

    [Fact]
    public void Edge_interrupt_latches_on_the_rising_edge_only()
    {
        var gic = BootedGic(1);
        gic.Distributor.Write(0x104, 4, 1);                             // SPI 32
        gic.Distributor.Write(0xC08, 4, 0b10);                          // edge
        var line = gic.SpiLine(32);
        line.SetLevel(true);
        Assert.Equal(32u, Iar(gic, 0));
        Eoi(gic, 0, 32);
        Assert.False(gic.IsIrqAsserted(0));                             // the line is still high but no new edge
        line.SetLevel(false);
        line.SetLevel(true);
        Assert.True(gic.IsIrqAsserted(0));
    }

    [Fact]
    public void Sgi1r_sends_to_target_lists_and_to_all_but_self()
    {
        var gic = BootedGic(vcpus: 18);
        var woken = new List<int>();
        gic.InterruptStateChanged += woken.Add;
        for (int v = 0; v < 18; v++) gic.Redistributors.Write(Rd(v, SgiBase + 0x100), 4, 0xFFFF);

        // Target list {1, 3} in Aff1 = 0.
        gic.CpuInterface(0).TryWriteSysReg(ArmSysReg.ICC_SGI1R_EL1, 3UL << 24 | 0b1010);
        Assert.Equal(3u, Iar(gic, 1));
        Assert.Equal(3u, Iar(gic, 3));
        Assert.Equal(GicV3.SpuriousIntId, Iar(gic, 2));
        Assert.Contains(1, woken);
        Assert.Contains(3, woken);

        // vCPU 17 is Aff1 = 1, Aff0 = 1.
        gic.CpuInterface(0).TryWriteSysReg(ArmSysReg.ICC_SGI1R_EL1, 7UL << 24 | 1UL << 16 | 0b10);
        Assert.Equal(7u, Iar(gic, 17));
        Assert.Equal(GicV3.SpuriousIntId, Iar(gic, 1));

        // IRM: everyone but the sender.
        gic.CpuInterface(4).TryWriteSysReg(ArmSysReg.ICC_SGI1R_EL1, 1UL << 40 | 9UL << 24);
        Assert.False(gic.IsPending(4, 9));
        for (int v = 0; v < 18; v++)
            if (v != 4) Assert.True(gic.IsPending(v, 9));
    }

    [Fact]
    public void Cpu_interface_registers()
    {
        var gic = new GicV3(1, 32);
        var cpu = gic.CpuInterface(0);
        Assert.Equal(7UL, Sys(gic, 0, ArmSysReg.ICC_SRE_EL1));
        ulong ctlr = Sys(gic, 0, ArmSysReg.ICC_CTLR_EL1);
        Assert.Equal(4UL, (ctlr >> 8) & 7);                             // PRIbits: 5 bits
        cpu.TryWriteSysReg(ArmSysReg.ICC_BPR1_EL1, 0);
        Assert.Equal(3UL, Sys(gic, 0, ArmSysReg.ICC_BPR1_EL1));         // clamped to the minimum
        cpu.TryWriteSysReg(ArmSysReg.ICC_PMR_EL1, 0xFF);
        Assert.Equal(0xF8UL, Sys(gic, 0, ArmSysReg.ICC_PMR_EL1));
        cpu.TryWriteSysReg(ArmSysReg.ICC_CTLR_EL1, 2);
        Assert.Equal(2UL, Sys(gic, 0, ArmSysReg.ICC_CTLR_EL1) & 3);
        Assert.False(cpu.TryReadSysReg(ArmSysReg.CNTV_CTL_EL0, out _));   // not a GIC register
        // ICC_IAR1_EL1 encoding from a real instruction: mrs x0, icc_iar1_el1 = 0xD538CC00.
        Assert.Equal(ArmSysReg.ICC_IAR1_EL1, ArmSysReg.FromInstruction(0xD538CC00));
    }

    [Fact]
    public void Eoimode1_leaves_deactivation_to_dir()
    {
        var gic = BootedGic(1);
        var cpu = gic.CpuInterface(0);
        cpu.TryWriteSysReg(ArmSysReg.ICC_CTLR_EL1, 2);
        gic.Redistributors.Write(Rd(0, SgiBase + 0x100), 4, 1u << 2);
        gic.InjectPending(0, 2);
        Assert.Equal(2u, cpu.Acknowledge());
        cpu.EndOfInterrupt(2);
        Assert.True(gic.IsActive(0, 2));
        Assert.Equal(0xFFUL, Sys(gic, 0, ArmSysReg.ICC_RPR_EL1));       // priority dropped
        cpu.TryWriteSysReg(ArmSysReg.ICC_DIR_EL1, 2);
        Assert.False(gic.IsActive(0, 2));
    }

    [Fact]
    public void Odd_sizes_and_offsets_are_harmless()
    {
        var gic = new GicV3(2, 32);
        foreach (ulong off in new ulong[] { 0, 1, 3, 0x100, 0x6000, 0x7FFF, 0xFFFF, 0x10000, ulong.MaxValue })
            foreach (int size in new[] { 1, 2, 3, 4, 8, 16 })
            {
                gic.Distributor.Write(off, size, ulong.MaxValue);
                _ = gic.Distributor.Read(off, size);
                gic.Redistributors.Write(off, size, ulong.MaxValue);
                _ = gic.Redistributors.Read(off, size);
            }
    }
}
