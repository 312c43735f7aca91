namespace XenSharp.Abi.X86;

/// <summary>Xen's CPUID leaves (xen/include/public/arch-x86/cpuid.h).</summary>
public static class XenCpuid
{
    public const uint BaseLeaf = 0x40000000;
    public const uint SignatureEbx = 0x566e6558; // "XenV"
    public const uint SignatureEcx = 0x65584d4d; // "MMXe"
    public const uint SignatureEdx = 0x4d4d566e; // "nVMM"
    /// <summary>Leaf base+4 (HVM features) EAX flags.</summary>
    public const uint HvmApicAccessVirt = 1u << 0;
    public const uint HvmX2ApicVirt = 1u << 1;
    public const uint HvmIommuMappings = 1u << 2;
    public const uint HvmVcpuIdPresent = 1u << 3;
    public const uint HvmDomIdPresent = 1u << 4;
    /// <summary>Leaves base+0 .. base+4.</summary>
    public const uint LeafCount = 5;
    /// <summary>Base of Xen's MSRs; writing the hypercall page's address to it fills that page.</summary>
    public const uint HypercallPageMsr = 0x40000000;
}
