namespace XenSharp.Devices.Arm;

/// <summary>
/// AArch64 system-register encodings used by the ARM device models: <see cref="Encode"/> packs
/// (op0, op1, CRn, CRm, op2) as op0&lt;&lt;14 | op1&lt;&lt;11 | CRn&lt;&lt;7 | CRm&lt;&lt;3 | op2, which is bits
/// [20:5] of an MRS/MSR instruction (o0 = op0 - 2 folded in), so a CPU can pass
/// <c>(insn &gt;&gt; 5) &amp; 0xFFFF</c> straight through.
/// </summary>
public static class ArmSysReg
{
    public static uint Encode(uint op0, uint op1, uint crn, uint crm, uint op2) =>
        (op0 & 3) << 14 | (op1 & 7) << 11 | (crn & 15) << 7 | (crm & 15) << 3 | (op2 & 7);

    /// <summary>The encoding from an MRS/MSR instruction word.</summary>
    public static uint FromInstruction(uint insn) => (insn >> 5) & 0xFFFF;

    // Generic timer (ARM DDI 0487, D11 / D23.8).
    public static readonly uint CNTFRQ_EL0 = Encode(3, 3, 14, 0, 0);
    public static readonly uint CNTPCT_EL0 = Encode(3, 3, 14, 0, 1);
    public static readonly uint CNTVCT_EL0 = Encode(3, 3, 14, 0, 2);
    public static readonly uint CNTPCTSS_EL0 = Encode(3, 3, 14, 0, 5);
    public static readonly uint CNTVCTSS_EL0 = Encode(3, 3, 14, 0, 6);
    public static readonly uint CNTKCTL_EL1 = Encode(3, 0, 14, 1, 0);
    public static readonly uint CNTP_TVAL_EL0 = Encode(3, 3, 14, 2, 0);
    public static readonly uint CNTP_CTL_EL0 = Encode(3, 3, 14, 2, 1);
    public static readonly uint CNTP_CVAL_EL0 = Encode(3, 3, 14, 2, 2);
    public static readonly uint CNTV_TVAL_EL0 = Encode(3, 3, 14, 3, 0);
    public static readonly uint CNTV_CTL_EL0 = Encode(3, 3, 14, 3, 1);
    public static readonly uint CNTV_CVAL_EL0 = Encode(3, 3, 14, 3, 2);

    // GICv3 CPU interface (ARM IHI 0069, 12.2).
    public static readonly uint ICC_PMR_EL1 = Encode(3, 0, 4, 6, 0);
    public static readonly uint ICC_IAR0_EL1 = Encode(3, 0, 12, 8, 0);
    public static readonly uint ICC_EOIR0_EL1 = Encode(3, 0, 12, 8, 1);
    public static readonly uint ICC_HPPIR0_EL1 = Encode(3, 0, 12, 8, 2);
    public static readonly uint ICC_BPR0_EL1 = Encode(3, 0, 12, 8, 3);
    public static uint ICC_AP0R_EL1(uint n) => Encode(3, 0, 12, 8, 4 + (n & 3));
    public static uint ICC_AP1R_EL1(uint n) => Encode(3, 0, 12, 9, n & 3);
    public static readonly uint ICC_DIR_EL1 = Encode(3, 0, 12, 11, 1);
    public static readonly uint ICC_RPR_EL1 = Encode(3, 0, 12, 11, 3);
    public static readonly uint ICC_SGI1R_EL1 = Encode(3, 0, 12, 11, 5);
    public static readonly uint ICC_ASGI1R_EL1 = Encode(3, 0, 12, 11, 6);
    public static readonly uint ICC_SGI0R_EL1 = Encode(3, 0, 12, 11, 7);
    public static readonly uint ICC_IAR1_EL1 = Encode(3, 0, 12, 12, 0);
    public static readonly uint ICC_EOIR1_EL1 = Encode(3, 0, 12, 12, 1);
    public static readonly uint ICC_HPPIR1_EL1 = Encode(3, 0, 12, 12, 2);
    public static readonly uint ICC_BPR1_EL1 = Encode(3, 0, 12, 12, 3);
    public static readonly uint ICC_CTLR_EL1 = Encode(3, 0, 12, 12, 4);
    public static readonly uint ICC_SRE_EL1 = Encode(3, 0, 12, 12, 5);
    public static readonly uint ICC_IGRPEN0_EL1 = Encode(3, 0, 12, 12, 6);
    public static readonly uint ICC_IGRPEN1_EL1 = Encode(3, 0, 12, 12, 7);
}
