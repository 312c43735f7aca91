using Iced.Intel;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// Far CALL, far JMP and far RET (RETF, RETF imm16) — Intel SDM vol. 2 "CALL", "JMP", "RET";
/// AMD APM vol. 3 "CALL (Far)", "JMP (Far)", "RET (Far)"; SDM vol. 3 §5.8 (call gates).
///
/// <list type="bullet">
/// <item>Real and virtual-8086 mode: CS = selector, base = selector × 16; the new IP/EIP must lie
///   within the current CS limit (#GP(0)); CALL pushes CS then IP/EIP in the operand size.</item>
/// <item>Protected and long mode, code-segment target: null selector → #GP(0); beyond the table
///   → #GP(sel); conforming with DPL &gt; CPL, or non-conforming with RPL &gt; CPL or DPL ≠ CPL → #GP(sel);
///   in long mode L = D = 1 → #GP(sel); not present → #NP(sel). CPL is unchanged (CS.RPL = CPL).
///   The new offset must be within the limit (#GP(0)), or canonical for a 64-bit target.</item>
/// <item>Call gates (types 4 and 12; in long mode only the 16-byte 64-bit gate, type 12, whose upper
///   type field must be 0): gate DPL &lt; CPL or &lt; RPL → #GP(gate); not present → #NP(gate); the gate's
///   code selector: null → #GP(0), not code / DPL &gt; CPL / (long mode) not 64-bit code → #GP(sel),
///   not present → #NP(sel). JMP never changes privilege: a non-conforming target needs DPL = CPL
///   (#GP(sel)). CALL to a non-conforming target with DPL &lt; CPL switches to the TSS stack of that
///   level (legacy: SS checks → #TS/#SS as for interrupts; pushes SS, ESP, the gate's parameter
///   count of parameters copied from the old stack, CS, EIP in the gate's width; long mode: RSPn,
///   SS becomes null with RPL = new CPL, pushes SS, RSP, CS, RIP as 8-byte values, no parameters).
///   Otherwise the return address is pushed on the current stack in the gate's width (64-bit pushes
///   on the full RSP for a long-mode gate, also from compatibility mode).</item>
/// <item>Task gates and TSS descriptors: in long mode #GP(sel); in legacy mode (after the DPL
///   checks) Unsupported — task switches are not implemented.</item>
/// <item>RETF: pops EIP, CS (operand size; 32 bits by default in 64-bit mode, REX.W for 64) and checks
///   CS with <see cref="SegmentLoader.CheckReturnCode"/>. Same level: RSP += imm16. Outer level
///   (RPL &gt; CPL): skips imm16 bytes, pops ESP, SS (checked by <see cref="SegmentLoader.CheckReturnStack"/>,
///   null allowed for a 64-bit target below ring 3 in 64-bit mode), then adds imm16 to the new stack
///   pointer and nulls ES/DS/FS/GS the new CPL may not use.</item>
/// </list>
/// Nothing is committed until every check passed; a fault leaves the registers as they were.
/// </summary>
internal static class FarTransfer
{
    public static bool TryExecute(X86EmulationState state, in Instruction instruction, ulong next)
    {
        switch (instruction.Code)
        {
            case Code.Call_ptr1616: Transfer(state, true, 2, instruction.FarBranchSelector, instruction.FarBranch16, next); return true;
            case Code.Call_ptr1632: Transfer(state, true, 4, instruction.FarBranchSelector, instruction.FarBranch32, next); return true;
            case Code.Jmp_ptr1616: Transfer(state, false, 2, instruction.FarBranchSelector, instruction.FarBranch16, next); return true;
            case Code.Jmp_ptr1632: Transfer(state, false, 4, instruction.FarBranchSelector, instruction.FarBranch32, next); return true;
            case Code.Call_m1616: Indirect(state, instruction, true, 2, next); return true;
            case Code.Call_m1632: Indirect(state, instruction, true, 4, next); return true;
            case Code.Call_m1664: Indirect(state, instruction, true, 8, next); return true;
            case Code.Jmp_m1616: Indirect(state, instruction, false, 2, next); return true;
            case Code.Jmp_m1632: Indirect(state, instruction, false, 4, next); return true;
            case Code.Jmp_m1664: Indirect(state, instruction, false, 8, next); return true;
            case Code.Retfw: Return(state, 2, 0); return true;
            case Code.Retfd: Return(state, 4, 0); return true;
            case Code.Retfq: Return(state, 8, 0); return true;
            case Code.Retfw_imm16: Return(state, 2, instruction.Immediate16); return true;
            case Code.Retfd_imm16: Return(state, 4, instruction.Immediate16); return true;
            case Code.Retfq_imm16: Return(state, 8, instruction.Immediate16); return true;
            default: return false;
        }
    }

    /// <summary>CALL/JMP m16:16, m16:32, m16:64: the offset, then the selector, read from memory.</summary>
    private static void Indirect(X86EmulationState state, in Instruction instruction, bool call, int operandSize, ulong next)
    {
        ulong ea = OperandAccess.EffectiveAddress(state, instruction);
        ulong linear = SegmentedAccess.Linear(state, OperandAccess.Segment(instruction.MemorySegment), ea, operandSize + 2, false);
        var access = SegmentedAccess.DataAccess(state, false);
        ulong offset = LinearMemory.ReadUInt(state, linear, operandSize, access);
        ushort selector = (ushort)LinearMemory.ReadUInt(state, linear + (ulong)operandSize, 2, access);
        Transfer(state, call, operandSize, selector, offset, next);
    }

    private static ulong Truncate(ulong value, int size) => size switch { 2 => value & 0xFFFF, 4 => value & 0xFFFF_FFFF, _ => value };

    private static void Transfer(X86EmulationState state, bool call, int operandSize, ushort selector, ulong offset, ulong next)
    {
        offset = Truncate(offset, operandSize);
        if (!state.ProtectedMode || state.Virtual8086)
        {
            TransferReal(state, call, operandSize, selector, offset, next);
            return;
        }
        if ((selector & 0xFFFC) == 0) throw GuestFaultException.Gp(0);
        uint err = SegmentLoader.SelectorError(selector, false);
        var d = SegmentLoader.Read(state, selector, X86Vectors.GeneralProtection, false);
        bool longMode = state.LongModeActive;
        if (d.S)
        {
            if (!d.IsCode) throw GuestFaultException.Gp(err);
            ToCodeSegment(state, call, operandSize, selector, d, offset, next);
            return;
        }
        switch (d.Type)
        {
            case SegmentDescriptor.TypeCallGate:
            case SegmentDescriptor.TypeCallGate16 when !longMode:
                ThroughCallGate(state, call, selector, d, next);
                return;
            case SegmentDescriptor.TypeTaskGate when !longMode:
            case SegmentDescriptor.TypeTss16Available when !longMode:
            case SegmentDescriptor.TypeTssAvailable when !longMode:
                if (d.Dpl < state.Cpl || d.Dpl < (selector & 3)) throw GuestFaultException.Gp(err);
                throw new EmulationUnsupportedException(
                    $"far {(call ? "CALL" : "JMP")} to a {(d.Type == SegmentDescriptor.TypeTaskGate ? "task gate" : "TSS")} (task switch) selector 0x{selector:x}");
            default:
                throw GuestFaultException.Gp(err);
        }
    }

    private static void TransferReal(X86EmulationState state, bool call, int operandSize, ushort selector, ulong offset, ulong next)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        var stack = StackCursor.Current(state);
        if (call)
        {
            stack.Push(state, sr.Cs.Selector, operandSize);
            stack.Push(state, next, operandSize);
        }
        if (offset > sr.Cs.Limit) throw GuestFaultException.Gp(0);
        sr.Cs.Selector = selector;
        sr.Cs.Base = (ulong)selector << 4;
        regs.Rip = offset;
        regs.Rsp = stack.Rsp;
    }

    private static void CheckTarget(SegmentDescriptor cs, ulong offset, bool target64)
    {
        if (target64 ? !SegmentedAccess.IsCanonical(offset) : offset > cs.Limit) throw GuestFaultException.Gp(0);
    }

    private static void ToCodeSegment(X86EmulationState state, bool call, int operandSize, ushort selector, SegmentDescriptor d, ulong offset, ulong next)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        int cpl = state.Cpl;
        uint err = SegmentLoader.SelectorError(selector, false);
        if (d.IsConformingCode ? d.Dpl > cpl : (selector & 3) > cpl || d.Dpl != cpl) throw GuestFaultException.Gp(err);
        if (state.LongModeActive && d.L && d.Db) throw GuestFaultException.Gp(err);
        if (!d.Present) throw GuestFaultException.Np(err);
        bool target64 = state.LongModeActive && d.L;

        var stack = StackCursor.Current(state);
        if (call)
        {
            stack.Push(state, sr.Cs.Selector, operandSize);
            stack.Push(state, next, operandSize);
        }
        CheckTarget(d, offset, target64);

        sr.Cs = SegmentLoader.Load(state, selector, d);
        sr.Cs.Selector = (ushort)((selector & ~3) | cpl);
        regs.Rip = offset;
        regs.Rsp = stack.Rsp;
    }

    private static void ThroughCallGate(X86EmulationState state, bool call, ushort gateSelector, SegmentDescriptor gate, ulong next)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        int cpl = state.Cpl;
        bool longMode = state.LongModeActive;
        uint gateError = SegmentLoader.SelectorError(gateSelector, false);
        if (longMode)
        {
            gate = SegmentLoader.Read(state, gateSelector, X86Vectors.GeneralProtection, false, sixteenBytes: true);
            if (((gate.High >> 40) & 0x1F) != 0) throw GuestFaultException.Gp(gateError);
        }
        if (gate.Dpl < cpl || gate.Dpl < (gateSelector & 3)) throw GuestFaultException.Gp(gateError);
        if (!gate.Present) throw GuestFaultException.Np(gateError);

        ushort csSelector = gate.GateSelector;
        if ((csSelector & 0xFFFC) == 0) throw GuestFaultException.Gp(0);
        var cs = SegmentLoader.Read(state, csSelector, X86Vectors.GeneralProtection, false);
        uint csError = SegmentLoader.SelectorError(csSelector, false);
        if (!cs.IsCode || cs.Dpl > cpl) throw GuestFaultException.Gp(csError);
        if (longMode && (!cs.L || cs.Db)) throw GuestFaultException.Gp(csError);
        if (!call && !cs.IsConformingCode && cs.Dpl != cpl) throw GuestFaultException.Gp(csError);
        if (!cs.Present) throw GuestFaultException.Np(csError);

        int width = longMode ? 8 : gate.Type == SegmentDescriptor.TypeCallGate ? 4 : 2;
        ulong offset = longMode ? gate.GateOffset64 : width == 4 ? gate.GateOffset32 : gate.GateOffset32 & 0xFFFF;
        int newCpl = cpl;
        StackCursor stack;
        X86Segment? newSs = null;

        if (call && !cs.IsConformingCode && cs.Dpl < cpl)
        {
            newCpl = cs.Dpl;
            if (longMode)
            {
                ulong rsp = SegmentLoader.ReadLongTssStack(state, newCpl, 0, false);
                stack = StackCursor.For(state, default, rsp, newCpl, true, 0);
                stack.Push(state, sr.Ss.Selector, 8);
                stack.Push(state, regs.Rsp, 8);
                newSs = SegmentLoader.NullStack(newCpl);
            }
            else
            {
                var (ssSelector, sp) = SegmentLoader.ReadLegacyTssStack(state, newCpl, false);
                var ssDescriptor = SegmentLoader.CheckInnerStack(state, ssSelector, newCpl, false);
                stack = StackCursor.For(state, ssDescriptor.ToSegment(ssSelector), sp, newCpl, false,
                    SegmentLoader.SelectorError(ssSelector, false));
                stack.Push(state, sr.Ss.Selector, width);
                stack.Push(state, regs.Rsp, width);
                var oldStack = StackCursor.Current(state);
                for (int i = gate.GateParameterCount - 1; i >= 0; i--)
                    stack.Push(state, oldStack.Peek(state, (ulong)(i * width), width), width);
                newSs = SegmentLoader.Load(state, ssSelector, ssDescriptor);
            }
        }
        else if (longMode)
        {
            // The target is 64-bit code: the return address goes on the current stack as 64-bit pushes.
            stack = StackCursor.For(state, default, regs.Rsp, cpl, true, 0);
        }
        else
        {
            stack = StackCursor.Current(state);
        }
        if (call)
        {
            stack.Push(state, sr.Cs.Selector, width);
            stack.Push(state, next, width);
        }
        CheckTarget(cs, offset, longMode);

        // Commit.
        sr.Cs = SegmentLoader.Load(state, csSelector, cs);
        sr.Cs.Selector = (ushort)((csSelector & ~3) | newCpl);
        if (newSs is X86Segment ss) sr.Ss = ss;
        regs.Rsp = stack.Rsp;
        regs.Rip = offset;
    }

    private static void Return(X86EmulationState state, int operandSize, ushort release)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        var stack = StackCursor.Current(state);
        ulong newRip = Truncate(stack.Pop(state, operandSize), operandSize);
        ushort csSelector = (ushort)stack.Pop(state, operandSize);

        if (!state.ProtectedMode || state.Virtual8086)
        {
            if (newRip > sr.Cs.Limit) throw GuestFaultException.Gp(0);
            stack.Adjust(release);
            sr.Cs.Selector = csSelector;
            sr.Cs.Base = (ulong)csSelector << 4;
            regs.Rip = newRip;
            regs.Rsp = stack.Rsp;
            return;
        }

        int cpl = state.Cpl;
        var cs = SegmentLoader.CheckReturnCode(state, csSelector);
        int rpl = csSelector & 3;
        bool target64 = state.LongModeActive && cs.L;

        if (rpl == cpl)
        {
            CheckTarget(cs, newRip, target64);
            stack.Adjust(release);
            sr.Cs = SegmentLoader.Load(state, csSelector, cs);
            regs.Rip = newRip;
            regs.Rsp = stack.Rsp;
            return;
        }

        // Return to an outer privilege level.
        stack.Adjust(release);
        ulong poppedRsp = stack.Pop(state, operandSize);
        ushort ssSelector = (ushort)stack.Pop(state, operandSize);
        var ssDescriptor = SegmentLoader.CheckReturnStack(state, ssSelector, rpl, target64);
        X86Segment newSs = ssDescriptor is SegmentDescriptor d
            ? SegmentLoader.Load(state, ssSelector, d)
            : SegmentLoader.NullStack(rpl) with { Selector = ssSelector };
        CheckTarget(cs, newRip, target64);

        // Commit.
        sr.Cs = SegmentLoader.Load(state, csSelector, cs);
        sr.Ss = newSs;
        ulong rsp = operandSize switch
        {
            2 => (regs.Rsp & ~0xFFFFUL) | (poppedRsp & 0xFFFF),
            4 => poppedRsp & 0xFFFF_FFFF,
            _ => poppedRsp,
        };
        ulong mask = target64 ? ulong.MaxValue : newSs.Db != 0 ? 0xFFFF_FFFF : 0xFFFF;
        regs.Rsp = (rsp & ~mask) | ((rsp + release) & mask);
        regs.Rip = newRip;
        SegmentLoader.NullInaccessibleDataSegments(ref sr, rpl);
    }
}
