namespace XenSharp.Hypervisor;

/// <summary>The Xen version XenSharp presents to guests and to `xl info`.</summary>
public static class HypervisorVersion
{
    public const int Major = 4;
    public const int Minor = 20;
    /// <summary>XENVER_extraversion (at most 15 characters).</summary>
    public const string Extra = ".0-xensharp";
    /// <summary>XENVER_capabilities: the guest ABIs this hypervisor runs.</summary>
    public const string Capabilities = "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64";
    /// <summary>XENVER_capabilities for ARM guests, as Xen/ARM words it.</summary>
    public const string ArmCapabilities = "xen-3.0-aarch64 xen-3.0-armv7l";
    public const string Changeset = "XenSharp";
    public static string Full => $"{Major}.{Minor}{Extra}";
    /// <summary>xen_version(XENVER_version) and CPUID leaf base+1 EAX.</summary>
    public const uint Packed = (Major << 16) | Minor;
}
