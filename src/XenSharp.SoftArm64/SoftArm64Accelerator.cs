using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.SoftArm64;

/// <summary>
/// XenSharp's AArch64 CPU (<c>XenSharp.Arm64</c>) as an accelerator for ARM guests on any host:
/// each vCPU's instructions run on its own thread, and the platform Xen/ARM gives a guest — the
/// GICv3 with its ITS, the generic timers, the SBSA UART when configured — is modelled beside
/// the CPUs (<see cref="SoftArm64VirtualMachine"/>), so that only hypercalls, PSCI, WFI and
/// accesses nothing serves reach the hypervisor core.
/// </summary>
public sealed class SoftArm64Accelerator : IAccelerator
{
    public const string AcceleratorName = "soft-arm64";

    public string Name => AcceleratorName;

    public GuestArchitecture Architecture => GuestArchitecture.Arm64;

    /// <summary>None: CPUID is x86's; ARM guests read ID registers the CPU answers itself.</summary>
    public ReadOnlySpan<CpuidEntry> SupportedCpuid => [];

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory) => new SoftArm64VirtualMachine(this, memory);

    /// <summary>The instructions its vCPUs executed (their constructors and Dispose keep it current).</summary>
    internal RetiredInstructions Retired { get; } = new();

    /// <summary>Guest instructions executed by every vCPU this accelerator ran (`xl info`).</summary>
    public long InstructionsRetired => Retired.Total;
}
