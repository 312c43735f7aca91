using Iced.Intel;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>
/// Register and memory operands of a decoded instruction: general-purpose register access by
/// Iced register, and effective address = base + index × scale + displacement truncated to the
/// address size (RIP-relative: Iced already resolved the absolute address), with the segment
/// Iced reports (default or override).
/// </summary>
public static class OperandAccess
{
    public static ref ulong Gpr(ref X86Registers regs, Register register)
    {
        switch (register.GetFullRegister())
        {
            case Register.RAX: return ref regs.Rax;
            case Register.RCX: return ref regs.Rcx;
            case Register.RDX: return ref regs.Rdx;
            case Register.RBX: return ref regs.Rbx;
            case Register.RSP: return ref regs.Rsp;
            case Register.RBP: return ref regs.Rbp;
            case Register.RSI: return ref regs.Rsi;
            case Register.RDI: return ref regs.Rdi;
            case Register.R8: return ref regs.R8;
            case Register.R9: return ref regs.R9;
            case Register.R10: return ref regs.R10;
            case Register.R11: return ref regs.R11;
            case Register.R12: return ref regs.R12;
            case Register.R13: return ref regs.R13;
            case Register.R14: return ref regs.R14;
            case Register.R15: return ref regs.R15;
            default: throw new EmulationUnsupportedException($"register {register}");
        }
    }

    public static ulong ReadGpr(ref X86Registers regs, Register register)
    {
        ulong v = Gpr(ref regs, register);
        return register.GetSize() switch
        {
            1 => register is >= Register.AH and <= Register.BH ? (v >> 8) & 0xFF : v & 0xFF,
            2 => v & 0xFFFF,
            4 => v & 0xFFFF_FFFF,
            _ => v,
        };
    }

    /// <summary>Writes with x86 rules: 32-bit destinations zero-extend, 8/16-bit ones merge.</summary>
    public static void WriteGpr(ref X86Registers regs, Register register, ulong value)
    {
        ref ulong r = ref Gpr(ref regs, register);
        switch (register.GetSize())
        {
            case 2: r = (r & ~0xFFFFUL) | (value & 0xFFFF); break;
            case 4: r = value & 0xFFFF_FFFF; break;
            case 8: r = value; break;
            default: throw new EmulationUnsupportedException($"8-bit destination {register}");
        }
    }

    public static SegmentRegister Segment(Register register) => register switch
    {
        Register.ES => SegmentRegister.Es,
        Register.CS => SegmentRegister.Cs,
        Register.SS => SegmentRegister.Ss,
        Register.FS => SegmentRegister.Fs,
        Register.GS => SegmentRegister.Gs,
        _ => SegmentRegister.Ds,
    };

    /// <summary>The offset (effective address) of the instruction's memory operand.</summary>
    public static ulong EffectiveAddress(X86EmulationState state, in Instruction instruction)
    {
        ref var regs = ref state.Registers;
        ulong mask = AddressMask(state, instruction);
        if (instruction.IsIPRelativeMemoryOperand) return instruction.IPRelativeMemoryAddress & mask;
        ulong ea = instruction.MemoryDisplacement64;
        if (instruction.MemoryBase != Register.None) ea += ReadGpr(ref regs, instruction.MemoryBase);
        if (instruction.MemoryIndex != Register.None) ea += ReadGpr(ref regs, instruction.MemoryIndex) * (ulong)instruction.MemoryIndexScale;
        return ea & mask;
    }

    private static ulong AddressMask(X86EmulationState state, in Instruction instruction)
    {
        int size = instruction.MemoryBase != Register.None ? instruction.MemoryBase.GetSize()
            : instruction.MemoryIndex != Register.None ? instruction.MemoryIndex.GetSize()
            : instruction.MemoryDisplSize;
        if (size == 0) size = state.CodeBitness / 8;
        return size switch { 2 => 0xFFFF, 4 => 0xFFFF_FFFF, _ => ulong.MaxValue };
    }

    /// <summary>Linear address of the memory operand (segmentation checks included).</summary>
    public static ulong MemoryLinear(X86EmulationState state, in Instruction instruction, int size, bool write) =>
        SegmentedAccess.Linear(state, Segment(instruction.MemorySegment), EffectiveAddress(state, instruction), size, write);
}
