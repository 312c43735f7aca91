namespace XenSharp.Abi.Arm;

/// <summary>
/// How an ARM guest calls Xen (xen/include/public/arch-arm.h, "Hypercall calling convention"):
/// <c>HVC #0xEA1</c> (the immediate is XEN_HYPERCALL_TAG, seen in the ESR's ISS); on AArch64 the
/// hypercall number is in x16, the arguments in x0..x4, the result in x0. The call clobbers x16
/// and the argument registers it uses (except x0, the result). The numbers are those of
/// <see cref="Hypercalls.HypercallNumber"/>.
/// </summary>
public static class ArmHypercallConvention
{
    /// <summary>XEN_HYPERCALL_TAG: the HVC immediate of a Xen hypercall.</summary>
    public const ushort HvcImmediate = 0xEA1;
    /// <summary>The AArch64 register holding the hypercall number (x16).</summary>
    public const int NumberRegister = 16;
    /// <summary>The first argument register (x0); arguments are x0..x4.</summary>
    public const int FirstArgumentRegister = 0;
    /// <summary>The number of argument registers.</summary>
    public const int ArgumentRegisters = 5;
    /// <summary>The register holding the result (x0).</summary>
    public const int ResultRegister = 0;

    /// <summary>
    /// The encoding of <c>HVC #0xEA1</c> (0xD4000002 | imm16 &lt;&lt; 5): what a guest's hypercall
    /// stub contains, and what a CPU model decodes.
    /// </summary>
    public const uint HvcInstruction = 0xD400_0002u | ((uint)HvcImmediate << 5);
}
