using XenSharp.Abi.X86;

namespace XenSharp.Hypervisor.Cpu;

/// <summary>
/// The CPUID a guest vCPU sees, derived from what the accelerator supports by a pipeline of
/// small steps (in the order applied):
/// 1. drop the accelerator's own hypervisor leaves (0x40000000–0x4000FFFF, e.g. "KVMKVMKVM");
/// 2. leaf 1: set the hypervisor-present bit (ECX 31) and the vCPU's initial APIC id (EBX 31:24),
///    and advertise the local APIC XenSharp emulates (Apic/LocalApic): APIC (EDX 9), x2APIC
///    (ECX 21) and the TSC-deadline timer (ECX 24); leaves 0xB/0x1F: the x2APIC id (EDX);
/// 3. leaf 7: UMIP (ECX bit 2) stays exactly when the host offers it, so the guest may set CR4.UMIP;
/// 4. add Xen's leaves at 0x40000000: signature "XenVMMXenVMM", version, one hypercall page
///    at MSR 0x40000000, and the HVM leaf with the vCPU id and domain id.
/// </summary>
public static class CpuidPolicy
{
    public const uint UmipBit = 1u << 2;
    public const uint HypervisorBit = 1u << 31;
    /// <summary>Leaf 1 EDX: on-chip local APIC.</summary>
    public const uint ApicBit = 1u << 9;
    /// <summary>Leaf 1 ECX: x2APIC.</summary>
    public const uint X2ApicBit = 1u << 21;
    /// <summary>Leaf 1 ECX: TSC-deadline mode of the APIC timer.</summary>
    public const uint TscDeadlineBit = 1u << 24;

    public static CpuidEntry[] ForVcpu(ReadOnlySpan<CpuidEntry> supported, int domainId, int vcpuIndex)
    {
        var result = new List<CpuidEntry>(supported.Length + (int)XenCpuid.LeafCount);
        foreach (var e in supported)
        {
            if (e.Function is >= 0x40000000 and <= 0x4000FFFF) continue;   // step 1
            var entry = e;
            switch (entry.Function)
            {
                case 1:                                                      // step 2
                    entry.Ecx |= HypervisorBit | X2ApicBit | TscDeadlineBit;
                    entry.Edx |= ApicBit;
                    entry.Ebx = (entry.Ebx & 0x00FFFFFF) | ((uint)vcpuIndex << 24);
                    break;
                case 0xB:
                case 0x1F:
                    entry.Edx = (uint)vcpuIndex;
                    break;
                case 7 when entry.Index == 0:                                // step 3: UMIP passes through as offered
                    break;
            }
            result.Add(entry);
        }
        AddXenLeaves(result, domainId, vcpuIndex);                          // step 4
        return result.ToArray();
    }

    private static void AddXenLeaves(List<CpuidEntry> leaves, int domainId, int vcpuIndex)
    {
        const uint b = XenCpuid.BaseLeaf;
        leaves.Add(new CpuidEntry(b, 0, b + XenCpuid.LeafCount - 1, XenCpuid.SignatureEbx, XenCpuid.SignatureEcx, XenCpuid.SignatureEdx));
        leaves.Add(new CpuidEntry(b + 1, 0, HypervisorVersion.Packed, 0, 0, 0));
        leaves.Add(new CpuidEntry(b + 2, 0, 1, XenCpuid.HypercallPageMsr, 0, 0));
        leaves.Add(new CpuidEntry(b + 3, 0, 0, 0, 0, 0));
        leaves.Add(new CpuidEntry(b + 4, 0, XenCpuid.HvmVcpuIdPresent | XenCpuid.HvmDomIdPresent, (uint)vcpuIndex, (uint)domainId, 0));
    }
}
