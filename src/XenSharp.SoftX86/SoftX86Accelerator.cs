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

    private readonly object _lock = new();
    private readonly HashSet<SoftX86Vcpu> _live = [];
    private long _retiredByGone;

    /// <summary>Guest instructions executed by every vCPU this accelerator ran (`xl info` guest_insns).</summary>
    public long InstructionsRetired
    {
        get
        {
            lock (_lock) return _retiredByGone + _live.Sum(v => v.InstructionsRetired);
        }
    }

    internal void Track(SoftX86Vcpu vcpu)
    {
        lock (_lock) _live.Add(vcpu);
    }

    internal void Untrack(SoftX86Vcpu vcpu)
    {
        lock (_lock)
            if (_live.Remove(vcpu)) _retiredByGone += vcpu.InstructionsRetired;
    }
}
