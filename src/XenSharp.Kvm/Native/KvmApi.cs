namespace XenSharp.Kvm.Native;

/// <summary>
/// Numbers from Linux's KVM API (include/uapi/linux/kvm.h, Documentation/virt/kvm/api.rst):
/// ioctl requests, capabilities, exit reasons and the kvm_run field offsets used here.
/// </summary>
internal static class KvmApi
{
    public const int ApiVersion = 12;

    // System ioctls
    public const nuint GetApiVersion = 0xAE00;
    public const nuint CreateVm = 0xAE01;
    public const nuint CheckExtension = 0xAE03;
    public const nuint GetVcpuMmapSize = 0xAE04;
    public const nuint GetSupportedCpuid = 0xC008AE05;

    // VM ioctls
    public const nuint CreateVcpu = 0xAE41;
    public const nuint SetUserMemoryRegion = 0x4020AE46;
    public const nuint SetTssAddr = 0xAE47;
    public const nuint SetIdentityMapAddr = 0x4008AE48;
    public const nuint EnableCap = 0x4068AEA3;
    /// <summary>KVM_X86_SET_MSR_FILTER: _IOW(KVMIO, 0xc6, struct kvm_msr_filter) (392 bytes).</summary>
    public const nuint SetMsrFilter = 0x4188AEC6;
    public const int MsrFilterSize = 392;
    /// <summary>struct kvm_msr_filter_range { u32 flags; u32 nmsrs; u32 base; u8 *bitmap; } at 8 + 24·i.</summary>
    public const int MsrFilterRangeSize = 24;
    public const uint MsrFilterRead = 1, MsrFilterWrite = 2;

    // vCPU ioctls
    public const nuint Run = 0xAE80;
    public const nuint GetRegs = 0x8090AE81;
    public const nuint SetRegs = 0x4090AE82;
    public const nuint GetSregs = 0x8138AE83;
    public const nuint SetSregs = 0x4138AE84;
    public const nuint Interrupt = 0x4004AE86;
    public const nuint SetCpuid2 = 0x4008AE90;
    public const nuint GetMsrs = 0xC008AE88;
    public const uint MsrIa32Tsc = 0x10;
    public const nuint GetVcpuEvents = 0x8040AE9F;
    public const nuint SetVcpuEvents = 0x4040AEA0;

    // Capabilities
    public const int CapUserMemory = 3;
    public const int CapSetTssAddr = 4;
    public const int CapExtCpuid = 7;
    public const int CapSyncRegs = 74;
    public const int CapImmediateExit = 136;
    public const int CapX86UserSpaceMsr = 188;
    public const int CapExitOnEmulationFailure = 204;
    public const int CapXenHvm = 38;

    public const ulong MsrExitReasonInval = 1 << 0;
    public const ulong MsrExitReasonUnknown = 1 << 1;
    public const ulong MsrExitReasonFilter = 1 << 2;

    public const ulong SyncX86Regs = 1 << 0;
    public const ulong SyncX86Sregs = 1 << 1;
    public const ulong SyncX86Events = 1 << 2;

    // Exit reasons
    public const uint ExitUnknown = 0;
    public const uint ExitException = 1;
    public const uint ExitIo = 2;
    public const uint ExitHypercall = 3;
    public const uint ExitDebug = 4;
    public const uint ExitHlt = 5;
    public const uint ExitMmio = 6;
    public const uint ExitIrqWindowOpen = 7;
    public const uint ExitShutdown = 8;
    public const uint ExitFailEntry = 9;
    public const uint ExitIntr = 10;
    public const uint ExitInternalError = 17;
    public const uint ExitSystemEvent = 24;
    public const uint ExitX86Rdmsr = 29;
    public const uint ExitX86Wrmsr = 30;

    public const uint InternalErrorEmulation = 1;
    public const uint InternalErrorSimulEx = 2;
    public const uint InternalErrorDeliveryEv = 3;
    /// <summary>With KVM_CAP_EXIT_ON_EMULATION_FAILURE, data[0] flags bit 0: instruction bytes present.</summary>
    public const ulong EmulationFailureInstructionBytes = 1;

    // struct kvm_run offsets (x86)
    public const int RunRequestInterruptWindow = 0;
    public const int RunImmediateExit = 1;
    public const int RunExitReason = 8;
    public const int RunReadyForInterruptInjection = 12;
    public const int RunIfFlag = 13;
    public const int RunExitUnion = 32;
    public const int RunValidRegs = 288;
    public const int RunDirtyRegs = 296;
    public const int RunSyncRegs = 304;
    public const int RunSyncSregs = 304 + 144;
    public const int RunSyncEvents = 304 + 144 + 312;
}
