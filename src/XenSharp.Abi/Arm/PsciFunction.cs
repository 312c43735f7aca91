namespace XenSharp.Abi.Arm;

/// <summary>
/// PSCI function ids a guest passes in w0/x0 with <c>HVC #0</c> (ARM DEN 0022, SMC Calling
/// Convention ids; the 0x84… ids are SMC32, the 0xC4… ids SMC64). Xen implements PSCI 1.1 for
/// guests (xen/arch/arm/vpsci.c). The device tree's /psci node says "method = hvc".
/// </summary>
public static class PsciFunction
{
    public const uint Version = 0x8400_0000;
    public const uint CpuSuspend32 = 0x8400_0001;
    public const uint CpuSuspend64 = 0xC400_0001;
    public const uint CpuOff = 0x8400_0002;
    public const uint CpuOn32 = 0x8400_0003;
    public const uint CpuOn64 = 0xC400_0003;
    public const uint AffinityInfo32 = 0x8400_0004;
    public const uint AffinityInfo64 = 0xC400_0004;
    public const uint MigrateInfoType = 0x8400_0006;
    public const uint SystemOff = 0x8400_0008;
    public const uint SystemReset = 0x8400_0009;
    public const uint Features = 0x8400_000A;

    /// <summary>
    /// PSCI 0.1 ids (PSCI_cpu_suspend … PSCI_migrate in arch-arm.h), which Xen also accepts and
    /// which the "arm,psci" compatible's cpu_off/cpu_on properties name.
    /// </summary>
    public const uint V01CpuSuspend = 0;
    public const uint V01CpuOff = 1;
    public const uint V01CpuOn = 2;
    public const uint V01Migrate = 3;

    /// <summary>PSCI return codes (x0).</summary>
    public const int Success = 0;
    public const int NotSupported = -1;
    public const int InvalidParameters = -2;
    public const int Denied = -3;
    public const int AlreadyOn = -4;
    public const int OnPending = -5;
    public const int InternalFailure = -6;
    public const int NotPresent = -7;
    public const int Disabled = -8;
    public const int InvalidAddress = -9;

    /// <summary>The version Xen reports: PSCI 1.1 (major in bits 31:16, minor in 15:0).</summary>
    public const uint XenVersion = (1u << 16) | 1u;
}
