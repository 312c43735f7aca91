using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// IRET / IRETD / IRETQ (Intel SDM vol. 2 "IRET/IRETD/IRETQ", AMD APM vol. 3 "IRET").
///
/// <list type="bullet">
/// <item>Real mode: pop IP, CS, FLAGS in the operand size (EIP beyond CS limit → #GP(0)); a 16-bit
///   IRET replaces FLAGS[15:0]; a 32-bit one keeps VM, VIF and VIP and takes the status flags, IF,
///   IOPL, NT, RF, AC and ID from the image.</item>
/// <item>Virtual-8086 mode: with IOPL = 3 like real mode but IOPL is kept; with IOPL &lt; 3 → #GP(0)
///   (CR4.VME's virtual-interrupt IRET is Unsupported).</item>
/// <item>Protected mode with NT = 1: a task return → Unsupported (in long mode → #GP(0)).</item>
/// <item>Protected mode: pop EIP, CS, EFLAGS. If the image has VM = 1 and CPL = 0 (32-bit operand, not
///   long mode): return to virtual-8086 mode, popping ESP, SS, ES, DS, FS, GS too; CPL becomes 3.
///   Else CS is checked by <see cref="SegmentLoader.CheckReturnCode"/>. If RPL(CS) &gt; CPL, or always in
///   64-bit mode, SS:ESP are popped and SS checked (<see cref="SegmentLoader.CheckReturnStack"/>).
///   The new RIP must be canonical (64-bit target) or within the CS limit → #GP(0). On an outer
///   return ES/DS/FS/GS that the new CPL may not use are nulled.</item>
/// <item>EFLAGS: the status flags, NT, RF, AC, ID always (AC/ID/RF only with a 32/64-bit operand);
///   IF only when CPL ≤ IOPL; IOPL, VIF and VIP only at CPL 0; VM is never set on this path. A 16-bit
///   IRET changes only bits 15:0.</item>
/// <item>Every successful IRET ends NMI blocking.</item>
/// </list>
/// All checks happen before anything is committed: a fault leaves the registers as they were.
/// </summary>
internal static class Iret
{
    private const ulong RealMode32Mask = X86Flags.Status | X86Flags.IF | X86Flags.IOPL | X86Flags.NT | X86Flags.RF | X86Flags.AC | X86Flags.ID;

    public static void Execute(X86EmulationState state, int operandSize)
    {
        ref var regs = ref state.Registers;
        ref var sr = ref state.Special;

        if (!state.ProtectedMode || state.Virtual8086)
        {
            ReturnRealOrVm86(state, operandSize);
            state.NmiBlocked = false;
            return;
        }
        if ((regs.Rflags & X86Flags.NT) != 0)
        {
            if (state.LongModeActive) throw GuestFaultException.Gp(0);
            throw new EmulationUnsupportedException("IRET with NT=1 (task return)");
        }

        int cpl = state.Cpl;
        var stack = StackCursor.Current(state);
        ulong newRip = stack.Pop(state, operandSize);
        ushort csSelector = (ushort)stack.Pop(state, operandSize);
        ulong image = stack.Pop(state, operandSize);

        if ((image & X86Flags.VM) != 0 && cpl == 0 && operandSize == 4 && !state.LongModeActive)
        {
            ReturnToVm86(state, ref stack, (uint)newRip, csSelector, (uint)image);
            state.NmiBlocked = false;
            return;
        }

        var cs = SegmentLoader.CheckReturnCode(state, csSelector);
        int rpl = csSelector & 3;
        bool target64 = state.LongModeActive && cs.L;
        bool popStack = rpl > cpl || state.Is64BitMode;
        X86Segment? newSs = null;
        ulong newRsp = 0;
        if (popStack)
        {
            newRsp = stack.Pop(state, operandSize);
            ushort ssSelector = (ushort)stack.Pop(state, operandSize);
            var ssDescriptor = SegmentLoader.CheckReturnStack(state, ssSelector, rpl, target64);
            if (ssDescriptor is SegmentDescriptor d)
                newSs = SegmentLoader.Load(state, ssSelector, d);
            else
                newSs = SegmentLoader.NullStack(rpl) with { Selector = ssSelector };
        }

        if (operandSize == 2) newRip &= 0xFFFF;
        if (target64)
        {
            if (!SegmentedAccess.IsCanonical(newRip)) throw GuestFaultException.Gp(0);
        }
        else
        {
            newRip &= 0xFFFF_FFFF;
            if (newRip > cs.Limit) throw GuestFaultException.Gp(0);
        }

        // Commit.
        regs.Rflags = MergeFlags(regs.Rflags, image, operandSize, cpl);
        regs.Rip = newRip;
        sr.Cs = SegmentLoader.Load(state, csSelector, cs);
        if (newSs is X86Segment ss)
        {
            sr.Ss = ss;
            if (operandSize == 2 || (!state.LongModeActive && ss.Db == 0 && operandSize != 8))
                regs.Rsp = (regs.Rsp & ~0xFFFFUL) | (newRsp & 0xFFFF);
            else
                regs.Rsp = operandSize == 4 ? newRsp & 0xFFFF_FFFF : newRsp;
            if (rpl > cpl) SegmentLoader.NullInaccessibleDataSegments(ref sr, rpl);
        }
        else
        {
            regs.Rsp = stack.Rsp;
        }
        state.NmiBlocked = false;
    }

    /// <summary>The EFLAGS an IRET/POPF image produces in protected mode at privilege <paramref name="cpl"/>.</summary>
    internal static ulong MergeFlags(ulong current, ulong image, int operandSize, int cpl)
    {
        ulong changeable = X86Flags.Status | X86Flags.NT;
        if (operandSize >= 4) changeable |= X86Flags.RF | X86Flags.AC | X86Flags.ID;
        if (cpl <= X86Flags.Iopl(current)) changeable |= X86Flags.IF;
        if (cpl == 0)
        {
            changeable |= X86Flags.IOPL;
            if (operandSize >= 4) changeable |= X86Flags.VIF | X86Flags.VIP;
        }
        if (operandSize == 2) changeable &= 0xFFFF;
        return (current & ~changeable) | (image & changeable) | X86Flags.Fixed1;
    }

    private static void ReturnRealOrVm86(X86EmulationState state, int operandSize)
    {
        ref var regs = ref state.Registers;
        ref var sr = ref state.Special;
        bool vm86 = state.Virtual8086;
        if (vm86 && X86Flags.Iopl(regs.Rflags) < 3)
        {
            if ((sr.Cr4 & X86Flags.Cr4Vme) != 0 && operandSize == 2)
                throw new EmulationUnsupportedException("IRET in virtual-8086 mode with CR4.VME (virtual interrupt flag)");
            throw GuestFaultException.Gp(0);
        }
        var stack = StackCursor.Current(state);
        ulong newIp = stack.Pop(state, operandSize);
        ushort selector = (ushort)stack.Pop(state, operandSize);
        ulong image = stack.Pop(state, operandSize);
        if (operandSize == 4 && newIp > 0xFFFF && (vm86 || newIp > sr.Cs.Limit)) throw GuestFaultException.Gp(0);

        ulong flags = regs.Rflags;
        ulong mask = operandSize == 2 ? 0xFFFF : RealMode32Mask;
        if (vm86) mask &= ~X86Flags.IOPL;
        flags = (flags & ~mask) | (image & mask) | X86Flags.Fixed1;

        regs.Rflags = flags;
        regs.Rip = operandSize == 2 ? newIp & 0xFFFF : newIp & 0xFFFF_FFFF;
        regs.Rsp = stack.Rsp;
        sr.Cs.Selector = selector;
        sr.Cs.Base = (ulong)selector << 4;
    }

    private static void ReturnToVm86(X86EmulationState state, ref StackCursor stack, uint eip, ushort cs, uint image)
    {
        ref var regs = ref state.Registers;
        ref var sr = ref state.Special;
        uint esp = (uint)stack.Pop(state, 4);
        ushort ss = (ushort)stack.Pop(state, 4);
        ushort es = (ushort)stack.Pop(state, 4);
        ushort ds = (ushort)stack.Pop(state, 4);
        ushort fs = (ushort)stack.Pop(state, 4);
        ushort gs = (ushort)stack.Pop(state, 4);

        regs.Rflags = ((ulong)image & 0x3F_7FD5UL) | X86Flags.Fixed1 | X86Flags.VM;
        regs.Rip = eip & 0xFFFF;
        regs.Rsp = esp;
        sr.Cs = SegmentRegisterExtensions.RealModeSegment(cs, false, 3);
        sr.Ss = SegmentRegisterExtensions.RealModeSegment(ss, false, 3);
        sr.Es = SegmentRegisterExtensions.RealModeSegment(es, false, 3);
        sr.Ds = SegmentRegisterExtensions.RealModeSegment(ds, false, 3);
        sr.Fs = SegmentRegisterExtensions.RealModeSegment(fs, false, 3);
        sr.Gs = SegmentRegisterExtensions.RealModeSegment(gs, false, 3);
    }
}
