using XenSharp.Hypervisor.Domains;

namespace XenSharp.Boot.X86;

/// <summary>
/// The whole guest-physical memory map of an x86 PVH guest, in one place.
/// <code>
///   0x0000_0000 .. min(RAM, 3 GiB)        RAM
///   0xFEFF_8000 .. 0xFF00_0000            special pages (8): console ring, XenStore ring, …
///                                         (reserved in the memory map; the same place Xen uses)
///   0x1_0000_0000 .. + (RAM - 3 GiB)      the rest of RAM, when there is more than 3 GiB
/// </code>
/// </summary>
public static class X86Layout
{
    public const ulong PageSize = 4096;
    /// <summary>RAM below this address; the rest goes above 4 GiB.</summary>
    public const ulong LowRamLimit = 0xC000_0000;
    public const ulong HighRamStart = 0x1_0000_0000;

    public const int SpecialPageCount = 8;
    public const ulong SpecialPagesEnd = 0xFF00_0000;
    public const ulong SpecialPagesStart = SpecialPagesEnd - SpecialPageCount * PageSize;

    /// <summary>Index of each special page.</summary>
    public const int ConsoleRingPage = 0;
    public const int XenStoreRingPage = 1;

    public static ulong SpecialPage(int index) => SpecialPagesStart + (ulong)index * PageSize;

    /// <summary>The guest-physical ranges to back with memory for <paramref name="ramBytes"/> of RAM.</summary>
    public static (ulong GuestPhysical, ulong Size)[] MemoryRanges(ulong ramBytes)
    {
        ulong low = Math.Min(ramBytes, LowRamLimit);
        var ranges = new List<(ulong, ulong)> { (0, low), (SpecialPagesStart, SpecialPageCount * PageSize) };
        if (ramBytes > low) ranges.Add((HighRamStart, ramBytes - low));
        return ranges.ToArray();
    }

    /// <summary>The memory map the guest is given (start_info memmap, XENMEM_memory_map).</summary>
    public static MemoryMapEntry[] MemoryMap(ulong ramBytes)
    {
        ulong low = Math.Min(ramBytes, LowRamLimit);
        var map = new List<MemoryMapEntry>
        {
            new(0, low, MemoryMapEntry.Ram),
            new(SpecialPagesStart, SpecialPageCount * PageSize, MemoryMapEntry.Reserved),
        };
        if (ramBytes > low) map.Add(new(HighRamStart, ramBytes - low, MemoryMapEntry.Ram));
        return map.ToArray();
    }
}
