using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>A KVM VM: its guest memory slots and the user-space MSR exits XenSharp relies on.</summary>
internal sealed unsafe class KvmVirtualMachine : IX86VirtualMachine
{
    private readonly KvmAccelerator _kvm;
    private readonly int _vmFd;
    private int _disposed;

    public KvmVirtualMachine(KvmAccelerator kvm, int vmFd, GuestMemory memory)
    {
        _kvm = kvm;
        _vmFd = vmFd;

        // MSRs KVM does not know (Xen's hypercall-page MSR among them) exit to us; so do MSRs KVM
        // would #GP (the x2APIC range: without an in-kernel LAPIC KVM refuses them, and they
        // cannot be filtered) and the ones the filter below denies (TSC deadline, which KVM
        // would silently drop without an in-kernel LAPIC). XenSharp's LAPIC answers them.
        EnableCap(KvmApi.CapX86UserSpaceMsr, KvmApi.MsrExitReasonUnknown | KvmApi.MsrExitReasonInval | KvmApi.MsrExitReasonFilter);
        DenyMsrToKvm(0x6E0);
        if (kvm.HasEmulationFailureExit)
            EnableCap(KvmApi.CapExitOnEmulationFailure, 1);
        // Needed by VMX hosts for real-mode emulation; harmless elsewhere. Placed in the reserved hole below 4 GiB.
        LibC.ioctl(vmFd, KvmApi.SetTssAddr, unchecked((nint)0xFFFBD000));

        foreach (var r in memory.Regions) AddSlot(r);
        _memory = memory;
        memory.RegionAdded += AddSlot; // frames the guest places outside RAM later
    }

    private readonly GuestMemory _memory;
    private uint _nextSlot;

    private void AddSlot(GuestMemoryRegion r)
    {
        Span<byte> region = stackalloc byte[32];
        region.Clear();
        MemoryMarshal.Write(region, Interlocked.Increment(ref _nextSlot) - 1);
        MemoryMarshal.Write(region[8..], r.GuestPhysical);
        MemoryMarshal.Write(region[16..], r.Size);
        MemoryMarshal.Write(region[24..], (ulong)r.HostAddress);
        fixed (byte* p = region)
        {
            if (LibC.ioctl(_vmFd, KvmApi.SetUserMemoryRegion, (nint)p) < 0)
                throw new KvmUnavailableException(
                    $"KVM_SET_USER_MEMORY_REGION for 0x{r.GuestPhysical:x}+0x{r.Size:x} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    /// <summary>Installs an MSR filter that sends reads and writes of <paramref name="msr"/> to user space (all others stay allowed).</summary>
    private void DenyMsrToKvm(uint msr)
    {
        Span<byte> filter = stackalloc byte[KvmApi.MsrFilterSize];
        filter.Clear();
        byte bitmap = 0; // bit clear = denied
        MemoryMarshal.Write(filter, 0u); // KVM_MSR_FILTER_DEFAULT_ALLOW
        var range = filter.Slice(8, KvmApi.MsrFilterRangeSize);
        MemoryMarshal.Write(range, KvmApi.MsrFilterRead | KvmApi.MsrFilterWrite);
        MemoryMarshal.Write(range[4..], 1u);
        MemoryMarshal.Write(range[8..], msr);
        MemoryMarshal.Write(range[16..], (ulong)&bitmap);
        fixed (byte* p = filter)
        {
            if (LibC.ioctl(_vmFd, KvmApi.SetMsrFilter, (nint)p) < 0)
                throw new KvmUnavailableException($"KVM_X86_SET_MSR_FILTER failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    private void EnableCap(int cap, ulong arg0)
    {
        Span<byte> enable = stackalloc byte[104];
        enable.Clear();
        MemoryMarshal.Write(enable, (uint)cap);
        MemoryMarshal.Write(enable[8..], arg0);
        fixed (byte* p = enable)
        {
            if (LibC.ioctl(_vmFd, KvmApi.EnableCap, (nint)p) < 0)
                throw new KvmUnavailableException($"KVM_ENABLE_CAP {cap} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    public IVcpu CreateVcpu(int index, ReadOnlySpan<CpuidEntry> cpuid)
    {
        int fd = LibC.ioctl(_vmFd, KvmApi.CreateVcpu, index);
        if (fd < 0)
            throw new KvmUnavailableException($"KVM_CREATE_VCPU {index} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        try
        {
            return new KvmVcpu(_kvm, fd, cpuid);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _memory.RegionAdded -= AddSlot;
        LibC.close(_vmFd);
    }
}
