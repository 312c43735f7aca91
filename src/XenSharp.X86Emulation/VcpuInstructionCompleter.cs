using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.X86Emulation;

/// <summary>
/// Plugs <see cref="X86InstructionEmulator"/> into an accelerator's vCPU: copies its
/// registers, special registers and NMI blocking in, emulates, then writes the results back
/// (Completed) or injects the fault through the accelerator, setting CR2 first for a #PF
/// (Fault). Emulation failures are a slow path; the state object is per call.
/// </summary>
public sealed class VcpuInstructionCompleter : IInstructionEmulator
{
    private readonly X86InstructionEmulator _emulator = new();

    public IReadOnlyDictionary<string, long> Counters => _emulator.CounterSnapshot();

    public string? Complete(IVcpu cpu, GuestMemory memory, ReadOnlySpan<byte> bytes)
    {
        var state = new X86EmulationState(memory)
        {
            Registers = cpu.Registers,
            Special = cpu.SpecialRegisters,
            NmiBlocked = cpu.Events.NmiMasked != 0,
        };
        var result = _emulator.Emulate(state, bytes);
        switch (result.Outcome)
        {
            case EmulationOutcome.Completed:
            case EmulationOutcome.FaultDelivered:
                cpu.SetSpecialRegisters(state.Special);
                cpu.SetRegisters(state.Registers);
                {
                    // Always rewrite the event state: besides NMI blocking (IRET unblocks), this
                    // drops the delivery KVM still has in flight from before the exit; without it
                    // this host's KVM delivers the same interrupt again after an emulated IRET.
                    var events = cpu.Events;
                    events.NmiMasked = state.NmiBlocked ? (byte)1 : (byte)0;
                    events.InterruptInjected = 0;
                    events.Flags = 0;
                    cpu.SetEvents(events);
                }
                return null;
            case EmulationOutcome.Fault:
            {
                var fault = state.PendingException;
                if (fault.Vector == X86Vectors.PageFault)
                {
                    var special = cpu.SpecialRegisters;
                    special.Cr2 = fault.Cr2;
                    cpu.SetSpecialRegisters(special);
                }
                cpu.InjectException(fault.Vector, fault.HasErrorCode ? fault.ErrorCode : null);
                return null;
            }
            default:
                return result.Reason ?? $"{result.Mnemonic} is not emulated";
        }
    }
}
