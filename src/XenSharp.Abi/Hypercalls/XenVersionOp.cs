namespace XenSharp.Abi.Hypercalls;

/// <summary>xen_version sub-commands and buffer sizes (xen/include/public/version.h).</summary>
public static class XenVersionOp
{
    public const int Version = 0;
    public const int ExtraVersion = 1;      // xen_extraversion_t: char[16]
    public const int CompileInfo = 2;       // xen_compile_info_t: 64+16+32+32 chars
    public const int Capabilities = 3;      // xen_capabilities_info_t: char[1024]
    public const int Changeset = 4;         // xen_changeset_info_t: char[64]
    public const int PlatformParameters = 5;
    public const int GetFeatures = 6;       // xen_feature_info_t: { u32 submap_idx; u32 submap; }
    public const int PageSize = 7;
    public const int GuestHandle = 8;       // xen_domain_handle_t: u8[16]
    public const int CommandLine = 9;       // xen_commandline_t: char[1024]
    public const int BuildId = 10;

    public const int ExtraVersionLength = 16;
    public const int CapabilitiesLength = 1024;
    public const int ChangesetLength = 64;
    public const int CommandLineLength = 1024;
    public const int CompileInfoLength = 64 + 16 + 32 + 32;
}

/// <summary>XENFEAT_* bit numbers (xen/include/public/features.h), submap 0.</summary>
public static class XenFeature
{
    public const int WritablePageTables = 0;
    public const int WritableDescriptorTables = 1;
    public const int AutoTranslatedPhysmap = 2;
    public const int SupervisorModeKernel = 3;
    public const int PaePgdirAbove4Gb = 4;
    public const int MmuPtUpdatePreserveAd = 5;
    public const int HighmemAssist = 6;
    public const int GnttabMapAvailBits = 7;
    public const int HvmCallbackVector = 8;
    public const int HvmSafePvclock = 9;
    public const int HvmPirqs = 10;
    public const int Dom0 = 11;
    public const int GrantMapIdentity = 12;
    public const int MemoryOpVnodeSupported = 13;
    public const int ArmSmcccSupported = 14;
    public const int LinuxRsdpUnrestricted = 15;
    public const int NotDirectMapped = 16;
    public const int DirectMapped = 17;
    public const int RunstatePhysArea = 18;
    public const int VcpuTimePhysArea = 19;
    public const int DmMsixAllWrites = 20;
}
