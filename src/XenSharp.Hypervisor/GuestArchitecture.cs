namespace XenSharp.Hypervisor;

/// <summary>The instruction set a domain's guest runs: it picks the accelerator and the ABI's layouts.</summary>
public enum GuestArchitecture
{
    /// <summary>x86 (32- and 64-bit PVH guests).</summary>
    X86,
    /// <summary>AArch64 (Xen/ARM guests: EL1 with PV drivers).</summary>
    Arm64,
}
