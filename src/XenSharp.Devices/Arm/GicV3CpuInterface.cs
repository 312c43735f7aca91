namespace XenSharp.Devices.Arm;

/// <summary>
/// One vCPU's GICv3 CPU interface, reached through the ICC_*_EL1 system registers (system
/// register interface only: ICC_SRE_EL1.SRE reads as one). Acknowledge (ICC_IAR1_EL1) takes the
/// highest-priority pending Group 1 interrupt whose priority is below PMR and whose group priority
/// is below the running priority; ICC_EOIR1_EL1 drops the running priority and, with EOImode 0,
/// deactivates the interrupt (EOImode 1 leaves that to ICC_DIR_EL1).
/// </summary>
public sealed class GicV3CpuInterface : IArmSysRegDevice
{
    private readonly GicV3 _gic;

    public int Vcpu { get; }

    internal GicV3CpuInterface(GicV3 gic, int vcpu)
    {
        _gic = gic;
        Vcpu = vcpu;
    }

    /// <summary>Whether the vCPU's IRQ line is asserted (the CPU takes the exception when PSTATE.I allows).</summary>
    public bool IrqAsserted => _gic.IsIrqAsserted(Vcpu);

    /// <summary>ICC_IAR1_EL1 read.</summary>
    public uint Acknowledge() => _gic.Acknowledge(Vcpu);

    /// <summary>ICC_EOIR1_EL1 write.</summary>
    public void EndOfInterrupt(uint intid) => _gic.EndOfInterrupt(Vcpu, intid & 0xFF_FFFF);

    public bool TryReadSysReg(uint encoding, out ulong value)
    {
        value = 0;
        var g = _gic;
        if (encoding == ArmSysReg.ICC_IAR1_EL1) value = Acknowledge();
        else if (encoding == ArmSysReg.ICC_HPPIR1_EL1) value = g.HighestPending(Vcpu).IntId;
        else if (encoding == ArmSysReg.ICC_IAR0_EL1 || encoding == ArmSysReg.ICC_HPPIR0_EL1) value = GicV3.SpuriousIntId;
        else if (encoding == ArmSysReg.ICC_SRE_EL1) value = 0b111;                  // SRE, DFB, DIB
        else if (encoding == ArmSysReg.ICC_SGI1R_EL1 || encoding == ArmSysReg.ICC_SGI0R_EL1 || encoding == ArmSysReg.ICC_ASGI1R_EL1
              || encoding == ArmSysReg.ICC_EOIR1_EL1 || encoding == ArmSysReg.ICC_EOIR0_EL1 || encoding == ArmSysReg.ICC_DIR_EL1)
            value = 0;                                                             // write-only
        else
        {
            var s = g.CpuState(Vcpu);
            if (encoding == ArmSysReg.ICC_PMR_EL1) value = s.Pmr;
            else if (encoding == ArmSysReg.ICC_BPR1_EL1) value = (ulong)(s.Cbpr ? Math.Min(s.Bpr0 + 1, 7) : s.Bpr1);
            else if (encoding == ArmSysReg.ICC_BPR0_EL1) value = (ulong)s.Bpr0;
            else if (encoding == ArmSysReg.ICC_CTLR_EL1)
                value = (s.Cbpr ? 1UL : 0) | (s.EoiMode ? 2UL : 0) | 4UL << 8;           // PRIbits = 5 bits, IDbits = 16
            else if (encoding == ArmSysReg.ICC_IGRPEN1_EL1) value = s.IgrpEn1 ? 1UL : 0;
            else if (encoding == ArmSysReg.ICC_IGRPEN0_EL1) value = s.IgrpEn0 ? 1UL : 0;
            else if (encoding == ArmSysReg.ICC_RPR_EL1) value = s.RunningPriority;
            else if (encoding == ArmSysReg.ICC_AP1R_EL1(0)) value = s.ActiveBits;
            else if (encoding == ArmSysReg.ICC_AP1R_EL1(1) || encoding == ArmSysReg.ICC_AP1R_EL1(2) || encoding == ArmSysReg.ICC_AP1R_EL1(3)
                  || encoding == ArmSysReg.ICC_AP0R_EL1(0) || encoding == ArmSysReg.ICC_AP0R_EL1(1)
                  || encoding == ArmSysReg.ICC_AP0R_EL1(2) || encoding == ArmSysReg.ICC_AP0R_EL1(3))
                value = 0;
            else return false;
        }
        return true;
    }

    public bool TryWriteSysReg(uint encoding, ulong value)
    {
        var g = _gic;
        if (encoding == ArmSysReg.ICC_EOIR1_EL1) EndOfInterrupt((uint)value);
        else if (encoding == ArmSysReg.ICC_DIR_EL1) g.Deactivate(Vcpu, (uint)value & 0xFF_FFFF);
        else if (encoding == ArmSysReg.ICC_SGI1R_EL1) g.SendSgi(Vcpu, value);
        else if (encoding == ArmSysReg.ICC_SGI0R_EL1 || encoding == ArmSysReg.ICC_ASGI1R_EL1 || encoding == ArmSysReg.ICC_EOIR0_EL1
              || encoding == ArmSysReg.ICC_SRE_EL1 || encoding == ArmSysReg.ICC_IAR1_EL1 || encoding == ArmSysReg.ICC_IAR0_EL1
              || encoding == ArmSysReg.ICC_HPPIR1_EL1 || encoding == ArmSysReg.ICC_HPPIR0_EL1 || encoding == ArmSysReg.ICC_RPR_EL1)
        { }                                                                         // group 0 / other security state / read-only: ignored
        else if (encoding == ArmSysReg.ICC_PMR_EL1) g.UpdateCpuState(Vcpu, s => s.Pmr = (byte)(value & GicV3.PriorityMask));
        else if (encoding == ArmSysReg.ICC_BPR1_EL1) g.UpdateCpuState(Vcpu, s => { if (!s.Cbpr) s.Bpr1 = Math.Max((int)(value & 7), GicV3.MinBpr1); });
        else if (encoding == ArmSysReg.ICC_BPR0_EL1) g.UpdateCpuState(Vcpu, s => s.Bpr0 = Math.Max((int)(value & 7), GicV3.MinBpr0));
        else if (encoding == ArmSysReg.ICC_CTLR_EL1) g.UpdateCpuState(Vcpu, s => { s.Cbpr = (value & 1) != 0; s.EoiMode = (value & 2) != 0; });
        else if (encoding == ArmSysReg.ICC_IGRPEN1_EL1) g.UpdateCpuState(Vcpu, s => s.IgrpEn1 = (value & 1) != 0);
        else if (encoding == ArmSysReg.ICC_IGRPEN0_EL1) g.UpdateCpuState(Vcpu, s => s.IgrpEn0 = (value & 1) != 0);
        else if (encoding == ArmSysReg.ICC_AP1R_EL1(0)) { if (value == 0) g.UpdateCpuState(Vcpu, s => s.ActivePriorities.Clear()); }
        else if (encoding == ArmSysReg.ICC_AP1R_EL1(1) || encoding == ArmSysReg.ICC_AP1R_EL1(2) || encoding == ArmSysReg.ICC_AP1R_EL1(3)
              || encoding == ArmSysReg.ICC_AP0R_EL1(0) || encoding == ArmSysReg.ICC_AP0R_EL1(1)
              || encoding == ArmSysReg.ICC_AP0R_EL1(2) || encoding == ArmSysReg.ICC_AP0R_EL1(3))
        { }
        else return false;
        return true;
    }
}

public sealed partial class GicV3
{
    internal readonly record struct CpuSnapshot(byte Pmr, int Bpr0, int Bpr1, bool Cbpr, bool EoiMode, bool IgrpEn1, bool IgrpEn0, byte RunningPriority, uint ActiveBits);

    internal CpuSnapshot CpuState(int vcpu)
    {
        lock (_lock)
        {
            var rd = _rd[vcpu];
            uint bits = 0;
            foreach (var (_, p) in rd.ActivePriorities) bits |= 1u << (p >> 3);   // one bit per 5-bit group priority
            return new CpuSnapshot(rd.Pmr, rd.Bpr0, rd.Bpr1, rd.Cbpr, rd.EoiMode, rd.IgrpEn1, rd.IgrpEn0, RunningPriority(rd), bits);
        }
    }

    internal void UpdateCpuState(int vcpu, Action<Redistributor> update)
    {
        lock (_lock) update(_rd[vcpu]);
        Notify(vcpu);
    }
}
