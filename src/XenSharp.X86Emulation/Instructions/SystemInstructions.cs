using Iced.Intel;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// LAR, LSL, VERR, VERW (Intel SDM vol. 2): #UD outside protected mode (and in virtual-8086 mode).
/// The selector comes from a 16-bit register or memory operand. ZF = 0 when the selector is null,
/// beyond its table, of a type the instruction does not accept, or (for everything but conforming
/// code) DPL &lt; max(CPL, RPL); otherwise ZF = 1 and LAR loads the access-rights bytes
/// (descriptor bits 63:32 &amp; 0x00F0FF00; &amp; 0xFF00 for a 16-bit destination), LSL the byte-granular
/// limit. VERR accepts readable code or data; VERW writable data only. Accepted system types for
/// LAR: 1–5, 9, 11, 12 (long mode: 2, 9, 11, 12); LSL: 1–3, 9, 11 (long mode: 2, 9, 11).
/// </summary>
internal static class SystemInstructions
{
    public static bool TryExecute(X86EmulationState state, in Instruction instruction, ulong next)
    {
        switch (instruction.Mnemonic)
        {
            case Mnemonic.Lar:
            case Mnemonic.Lsl:
            case Mnemonic.Verr:
            case Mnemonic.Verw:
                SegmentQuery(state, instruction);
                state.Registers.Rip = next;
                return true;
            default:
                return false;
        }
    }

    private static void SegmentQuery(X86EmulationState state, in Instruction instruction)
    {
        if (!state.ProtectedMode || state.Virtual8086) throw GuestFaultException.Ud();
        ref var regs = ref state.Registers;
        int sourceOperand = instruction.Mnemonic is Mnemonic.Verr or Mnemonic.Verw ? 0 : 1;
        ushort selector = instruction.GetOpKind(sourceOperand) == OpKind.Register
            ? (ushort)OperandAccess.ReadGpr(ref regs, instruction.GetOpRegister(sourceOperand))
            : (ushort)SegmentedAccess.ReadUInt(state, OperandAccess.Segment(instruction.MemorySegment),
                OperandAccess.EffectiveAddress(state, instruction), 2);

        bool ok = false;
        ulong result = 0;
        if ((selector & 0xFFFC) != 0 && SegmentLoader.TryRead(state, selector, out var d))
        {
            bool longMode = state.LongModeActive;
            bool privileged = d.Dpl >= state.Cpl && d.Dpl >= (selector & 3);
            bool conforming = d.IsConformingCode;
            switch (instruction.Mnemonic)
            {
                case Mnemonic.Lar:
                    ok = (d.S || (longMode ? d.Type is 2 or 9 or 11 or 12 : d.Type is >= 1 and <= 5 or 9 or 11 or 12))
                         && (conforming || privileged);
                    result = (d.Low >> 32) & 0x00F0_FF00;
                    break;
                case Mnemonic.Lsl:
                    ok = (d.S || (longMode ? d.Type is 2 or 9 or 11 : d.Type is 1 or 2 or 3 or 9 or 11))
                         && (conforming || privileged);
                    result = d.Limit;
                    break;
                case Mnemonic.Verr:
                    ok = d.S && d.IsReadable && (conforming || privileged);
                    break;
                case Mnemonic.Verw:
                    ok = d.IsWritableData && privileged;
                    break;
            }
        }
        if (ok)
        {
            regs.Rflags |= X86Flags.ZF;
            if (instruction.Mnemonic is Mnemonic.Lar or Mnemonic.Lsl)
            {
                Register destination = instruction.Op0Register;
                if (destination.GetSize() == 2) result &= 0xFFFF;
                OperandAccess.WriteGpr(ref regs, destination, result);
            }
        }
        else
        {
            regs.Rflags &= ~X86Flags.ZF;
        }
    }
}
