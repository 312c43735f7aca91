namespace XenSharp.Boot.Pvh;

/// <summary>
/// Where <see cref="PvhStartInfoBuilder"/> put things in guest memory. Addresses are
/// guest-physical; 0 means the item is absent.
/// </summary>
/// <param name="StartInfoAddress">The hvm_start_info; goes in the vCPU's %ebx.</param>
/// <param name="CommandLineAddress">The kernel command line.</param>
/// <param name="ModuleListAddress">The hvm_modlist_entry array.</param>
/// <param name="MemoryMapAddress">The hvm_memmap_table_entry array.</param>
/// <param name="ModuleAddresses">Each module's (page-aligned) address, in order.</param>
/// <param name="FirstFreeAddress">The first page-aligned address after everything written.</param>
public sealed record PvhStartInfoLayout(
    ulong StartInfoAddress,
    ulong CommandLineAddress,
    ulong ModuleListAddress,
    ulong MemoryMapAddress,
    IReadOnlyList<ulong> ModuleAddresses,
    ulong FirstFreeAddress);
