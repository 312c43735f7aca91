namespace XenSharp.Abi.Elf;

/// <summary>
/// XEN_ELFNOTE_* (elfnote.h): the n_type of an ELF note whose owner name is "Xen". Numeric
/// notes carry a 4- or 8-byte little-endian value; string notes carry NUL-terminated ASCII.
/// </summary>
public enum XenElfNoteType : uint
{
    /// <summary>XEN_ELFNOTE_INFO: NAME=VALUE pair (string).</summary>
    Info = 0,
    /// <summary>XEN_ELFNOTE_ENTRY: virtual address of the PV entry point (numeric).</summary>
    Entry = 1,
    /// <summary>XEN_ELFNOTE_HYPERCALL_PAGE: virtual address of the hypercall page (numeric).</summary>
    HypercallPage = 2,
    /// <summary>XEN_ELFNOTE_VIRT_BASE: virtual address where the kernel image is mapped (numeric).</summary>
    VirtBase = 3,
    /// <summary>XEN_ELFNOTE_PADDR_OFFSET: offset of ELF paddr from the pseudo-physical address (numeric).</summary>
    PaddrOffset = 4,
    /// <summary>XEN_ELFNOTE_XEN_VERSION: the Xen version the kernel works with (string).</summary>
    XenVersion = 5,
    /// <summary>XEN_ELFNOTE_GUEST_OS: guest operating system name (string).</summary>
    GuestOs = 6,
    /// <summary>XEN_ELFNOTE_GUEST_VERSION: guest operating system version (string).</summary>
    GuestVersion = 7,
    /// <summary>XEN_ELFNOTE_LOADER: loader type (string).</summary>
    Loader = 8,
    /// <summary>XEN_ELFNOTE_PAE_MODE: "yes", "no" or "bimodal" (string, x86-32 PV).</summary>
    PaeMode = 9,
    /// <summary>XEN_ELFNOTE_FEATURES: '|'-separated feature names, '!' = required (string).</summary>
    Features = 10,
    /// <summary>XEN_ELFNOTE_BSD_SYMTAB: "yes" or "no" (string).</summary>
    BsdSymtab = 11,
    /// <summary>XEN_ELFNOTE_HV_START_LOW: lowest address of the hypervisor hole (numeric).</summary>
    HvStartLow = 12,
    /// <summary>XEN_ELFNOTE_L1_MFN_VALID: mask/value pairs recognising L1 entries with valid MFNs.</summary>
    L1MfnValid = 13,
    /// <summary>XEN_ELFNOTE_SUSPEND_CANCEL: cooperative suspend cancellation supported (numeric).</summary>
    SuspendCancel = 14,
    /// <summary>XEN_ELFNOTE_INIT_P2M: non-default virtual address of the initial p2m (numeric).</summary>
    InitP2m = 15,
    /// <summary>XEN_ELFNOTE_MOD_START_PFN: the kernel copes with an unmapped initrd (numeric).</summary>
    ModStartPfn = 16,
    /// <summary>XEN_ELFNOTE_SUPPORTED_FEATURES: XENFEAT_* bitmap (numeric, 32-bit words).</summary>
    SupportedFeatures = 17,
    /// <summary>XEN_ELFNOTE_PHYS32_ENTRY: 32-bit physical PVH entry point (numeric).</summary>
    Phys32Entry = 18,
    /// <summary>XEN_ELFNOTE_PHYS32_RELOC: up to three u32s (alignment, minimum, maximum) for a relocatable PVH kernel.</summary>
    Phys32Reloc = 19,
    /// <summary>XEN_ELFNOTE_MAX: the highest guest-kernel note number.</summary>
    Max = Phys32Reloc,
    /// <summary>XEN_ELFNOTE_CRASH_INFO: system information in crash notes.</summary>
    CrashInfo = 0x1000001,
    /// <summary>XEN_ELFNOTE_CRASH_REGS: per-CPU registers in crash notes.</summary>
    CrashRegs = 0x1000002,
    /// <summary>XEN_ELFNOTE_DUMPCORE_NONE: marks a Xen dump-core file.</summary>
    DumpcoreNone = 0x2000000,
    /// <summary>XEN_ELFNOTE_DUMPCORE_HEADER: dump-core header.</summary>
    DumpcoreHeader = 0x2000001,
    /// <summary>XEN_ELFNOTE_DUMPCORE_XEN_VERSION: dump-core Xen version.</summary>
    DumpcoreXenVersion = 0x2000002,
    /// <summary>XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION: dump-core format version.</summary>
    DumpcoreFormatVersion = 0x2000003,
}
