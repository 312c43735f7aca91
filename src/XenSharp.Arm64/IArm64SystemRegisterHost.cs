namespace XenSharp.Arm64;

/// <summary>
/// System registers the CPU does not keep itself — the generic timer (CNTFRQ_EL0, CNTVCT_EL0,
/// CNTPCT_EL0, CNTV_*, CNTP_*, CNTKCTL_EL1), the GIC CPU interface (ICC_*), PMU, anything
/// implementation defined. MRS/MSR of an encoding the CPU does not own calls the host
/// synchronously, on the vCPU's thread, in the middle of the instruction; answering false makes
/// the instruction UNDEFINED (the guest takes an EC 0 exception). The host may change interrupt
/// lines (<see cref="Arm64Cpu.SetIrqLine"/>) from inside the callback; the CPU checks them
/// before the next instruction.
/// </summary>
public interface IArm64SystemRegisterHost
{
    /// <param name="encoding">op0:op1:CRn:CRm:op2 as <see cref="SysReg.Encode"/> packs them.</param>
    bool TryReadSystemRegister(Arm64Cpu cpu, uint encoding, out ulong value);
    bool TryWriteSystemRegister(Arm64Cpu cpu, uint encoding, ulong value);
}

/// <summary>System register encodings (op0:op1:CRn:CRm:op2, 16 bits, as in MRS/MSR bits [20:5]).</summary>
public static class SysReg
{
    public static uint Encode(uint op0, uint op1, uint crn, uint crm, uint op2) =>
        op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2;

    public const uint MIDR_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (0u << 3) | 0u;
    public const uint MPIDR_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (0u << 3) | 5u;
    public const uint REVIDR_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (0u << 3) | 6u;
    public const uint ID_AA64PFR0_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (4u << 3) | 0u;
    public const uint ID_AA64PFR1_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (4u << 3) | 1u;
    public const uint ID_AA64DFR0_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (5u << 3) | 0u;
    public const uint ID_AA64ISAR0_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (6u << 3) | 0u;
    public const uint ID_AA64ISAR1_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (6u << 3) | 1u;
    public const uint ID_AA64MMFR0_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (7u << 3) | 0u;
    public const uint ID_AA64MMFR1_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (7u << 3) | 1u;
    public const uint ID_AA64MMFR2_EL1 = (3u << 14) | (0u << 11) | (0u << 7) | (7u << 3) | 2u;
    public const uint SCTLR_EL1 = (3u << 14) | (0u << 11) | (1u << 7) | (0u << 3) | 0u;
    public const uint CPACR_EL1 = (3u << 14) | (0u << 11) | (1u << 7) | (0u << 3) | 2u;
    public const uint TTBR0_EL1 = (3u << 14) | (0u << 11) | (2u << 7) | (0u << 3) | 0u;
    public const uint TTBR1_EL1 = (3u << 14) | (0u << 11) | (2u << 7) | (0u << 3) | 1u;
    public const uint TCR_EL1 = (3u << 14) | (0u << 11) | (2u << 7) | (0u << 3) | 2u;
    public const uint SPSR_EL1 = (3u << 14) | (0u << 11) | (4u << 7) | (0u << 3) | 0u;
    public const uint ELR_EL1 = (3u << 14) | (0u << 11) | (4u << 7) | (0u << 3) | 1u;
    public const uint SP_EL0 = (3u << 14) | (0u << 11) | (4u << 7) | (1u << 3) | 0u;
    public const uint SPSel = (3u << 14) | (0u << 11) | (4u << 7) | (2u << 3) | 0u;
    public const uint CurrentEL = (3u << 14) | (0u << 11) | (4u << 7) | (2u << 3) | 2u;
    public const uint NZCV = (3u << 14) | (3u << 11) | (4u << 7) | (2u << 3) | 0u;
    public const uint DAIF = (3u << 14) | (3u << 11) | (4u << 7) | (2u << 3) | 1u;
    public const uint FPCR = (3u << 14) | (3u << 11) | (4u << 7) | (4u << 3) | 0u;
    public const uint FPSR = (3u << 14) | (3u << 11) | (4u << 7) | (4u << 3) | 1u;
    public const uint AFSR0_EL1 = (3u << 14) | (0u << 11) | (5u << 7) | (1u << 3) | 0u;
    public const uint AFSR1_EL1 = (3u << 14) | (0u << 11) | (5u << 7) | (1u << 3) | 1u;
    public const uint ESR_EL1 = (3u << 14) | (0u << 11) | (5u << 7) | (2u << 3) | 0u;
    public const uint FAR_EL1 = (3u << 14) | (0u << 11) | (6u << 7) | (0u << 3) | 0u;
    public const uint PAR_EL1 = (3u << 14) | (0u << 11) | (7u << 7) | (4u << 3) | 0u;
    public const uint MAIR_EL1 = (3u << 14) | (0u << 11) | (10u << 7) | (2u << 3) | 0u;
    public const uint AMAIR_EL1 = (3u << 14) | (0u << 11) | (10u << 7) | (3u << 3) | 0u;
    public const uint VBAR_EL1 = (3u << 14) | (0u << 11) | (12u << 7) | (0u << 3) | 0u;
    public const uint CONTEXTIDR_EL1 = (3u << 14) | (0u << 11) | (13u << 7) | (0u << 3) | 1u;
    public const uint TPIDR_EL1 = (3u << 14) | (0u << 11) | (13u << 7) | (0u << 3) | 4u;
    public const uint TPIDR_EL0 = (3u << 14) | (3u << 11) | (13u << 7) | (0u << 3) | 2u;
    public const uint TPIDRRO_EL0 = (3u << 14) | (3u << 11) | (13u << 7) | (0u << 3) | 3u;
    public const uint CTR_EL0 = (3u << 14) | (3u << 11) | (0u << 7) | (0u << 3) | 1u;
    public const uint DCZID_EL0 = (3u << 14) | (3u << 11) | (0u << 7) | (0u << 3) | 7u;
    public const uint MDSCR_EL1 = (2u << 14) | (0u << 11) | (0u << 7) | (2u << 3) | 2u;
    public const uint OSLAR_EL1 = (2u << 14) | (0u << 11) | (1u << 7) | (0u << 3) | 4u;
    public const uint OSDLR_EL1 = (2u << 14) | (0u << 11) | (1u << 7) | (3u << 3) | 4u;
    public const uint CNTFRQ_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (0u << 3) | 0u;
    public const uint CNTPCT_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (0u << 3) | 1u;
    public const uint CNTVCT_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (0u << 3) | 2u;
    public const uint CNTP_TVAL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (2u << 3) | 0u;
    public const uint CNTP_CTL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (2u << 3) | 1u;
    public const uint CNTP_CVAL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (2u << 3) | 2u;
    public const uint CNTV_TVAL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (3u << 3) | 0u;
    public const uint CNTV_CTL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (3u << 3) | 1u;
    public const uint CNTV_CVAL_EL0 = (3u << 14) | (3u << 11) | (14u << 7) | (3u << 3) | 2u;
    public const uint CNTKCTL_EL1 = (3u << 14) | (0u << 11) | (14u << 7) | (1u << 3) | 0u;
}
