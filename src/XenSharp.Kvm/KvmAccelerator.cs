using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>
/// The KVM accelerator: /dev/kvm opened once per process, checked for what XenSharp needs
/// (API 12, user memory, user-space MSR exits), and the host's supported CPUID read once.
/// </summary>
public sealed unsafe class KvmAccelerator : IAccelerator, IDisposable
{
    private readonly int _kvmFd;
    private readonly CpuidEntry[] _supportedCpuid;

    public string Name => "kvm";
    public ReadOnlySpan<CpuidEntry> SupportedCpuid => _supportedCpuid;
    internal int VcpuMmapSize { get; }
    internal bool HasSyncRegs { get; }
    internal bool HasSyncEvents { get; }
    internal bool HasEmulationFailureExit { get; }
    /// <summary>Whether the host kernel implements Xen hypercalls itself (KVM_CAP_XEN_HVM).</summary>
    public bool HasXenHvm { get; }

    private KvmAccelerator(int fd, CpuidEntry[] cpuid, int mmapSize, bool syncRegs, bool syncEvents, bool emuFail, bool xenHvm)
    {
        _kvmFd = fd; _supportedCpuid = cpuid; VcpuMmapSize = mmapSize; HasSyncRegs = syncRegs; HasSyncEvents = syncEvents;
        HasEmulationFailureExit = emuFail; HasXenHvm = xenHvm;
    }

    /// <summary>Opens /dev/kvm; throws <see cref="KvmUnavailableException"/> with one clear sentence when it cannot be used.</summary>
    public static KvmAccelerator Open(string path = "/dev/kvm")
    {
        int fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new KvmUnavailableException(errno switch
            {
                LibC.ENOENT => $"{path}: no such device — this host has no KVM; enable virtualization in the firmware and load kvm_intel or kvm_amd (modprobe), or run on a host with KVM",
                LibC.EACCES or LibC.EPERM => $"{path}: permission denied — run as root or add yourself to group kvm",
                _ => $"{path}: cannot open: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }
        try
        {
            int version = LibC.ioctl(fd, KvmApi.GetApiVersion, 0);
            if (version != KvmApi.ApiVersion)
                throw new KvmUnavailableException($"{path}: KVM API version {version}, XenSharp needs {KvmApi.ApiVersion} — update the host kernel");
            if (LibC.ioctl(fd, KvmApi.CheckExtension, KvmApi.CapUserMemory) <= 0)
                throw new KvmUnavailableException($"{path}: KVM lacks user memory regions (KVM_CAP_USER_MEMORY) — update the host kernel");
            if (LibC.ioctl(fd, KvmApi.CheckExtension, KvmApi.CapX86UserSpaceMsr) <= 0)
                throw new KvmUnavailableException($"{path}: KVM lacks KVM_CAP_X86_USER_SPACE_MSR, which XenSharp needs for the Xen hypercall-page MSR — use Linux 5.10 or newer");
            int mmapSize = LibC.ioctl(fd, KvmApi.GetVcpuMmapSize, 0);
            if (mmapSize <= 0)
                throw new KvmUnavailableException($"{path}: KVM_GET_VCPU_MMAP_SIZE failed: {Marshal.GetLastPInvokeErrorMessage()}");
            int syncMask = LibC.ioctl(fd, KvmApi.CheckExtension, KvmApi.CapSyncRegs);
            bool sync = (syncMask & 3) == 3;
            bool syncEvents = sync && (syncMask & 4) != 0;
            bool emuFail = LibC.ioctl(fd, KvmApi.CheckExtension, KvmApi.CapExitOnEmulationFailure) > 0;
            bool xenHvm = LibC.ioctl(fd, KvmApi.CheckExtension, KvmApi.CapXenHvm) > 0;
            return new KvmAccelerator(fd, ReadSupportedCpuid(fd), mmapSize, sync, syncEvents, emuFail, xenHvm);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
    }

    private static CpuidEntry[] ReadSupportedCpuid(int fd)
    {
        const int max = 256;
        int bytes = 8 + max * sizeof(CpuidEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = max;
            if (LibC.ioctl(fd, KvmApi.GetSupportedCpuid, (nint)buffer) < 0)
                throw new KvmUnavailableException($"KVM_GET_SUPPORTED_CPUID failed: {Marshal.GetLastPInvokeErrorMessage()}");
            int n = (int)*(uint*)buffer;
            return new ReadOnlySpan<CpuidEntry>(buffer + 8, n).ToArray();
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory)
    {
        int vmFd = LibC.ioctl(_kvmFd, KvmApi.CreateVm, 0);
        if (vmFd < 0)
            throw new KvmUnavailableException($"KVM_CREATE_VM failed: {Marshal.GetLastPInvokeErrorMessage()}");
        try
        {
            return new KvmVirtualMachine(this, vmFd, memory);
        }
        catch
        {
            LibC.close(vmFd);
            throw;
        }
    }

    public void Dispose() => LibC.close(_kvmFd);
}
