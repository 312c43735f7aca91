namespace XenSharp.Abi.Pvh;

/// <summary>
/// XEN_HVM_MEMMAP_TYPE_* (arch-x86/hvm/start_info.h): the type field of a memory map entry,
/// matching the ACPI address range types.
/// </summary>
public static class HvmMemmapType
{
    /// <summary>XEN_HVM_MEMMAP_TYPE_RAM.</summary>
    public const uint Ram = 1;
    /// <summary>XEN_HVM_MEMMAP_TYPE_RESERVED.</summary>
    public const uint Reserved = 2;
    /// <summary>XEN_HVM_MEMMAP_TYPE_ACPI (ACPI reclaimable).</summary>
    public const uint Acpi = 3;
    /// <summary>XEN_HVM_MEMMAP_TYPE_NVS (ACPI NVS).</summary>
    public const uint Nvs = 4;
    /// <summary>XEN_HVM_MEMMAP_TYPE_UNUSABLE.</summary>
    public const uint Unusable = 5;
    /// <summary>XEN_HVM_MEMMAP_TYPE_DISABLED.</summary>
    public const uint Disabled = 6;
    /// <summary>XEN_HVM_MEMMAP_TYPE_PMEM (persistent memory).</summary>
    public const uint Pmem = 7;
}
