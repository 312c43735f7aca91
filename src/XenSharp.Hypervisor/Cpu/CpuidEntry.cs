using System.Runtime.InteropServices;

namespace XenSharp.Hypervisor.Cpu;

/// <summary>One CPUID leaf/subleaf result (layout of struct kvm_cpuid_entry2, 40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CpuidEntry
{
    public uint Function;
    public uint Index;
    /// <summary>Bit 0: the index (subleaf) is significant.</summary>
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    private uint _padding0, _padding1, _padding2;

    public const uint FlagSignificantIndex = 1;

    public CpuidEntry(uint function, uint index, uint eax, uint ebx, uint ecx, uint edx, bool indexed = false)
    {
        Function = function; Index = index; Flags = indexed ? FlagSignificantIndex : 0;
        Eax = eax; Ebx = ebx; Ecx = ecx; Edx = edx;
    }
}
