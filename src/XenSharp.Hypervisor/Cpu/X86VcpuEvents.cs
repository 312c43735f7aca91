using System.Runtime.InteropServices;

namespace XenSharp.Hypervisor.Cpu;

/// <summary>
/// Pending and in-flight events of an x86 vCPU (layout of struct kvm_vcpu_events, 64 bytes):
/// an exception to inject, the interrupt being delivered, and NMI state.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct X86VcpuEvents
{
    [FieldOffset(0)] public byte ExceptionInjected;
    [FieldOffset(1)] public byte ExceptionNumber;
    [FieldOffset(2)] public byte ExceptionHasErrorCode;
    [FieldOffset(3)] public byte ExceptionPending;
    [FieldOffset(4)] public uint ExceptionErrorCode;
    [FieldOffset(8)] public byte InterruptInjected;
    [FieldOffset(9)] public byte InterruptNumber;
    [FieldOffset(10)] public byte InterruptSoft;
    [FieldOffset(11)] public byte InterruptShadow;
    [FieldOffset(12)] public byte NmiInjected;
    [FieldOffset(13)] public byte NmiPending;
    [FieldOffset(14)] public byte NmiMasked;
    [FieldOffset(16)] public uint SipiVector;
    [FieldOffset(20)] public uint Flags;

    public const uint FlagValidShadow = 4;
}
