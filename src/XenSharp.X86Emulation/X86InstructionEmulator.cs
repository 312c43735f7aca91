using Iced.Intel;
using XenSharp.X86Emulation.Instructions;

namespace XenSharp.X86Emulation;

/// <summary>
/// Completes one instruction the host's KVM refused to emulate (see <see cref="InstructionCatalog"/>).
///
/// Flow: decode the bytes KVM reported at CS:RIP with Iced in the current mode (16/32/64-bit);
/// if they are too few, fetch up to 15 bytes from guest memory through segmentation and paging
/// (execute access). Dispatch on the Iced code; the instruction either completes (registers,
/// memory, RIP updated), raises an architectural exception (<see cref="EmulationOutcome.Fault"/>:
/// registers are restored to their values before the instruction and the exception is left in
/// <see cref="X86EmulationState.PendingException"/>), or is <see cref="EmulationOutcome.Unsupported"/>.
/// With <see cref="DeliverFaultsThroughIdt"/> the fault is delivered here instead (a fault while
/// delivering it becomes #DF, a fault while delivering #DF is reported Unsupported "triple fault";
/// the benign/contributory classification is not modelled).
/// Thread-safe: one emulator may serve all vCPUs, each with its own <see cref="X86EmulationState"/>.
/// </summary>
public sealed class X86InstructionEmulator
{
    public const int MaxInstructionLength = 15;

    /// <summary>Per-mnemonic outcome counters the caller can print.</summary>
    public EmulationCounters Counters { get; } = new();

    /// <summary>Deliver faults through the guest IDT instead of returning them.</summary>
    public bool DeliverFaultsThroughIdt { get; init; }

    public IReadOnlyDictionary<string, long> CounterSnapshot() => Counters.Snapshot();

    /// <summary>Emulates the instruction at CS:RIP; <paramref name="instructionBytes"/> are the bytes KVM reported (may be empty).</summary>
    public EmulationResult Emulate(X86EmulationState state, ReadOnlySpan<byte> instructionBytes)
    {
        var savedRegisters = state.Registers;
        var savedSpecial = state.Special;
        bool savedNmi = state.NmiBlocked;
        state.InterruptShadow = false;
        state.PendingException = default;
        Instruction instruction = default;
        try
        {
            instruction = Decode(state, instructionBytes);
            if (instruction.Code == Code.INVALID)
            {
                Counters.Record(Mnemonic.INVALID, EmulationOutcome.Unsupported);
                return new EmulationResult(EmulationOutcome.Unsupported, "(invalid)", "instruction bytes do not decode");
            }
            Execute(state, instruction);
            Counters.Record(instruction.Mnemonic, EmulationOutcome.Completed);
            return new EmulationResult(EmulationOutcome.Completed, Name(instruction));
        }
        catch (GuestFaultException fault)
        {
            state.Registers = savedRegisters;
            state.Special = savedSpecial;
            state.NmiBlocked = savedNmi;
            state.PendingException = fault.Fault;
            Counters.Record(instruction.Mnemonic, EmulationOutcome.Fault);
            if (!DeliverFaultsThroughIdt)
                return new EmulationResult(EmulationOutcome.Fault, Name(instruction), fault.Fault.ToString());
            return DeliverFault(state, instruction, fault.Fault, savedRegisters, savedSpecial);
        }
        catch (EmulationUnsupportedException unsupported)
        {
            state.Registers = savedRegisters;
            state.Special = savedSpecial;
            state.NmiBlocked = savedNmi;
            Counters.Record(instruction.Mnemonic, EmulationOutcome.Unsupported);
            return new EmulationResult(EmulationOutcome.Unsupported, Name(instruction), unsupported.Message);
        }
    }

    private static EmulationResult DeliverFault(X86EmulationState state, in Instruction instruction, PendingException fault,
        Hypervisor.Cpu.X86Registers savedRegisters, Hypervisor.Cpu.X86SpecialRegisters savedSpecial)
    {
        try
        {
            if (fault.Vector == X86Vectors.PageFault) state.Special.Cr2 = fault.Cr2;
            InterruptDelivery.Deliver(state, fault.Vector, fault.HasErrorCode ? fault.ErrorCode : null,
                InterruptSource.HardwareException, state.Registers.Rip);
            return new EmulationResult(EmulationOutcome.FaultDelivered, Name(instruction), fault.ToString());
        }
        catch (GuestFaultException)
        {
            state.Registers = savedRegisters;
            state.Special = savedSpecial;
            try
            {
                InterruptDelivery.Deliver(state, X86Vectors.DoubleFault, 0, InterruptSource.HardwareException, state.Registers.Rip);
                return new EmulationResult(EmulationOutcome.FaultDelivered, Name(instruction), $"#DF after {fault}");
            }
            catch (GuestFaultException)
            {
                state.Registers = savedRegisters;
                state.Special = savedSpecial;
                return new EmulationResult(EmulationOutcome.Unsupported, Name(instruction), $"triple fault after {fault}");
            }
        }
        catch (EmulationUnsupportedException e)
        {
            state.Registers = savedRegisters;
            state.Special = savedSpecial;
            return new EmulationResult(EmulationOutcome.Unsupported, Name(instruction), $"delivering {fault}: {e.Message}");
        }
    }

    private static string Name(in Instruction instruction) =>
        instruction.Code == Code.INVALID ? "(none)" : instruction.Mnemonic.ToString().ToUpperInvariant();

    /// <summary>Decodes at CS:RIP; fetches from guest memory when the supplied bytes run out.</summary>
    internal static Instruction Decode(X86EmulationState state, ReadOnlySpan<byte> bytes)
    {
        int bitness = state.CodeBitness;
        ulong rip = state.Registers.Rip;
        var instruction = DecodeBytes(bytes.ToArray(), bitness, rip, out var error);
        if (error != DecoderError.NoMoreBytes) return instruction;

        byte[] fetched = new byte[MaxInstructionLength];
        int count = FetchBytes(state, fetched, out PendingException? fetchFault);
        instruction = DecodeBytes(fetched.AsSpan(0, count).ToArray(), bitness, rip, out error);
        if (error == DecoderError.NoMoreBytes && fetchFault is PendingException f) throw new GuestFaultException(f);
        return instruction;
    }

    private static Instruction DecodeBytes(byte[] bytes, int bitness, ulong rip, out DecoderError error)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes), rip);
        decoder.Decode(out var instruction);
        error = decoder.LastError;
        return instruction;
    }

    /// <summary>Reads instruction bytes at CS:RIP up to the first byte that cannot be fetched.</summary>
    private static int FetchBytes(X86EmulationState state, Span<byte> buffer, out PendingException? fault)
    {
        fault = null;
        int count = 0;
        ref var cs = ref state.Special.Cs;
        PageAccess access = LinearMemory.ForCpl(state.Cpl, PageAccess.Execute);
        while (count < buffer.Length)
        {
            ulong offset = state.Registers.Rip + (ulong)count;
            ulong linear;
            if (state.Is64BitMode) linear = offset;
            else
            {
                offset &= state.CodeBitness == 16 ? 0xFFFF : 0xFFFF_FFFF;
                if (offset > cs.Limit) { fault = PendingException.Gp(0); break; }
                linear = (cs.Base + offset) & 0xFFFF_FFFF;
            }
            if (!PageWalker.TryTranslate(state, linear, access, out ulong physical, out var pf)) { fault = pf; break; }
            int chunk = (int)Math.Min((ulong)(buffer.Length - count), 4096 - (linear & 0xFFF));
            if (!state.Memory.TryReadBytes(physical, buffer.Slice(count, chunk)))
                throw new EmulationUnsupportedException($"instruction fetch from guest-physical 0x{physical:x} outside RAM");
            count += chunk;
        }
        return count;
    }

    private static void Execute(X86EmulationState state, in Instruction instruction)
    {
        ref var regs = ref state.Registers;
        ulong next = instruction.NextIP;
        if (state.CodeBitness == 16) next &= 0xFFFF; else if (state.CodeBitness == 32) next &= 0xFFFF_FFFF;
        switch (instruction.Code)
        {
            case Code.Iretw: Iret.Execute(state, 2); break;
            case Code.Iretd: Iret.Execute(state, 4); break;
            case Code.Iretq: Iret.Execute(state, 8); break;

            case Code.Int_imm8: SoftwareInterrupt.Execute(state, instruction.Immediate8, InterruptSource.SoftwareInterrupt, next); break;
            case Code.Int3: SoftwareInterrupt.Execute(state, X86Vectors.Breakpoint, InterruptSource.SoftwareException, next); break;
            case Code.Int1: SoftwareInterrupt.Execute(state, X86Vectors.Debug, InterruptSource.PrivilegedSoftwareException, next); break;
            case Code.Into: SoftwareInterrupt.Into(state, next); break;

            case Code.Cmpxchg8b_m64:
            case Code.Cmpxchg16b_m128:
            {
                int size = instruction.Code == Code.Cmpxchg8b_m64 ? 8 : 16;
                ulong linear = OperandAccess.MemoryLinear(state, instruction, size, write: true);
                CompareExchange.Execute(state, linear, size);
                regs.Rip = next;
                break;
            }

            default:
                if (!FarTransfer.TryExecute(state, instruction, next) && !FastSystemCall.TryExecute(state, instruction, next)
                    && !SystemInstructions.TryExecute(state, instruction, next))
                    throw new EmulationUnsupportedException($"{Name(instruction)} is not implemented by the emulator");
                break;
        }
    }
}
