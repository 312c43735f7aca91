namespace XenSharp.Boot.Elf;

/// <summary>
/// One PT_LOAD program header: <paramref name="FileSize"/> bytes at <paramref name="FileOffset"/>
/// in the file become the first bytes of <paramref name="MemorySize"/> bytes at
/// <paramref name="PhysicalAddress"/> (p_paddr); the rest is zero (bss).
/// </summary>
/// <param name="Index">The program header's index in the table (for messages).</param>
public readonly record struct ElfLoadSegment(
    int Index,
    ulong PhysicalAddress,
    ulong VirtualAddress,
    ulong FileOffset,
    ulong FileSize,
    ulong MemorySize,
    uint Flags,
    ulong Alignment)
{
    /// <summary>PF_X.</summary>
    public const uint FlagExecute = 1;
    /// <summary>PF_W.</summary>
    public const uint FlagWrite = 2;
    /// <summary>PF_R.</summary>
    public const uint FlagRead = 4;

    /// <summary>The first physical address after the segment.</summary>
    public ulong PhysicalEnd => PhysicalAddress + MemorySize;
}
