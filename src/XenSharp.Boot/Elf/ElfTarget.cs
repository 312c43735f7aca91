namespace XenSharp.Boot.Elf;

/// <summary>The builder an ELF kernel is parsed for, which decides the e_machine values accepted.</summary>
public enum ElfTarget
{
    /// <summary>The x86 PVH builder: EM_386 or EM_X86_64.</summary>
    X86,
    /// <summary>The ARM builder: EM_AARCH64, ELF64.</summary>
    Arm64,
}
