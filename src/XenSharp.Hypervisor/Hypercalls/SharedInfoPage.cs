namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// struct shared_info (xen.h, x86): vcpu_info[32] of 64 bytes each, then the event-channel
/// pending and mask bitmaps, then the wallclock. A fresh page has every vCPU's event delivery
/// masked (evtchn_upcall_mask = 1), as Xen starts vCPUs.
/// </summary>
public static class SharedInfoPage
{
    public const int VcpuInfoSize = 64;
    public const int MaxLegacyVcpus = 32;
    public const int UpcallPendingOffset = 0;
    public const int UpcallMaskOffset = 1;

    public static void Initialise(Span<byte> page, int vcpus)
    {
        page.Clear();
        for (int i = 0; i < Math.Min(vcpus, MaxLegacyVcpus); i++)
            page[i * VcpuInfoSize + UpcallMaskOffset] = 1;
    }
}
