using XenSharp.Devices.Arm;

namespace XenSharp.Tests.Devices.Arm;

/// <summary>The generic timer with an injected counter, driving PPIs 27 and 30 through a GIC.</summary>
public class GenericTimerTests
{
    private ulong _now = 1_000_000;

    private sealed class RecordingLine : IInterruptLine
    {
        public bool Level;
        public int Changes;
        public void SetLevel(bool asserted) { Level = asserted; Changes++; }
    }

    private static ulong Read(GenericTimer t, uint reg)
    {
        Assert.True(t.TryReadSysReg(reg, out ulong v));
        return v;
    }

    private static void Write(GenericTimer t, uint reg, ulong v) => Assert.True(t.TryWriteSysReg(reg, v));

    [Fact]
    public void Counters_and_frequency()
    {
        var t = new GenericTimer(() => _now, NullInterruptLine.Instance, NullInterruptLine.Instance);
        Assert.Equal(62_500_000UL, Read(t, ArmSysReg.CNTFRQ_EL0));
        Assert.Equal(_now, Read(t, ArmSysReg.CNTPCT_EL0));
        t.VirtualOffset = 400_000;
        Assert.Equal(600_000UL, Read(t, ArmSysReg.CNTVCT_EL0));
        _now += 5;
        Assert.Equal(600_005UL, Read(t, ArmSysReg.CNTVCT_EL0));
        Write(t, ArmSysReg.CNTFRQ_EL0, 1);                       // ignored
        Assert.Equal(62_500_000UL, Read(t, ArmSysReg.CNTFRQ_EL0));
        Assert.False(t.TryReadSysReg(ArmSysReg.ICC_IAR1_EL1, out _));
        // mrs x0, cntvct_el0 = 0xD53BE040
        Assert.Equal(ArmSysReg.CNTVCT_EL0, ArmSysReg.FromInstruction(0xD53BE040));
    }

    [Fact]
    public void Tval_counts_down_and_istatus_follows_the_compare()
    {
        var virt = new RecordingLine();
        var t = new GenericTimer(() => _now, virt, NullInterruptLine.Instance);
        Write(t, ArmSysReg.CNTV_TVAL_EL0, 1000);
        Assert.Equal(_now + 1000, Read(t, ArmSysReg.CNTV_CVAL_EL0));
        _now += 300;
        Assert.Equal(700UL, Read(t, ArmSysReg.CNTV_TVAL_EL0));
        Assert.Equal(0UL, Read(t, ArmSysReg.CNTV_CTL_EL0));      // not enabled: no ISTATUS
        Write(t, ArmSysReg.CNTV_CTL_EL0, 1);
        Assert.Equal(1UL, Read(t, ArmSysReg.CNTV_CTL_EL0));
        Assert.False(virt.Level);
        _now += 700;
        Assert.Equal(0b101UL, Read(t, ArmSysReg.CNTV_CTL_EL0));  // ENABLE | ISTATUS
        Assert.True(virt.Level);
        _now += 10;
        Assert.Equal(0xFFFF_FFF6UL, Read(t, ArmSysReg.CNTV_TVAL_EL0));   // -10 as 32 bits
        Write(t, ArmSysReg.CNTV_CTL_EL0, 0b11);                 // IMASK: status stays, output drops
        Assert.Equal(0b111UL, Read(t, ArmSysReg.CNTV_CTL_EL0));
        Assert.False(virt.Level);
        Write(t, ArmSysReg.CNTV_CTL_EL0, 0b01);
        Assert.True(virt.Level);
        Write(t, ArmSysReg.CNTV_TVAL_EL0, 0xFFFF_FF00);          // negative TVAL: already expired
        Assert.Equal(_now - 256, Read(t, ArmSysReg.CNTV_CVAL_EL0));
        Assert.True(virt.Level);
        Write(t, ArmSysReg.CNTV_CVAL_EL0, _now + 50);             // re-armed in the future
        Assert.False(virt.Level);
    }

    [Fact]
    public void Ppis_are_asserted_and_deasserted_through_the_gic_as_time_passes()
    {
        var gic = GicV3Tests.BootedGic(vcpus: 2);
        for (int v = 0; v < 2; v++)
            gic.Redistributors.Write(GicV3Tests.Rd(v, GicV3Tests.SgiBase + 0x100), 4, 1u << 27 | 1u << 30);
        var t1 = GenericTimer.ForVcpu(gic, 1, () => _now);
        Write(t1, ArmSysReg.CNTP_CVAL_EL0, _now + 100);
        Write(t1, ArmSysReg.CNTP_CTL_EL0, 1);
        Write(t1, ArmSysReg.CNTV_CVAL_EL0, _now + 200);
        Write(t1, ArmSysReg.CNTV_CTL_EL0, 1);
        Assert.Equal(_now + 100, t1.NextDeadline);
        t1.Update();
        Assert.False(gic.IsIrqAsserted(1));

        _now += 100;
        t1.Update();
        Assert.True(gic.IsPending(1, 30));
        Assert.False(gic.IsPending(1, 27));
        Assert.False(gic.IsPending(0, 30));                      // a per-vCPU PPI
        Assert.Equal(30u, GicV3Tests.Iar(gic, 1));
        Write(t1, ArmSysReg.CNTP_CTL_EL0, 0);                    // the guest's handler stops the timer
        Assert.False(gic.IsPending(1, 30));                      // level: gone with the condition
        GicV3Tests.Eoi(gic, 1, 30);
        Assert.Equal(_now + 100, t1.NextDeadline);

        _now += 100;
        t1.Update();
        Assert.True(gic.IsPending(1, 27));
        Assert.Equal(27u, GicV3Tests.Iar(gic, 1));
        Write(t1, ArmSysReg.CNTV_TVAL_EL0, 62_500);              // one millisecond ahead
        Assert.False(gic.IsPending(1, 27));
        GicV3Tests.Eoi(gic, 1, 27);
        Assert.Equal(TimeSpan.FromMilliseconds(1), t1.TimeUntilNextDeadline);
        Write(t1, ArmSysReg.CNTV_CTL_EL0, 3);                    // masked: no deadline to wake for
        Assert.Null(t1.NextDeadline);
        Assert.Null(t1.TimeUntilNextDeadline);
    }

    [Fact]
    public void The_virtual_deadline_is_reported_in_physical_counts()
    {
        var t = new GenericTimer(() => _now, NullInterruptLine.Instance, NullInterruptLine.Instance) { VirtualOffset = 1000 };
        Write(t, ArmSysReg.CNTV_CVAL_EL0, 5000);
        Write(t, ArmSysReg.CNTV_CTL_EL0, 1);
        Assert.Equal(6000UL, t.NextDeadline);
    }
}
