using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.SoftX86;

/// <summary>
/// XenSharp's own x86 CPU as an accelerator: guest code runs in the interpreter of
/// XenSharp.X86Emulation (decode cache, software TLB, exceptions through the guest IDT) on the
/// vCPU's thread, so guests run on hosts without /dev/kvm. Slower than hardware virtualization,
/// but every instruction at every privilege level costs the same, and exits to the hypervisor
/// (hypercalls, MMIO, MSRs) are plain method returns.
/// </summary>
public sealed class SoftX86Accelerator : IAccelerator
{
    public const string AcceleratorName = "soft-x86";

    private readonly CpuidEntry[] _cpuid = SoftX86Cpuid.Build();

    public string Name => AcceleratorName;

    public ReadOnlySpan<CpuidEntry> SupportedCpuid => _cpuid;

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory) => new SoftX86VirtualMachine(this, memory);

    /// <summary>The instructions its vCPUs executed (their constructors and Dispose keep it current).</summary>
    internal RetiredInstructions Retired { get; } = new();

    /// <summary>Guest instructions executed by every vCPU this accelerator ran (`xl info`).</summary>
    public long InstructionsRetired => Retired.Total;
}
