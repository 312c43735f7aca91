using System.Buffers.Binary;
using XenSharp.Boot.Elf;

namespace XenSharp.Boot.Arm64;

/// <summary>The architecture a kernel image is built for, as far as its first bytes tell.</summary>
public enum BootImageKind
{
    /// <summary>Neither an ELF of a known machine nor a known kernel image format.</summary>
    Unknown,
    /// <summary>An x86 ELF (EM_386 / EM_X86_64) or an x86 Linux bzImage ("HdrS" at 0x202).</summary>
    X86,
    /// <summary>An AArch64 ELF (EM_AARCH64) or an arm64 Linux Image ("ARM\x64" at 0x38).</summary>
    Arm64,
}

/// <summary>Tells which architecture a kernel is for, so that xl can pick the accelerator and builder.</summary>
public static class BootImageArchitecture
{
    /// <summary>From the ELF e_machine, or the arm64 Image magic, or the x86 boot protocol's "HdrS".</summary>
    public static BootImageKind Detect(ReadOnlySpan<byte> bytes)
    {
        if (ElfImage.HasElfMagic(bytes))
        {
            if (bytes.Length < 20) return BootImageKind.Unknown;
            ushort machine = bytes[5] == 2
                ? BinaryPrimitives.ReadUInt16BigEndian(bytes[18..])
                : BinaryPrimitives.ReadUInt16LittleEndian(bytes[18..]);
            return machine switch
            {
                ElfImage.MachineI386 or ElfImage.MachineX86_64 => BootImageKind.X86,
                ElfImage.MachineAArch64 => BootImageKind.Arm64,
                _ => BootImageKind.Unknown,
            };
        }
        if (Arm64ImageHeader.HasMagic(bytes)) return BootImageKind.Arm64;
        if (bytes.Length >= 0x206 && BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x202..]) == 0x5372_6448) // "HdrS"
            return BootImageKind.X86;
        return BootImageKind.Unknown;
    }
}
