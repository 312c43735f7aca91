namespace XenSharp.Abi.Hypercalls;

/// <summary>vcpu_op sub-commands (VCPUOP_* in vcpu.h).</summary>
public static class VcpuOp
{
    /// <summary>HVM/PVH: arg is struct vcpu_hvm_context (hvm/hvm_vcpu.h).</summary>
    public const int Initialise = 0;
    public const int Up = 1;
    public const int Down = 2;
    public const int IsUp = 3;
    public const int GetRunstateInfo = 4;
    public const int RegisterRunstateMemoryArea = 5;
    public const int SetPeriodicTimer = 6;
    public const int StopPeriodicTimer = 7;
    public const int SetSingleshotTimer = 8;
    public const int StopSingleshotTimer = 9;
    /// <summary>struct vcpu_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd; }.</summary>
    public const int RegisterVcpuInfo = 10;
    public const int SendNmi = 11;
    public const int GetPhysid = 12;
    public const int RegisterVcpuTimeMemoryArea = 13;
}

/// <summary>struct vcpu_set_singleshot_timer flags (vcpu.h).</summary>
public static class SingleshotTimerFlags
{
    /// <summary>VCPU_SSHOTTMR_future: fail with -ETIME when the timeout is already in the past.</summary>
    public const uint Future = 1 << 0;
}
