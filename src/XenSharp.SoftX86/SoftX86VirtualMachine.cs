using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.SoftX86;

/// <summary>A guest on the software CPU: its memory, shared by the vCPUs it creates.</summary>
public sealed class SoftX86VirtualMachine(SoftX86Accelerator accelerator, GuestMemory memory) : IX86VirtualMachine
{
    public IVcpu CreateVcpu(int index, ReadOnlySpan<CpuidEntry> cpuid) => new SoftX86Vcpu(memory, cpuid.ToArray(), accelerator);

    public void Dispose() { }
}
