using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot;

/// <summary>Formatting shared by the builder's error messages (sizes, guest RAM layout).</summary>
internal static class BootFormat
{
    /// <summary>A byte count as "N bytes", "N KiB", "N MiB" or "N GiB" (rounded down past bytes).</summary>
    public static string Size(ulong bytes) => bytes switch
    {
        < 1UL << 10 => $"{bytes} bytes",
        < 1UL << 20 => $"{bytes >> 10} KiB",
        < 1UL << 30 => $"{bytes >> 20} MiB",
        _ => $"{bytes >> 30} GiB",
    };

    /// <summary>Guest RAM as "128 MiB: 0x0..0x8000000[, ...]".</summary>
    public static string Ram(GuestMemory memory)
    {
        var ranges = string.Join(", ", memory.Regions.Select(r => $"0x{r.GuestPhysical:x}..0x{r.End:x}"));
        return $"{Size(memory.TotalSize)}: {ranges}";
    }

    /// <summary>Whether [address, address+length) lies inside one guest memory region.</summary>
    public static bool FitsInOneRegion(GuestMemory memory, ulong address, ulong length)
    {
        foreach (var r in memory.Regions)
        {
            if (address >= r.GuestPhysical && address - r.GuestPhysical <= r.Size && length <= r.Size - (address - r.GuestPhysical))
                return true;
        }
        return false;
    }

    /// <summary>Rounds up to a multiple of <paramref name="alignment"/> (a power of two).</summary>
    public static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
