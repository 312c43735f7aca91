namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// struct shared_info (xen.h): vcpu_info[32], then the event-channel pending and mask bitmaps
/// (64 words of xen_ulong_t each), then the wallclock. The layout differs by architecture only
/// in the size of vcpu_info: 64 bytes on x86 (arch_vcpu_info holds cr2 and a pad), 48 on ARM
/// (arch_vcpu_info is empty, so vcpu_time_info follows evtchn_pending_sel at offset 16), and in
/// the byte after evtchn_upcall_pending: evtchn_upcall_mask on x86 (XEN_HAVE_PV_UPCALL_MASK),
/// padding on ARM, whose guests mask the event-channel interrupt at the GIC instead. A fresh x86
/// page has every vCPU's event delivery masked (evtchn_upcall_mask = 1), as Xen starts vCPUs.
/// </summary>
public static class SharedInfoPage
{
    /// <summary>The x86 vcpu_info size (the constant most of the x86 code and tests speak of).</summary>
    public const int VcpuInfoSize = 64;
    public const int MaxLegacyVcpus = 32;
    public const int UpcallPendingOffset = 0;
    public const int UpcallMaskOffset = 1;

    /// <summary>Whether vcpu_info has evtchn_upcall_mask (x86) rather than padding (ARM).</summary>
    public static bool HasUpcallMask(GuestArchitecture arch) => arch != GuestArchitecture.Arm64;

    /// <summary>The size of struct vcpu_info for <paramref name="arch"/>.</summary>
    public static int VcpuInfoSizeOf(GuestArchitecture arch) => arch == GuestArchitecture.Arm64 ? 48 : VcpuInfoSize;

    /// <summary>Where shared_info.evtchn_pending starts (right after vcpu_info[32]).</summary>
    public static int EventPendingOffset(GuestArchitecture arch) => MaxLegacyVcpus * VcpuInfoSizeOf(arch);

    public static void Initialise(Span<byte> page, int vcpus, GuestArchitecture arch = GuestArchitecture.X86)
    {
        page.Clear();
        if (!HasUpcallMask(arch)) return;
        int size = VcpuInfoSizeOf(arch);
        for (int i = 0; i < Math.Min(vcpus, MaxLegacyVcpus); i++)
            page[i * size + UpcallMaskOffset] = 1;
    }
}
