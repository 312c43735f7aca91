using XenSharp.Abi.Arm;

namespace XenSharp.Boot.Arm64;

/// <summary>
/// The register state the boot vCPU of an ARM guest starts with (Linux arm64 booting.rst, and
/// libxc's vcpu_arm64): EL1 using SP_EL1 (EL1h), D/A/I/F masked, MMU and caches off
/// (SCTLR_EL1 = SCTLR_GUEST_INIT), PC at the kernel entry, x0 = the DTB's guest-physical
/// address, x1..x3 = 0 (reserved for future use), every other register 0. Secondary vCPUs start
/// powered off and are brought up with PSCI CPU_ON.
/// </summary>
public sealed record Arm64BootState(ulong Pc, ulong X0)
{
    /// <summary>x1..x3: zero, as booting.rst requires.</summary>
    public ulong X1 { get; init; }
    public ulong X2 { get; init; }
    public ulong X3 { get; init; }

    /// <summary>PSTATE/SPSR: PSR_GUEST64_INIT (0x3C5: DAIF set, M = EL1h).</summary>
    public ulong Pstate { get; init; } = ArmGuestLayout.PsrGuest64Init;

    /// <summary>SCTLR_EL1: SCTLR_GUEST_INIT (M = 0: MMU off; C = I = 0: caches off).</summary>
    public ulong Sctlr { get; init; } = ArmGuestLayout.SctlrGuestInit;

    /// <summary>The exception level the vCPU starts at.</summary>
    public int ExceptionLevel => (int)((Pstate >> 2) & 3);

    /// <summary>Whether SP_ELx (not SP_EL0) is the stack pointer (PSTATE.SP = 1, "h" mode).</summary>
    public bool UsesSpElx => (Pstate & 1) != 0;

    /// <summary>PSTATE.D, A, I and F are all set.</summary>
    public bool DaifMasked => (Pstate & 0x3C0) == 0x3C0;

    /// <summary>SCTLR_EL1.M.</summary>
    public bool MmuEnabled => (Sctlr & 1) != 0;

    /// <summary>The MPIDR_EL1 of the boot vCPU (vCPU 0): affinity 0, with RES1 bit 31 set.</summary>
    public ulong Mpidr { get; init; } = (1UL << 31) | Arm64Layout.MpidrAffinity(0);
}
