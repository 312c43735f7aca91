namespace XenSharp.Boot.Elf;

/// <summary>EI_CLASS: whether an ELF file uses 32- or 64-bit headers.</summary>
public enum ElfClass : byte
{
    /// <summary>ELFCLASS32.</summary>
    Elf32 = 1,
    /// <summary>ELFCLASS64.</summary>
    Elf64 = 2,
}
