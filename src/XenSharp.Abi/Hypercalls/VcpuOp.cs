namespace XenSharp.Abi.Hypercalls;

/// <summary>vcpu_op sub-commands (VCPUOP_* in vcpu.h).</summary>
public static class VcpuOp
{
    /// <summary>HVM/PVH: arg is struct vcpu_hvm_context (hvm/hvm_vcpu.h).</summary>
    public const int Initialise = 0;
    public const int Up = 1;
    public const int Down = 2;
    public const int IsUp = 3;
    /// <summary>arg is struct vcpu_runstate_info (see <see cref="RunstateInfo"/>).</summary>
    public const int GetRunstateInfo = 4;
    /// <summary>arg is struct vcpu_register_runstate_memory_area { union { handle; u64 p; } addr; }.</summary>
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

/// <summary>
/// struct vcpu_runstate_info { int state; uint64_t state_entry_time; uint64_t time[4]; } (vcpu.h).
/// A 64-bit guest sees the natural layout (state_entry_time at 8, 48 bytes); a 32-bit guest
/// the i386 (compat) one, where uint64_t is 4-aligned: state_entry_time at 4, 44 bytes.
/// </summary>
public static class RunstateInfo
{
    public const int StateOffset = 0;
    public const int EntryTimeOffset64 = 8;
    public const int TimeOffset64 = 16;
    public const int Size64 = 48;
    public const int EntryTimeOffset32 = 4;
    public const int TimeOffset32 = 12;
    public const int Size32 = 44;

    /// <summary>RUNSTATE_running/runnable/blocked/offline.</summary>
    public const int Running = 0, Runnable = 1, Blocked = 2, Offline = 3;

    /// <summary>XEN_RUNSTATE_UPDATE: set in state_entry_time while the hypervisor rewrites a registered area.</summary>
    public const ulong UpdateFlag = 1UL << 63;
}
