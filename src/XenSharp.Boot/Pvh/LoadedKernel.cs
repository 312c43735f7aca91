using XenSharp.Boot.Elf;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot.Pvh;

/// <summary>
/// A PVH kernel placed in guest memory: where to start the vCPU (32-bit protected mode, paging
/// off, %ebx = start_info) and which physical range the image occupies.
/// </summary>
/// <param name="EntryPoint">XEN_ELFNOTE_PHYS32_ENTRY.</param>
/// <param name="LowestAddress">The lowest guest-physical address written.</param>
/// <param name="HighestAddress">The highest guest-physical address written (inclusive).</param>
/// <param name="Notes">The kernel's Xen notes.</param>
/// <param name="Image">The parsed ELF file.</param>
public sealed record LoadedKernel(uint EntryPoint, ulong LowestAddress, ulong HighestAddress, XenElfNotes Notes, ElfImage Image)
{
    /// <summary>The first guest-physical address after the image.</summary>
    public ulong EndAddress => HighestAddress + 1;

    /// <summary>The first whole page after the image: where boot data can go.</summary>
    public ulong FirstFreePage => BootFormat.AlignUp(EndAddress, GuestMemory.PageSize);
}
