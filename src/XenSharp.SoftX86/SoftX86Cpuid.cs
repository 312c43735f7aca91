using System.Text;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.SoftX86;

/// <summary>
/// The CPUID of the software CPU: exactly the features its interpreter implements, so a guest
/// that trusts CPUID never reaches an instruction it lacks. An Intel-like family 6 CPU with
/// PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV, PAT, CLFLUSH, CX16 and, in the extended leaves,
/// SYSCALL, NX, RDTSCP, long mode and LAHF/SAHF in 64-bit mode. No x87, MMX or SSE: guests
/// built with -mgeneral-regs-only (and GRUB) need none. CpuidPolicy then adds the hypervisor
/// bit, the local APIC XenSharp emulates (APIC, x2APIC, TSC deadline) and Xen's leaves.
/// </summary>
public static class SoftX86Cpuid
{
    public const string Vendor = "GenuineIntel";
    public const string Brand = "XenSharp soft-x86 CPU";

    // Leaf 1 EDX.
    private const uint Pse = 1u << 3, Tsc = 1u << 4, Msr = 1u << 5, Pae = 1u << 6, Cx8 = 1u << 8,
        Sep = 1u << 11, Pge = 1u << 13, Cmov = 1u << 15, Pat = 1u << 16, Clflush = 1u << 19;
    // Leaf 1 ECX.
    private const uint Cx16 = 1u << 13;
    // Leaf 0x80000001.
    private const uint LahfLm = 1u << 0;
    private const uint Syscall = 1u << 11, Nx = 1u << 20, Rdtscp = 1u << 27, LongMode = 1u << 29;

    public static CpuidEntry[] Build()
    {
        var vendor = Encoding.ASCII.GetBytes(Vendor);
        uint V(int i) => BitConverter.ToUInt32(vendor, i);
        var leaves = new List<CpuidEntry>
        {
            new(0, 0, 7, V(0), V(8), V(4)),
            // Family 6, model 0x3A, stepping 9; CLFLUSH line 8 qwords; one logical processor.
            new(1, 0, 0x000306A9, 8u << 8 | 1u << 16, Cx16, Pse | Tsc | Msr | Pae | Cx8 | Sep | Pge | Cmov | Pat | Clflush),
            new(7, 0, 0, 0, 0, 0, indexed: true),
            new(0x80000000, 0, 0x80000008, 0, 0, 0),
            new(0x80000001, 0, 0, 0, LahfLm, Syscall | Nx | Rdtscp | LongMode),
        };
        var brand = new byte[48];
        Encoding.ASCII.GetBytes(Brand).CopyTo(brand, 0);
        for (uint leaf = 0; leaf < 3; leaf++)
        {
            int o = (int)leaf * 16;
            leaves.Add(new CpuidEntry(0x80000002 + leaf, 0, BitConverter.ToUInt32(brand, o), BitConverter.ToUInt32(brand, o + 4),
                BitConverter.ToUInt32(brand, o + 8), BitConverter.ToUInt32(brand, o + 12)));
        }
        // 39 physical, 48 linear address bits.
        leaves.Add(new CpuidEntry(0x80000008, 0, 48u << 8 | 39u, 0, 0, 0));
        return [.. leaves];
    }
}
