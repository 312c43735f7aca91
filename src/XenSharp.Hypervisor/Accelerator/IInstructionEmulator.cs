using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Accelerator;

/// <summary>
/// Completes an instruction the accelerator could not (on this host KVM's in-kernel emulator
/// refuses IRET, INT n, CMPXCHG16B…): reads the vCPU's state, emulates, and either writes the
/// new state back or injects the architectural fault. One instance serves every vCPU.
/// </summary>
public interface IInstructionEmulator
{
    /// <summary>
    /// Completes the instruction at the vCPU's RIP (<paramref name="bytes"/> as the accelerator
    /// reported them, possibly empty). Returns null when done (completed or fault injected), or
    /// the reason it is not supported.
    /// </summary>
    string? Complete(IVcpu cpu, GuestMemory memory, ReadOnlySpan<byte> bytes);

    /// <summary>How often each instruction kind was emulated ("IRETD", "INT/fault", …).</summary>
    IReadOnlyDictionary<string, long> Counters { get; }
}
