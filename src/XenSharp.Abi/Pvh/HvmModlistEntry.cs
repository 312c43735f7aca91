using System.Runtime.InteropServices;

namespace XenSharp.Abi.Pvh;

/// <summary>struct hvm_modlist_entry (arch-x86/hvm/start_info.h): one boot module, 32 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = StructSize)]
public struct HvmModlistEntry
{
    /// <summary>sizeof(struct hvm_modlist_entry).</summary>
    public const int StructSize = 32;

    /// <summary>paddr: guest-physical address of the module.</summary>
    [FieldOffset(0)] public ulong Paddr;

    /// <summary>size: size of the module in bytes.</summary>
    [FieldOffset(8)] public ulong Size;

    /// <summary>cmdline_paddr: address of the module's NUL-terminated command line, 0 when none.</summary>
    [FieldOffset(16)] public ulong CmdlinePaddr;

    /// <summary>reserved.</summary>
    [FieldOffset(24)] public ulong Reserved;
}
