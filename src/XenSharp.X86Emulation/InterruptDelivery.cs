using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>Where an event comes from; decides EXT in error codes and the gate-DPL check.</summary>
public enum InterruptSource
{
    /// <summary>An external interrupt or NMI (EXT = 1, no DPL check).</summary>
    External,
    /// <summary>A processor-detected exception (EXT = 1, no DPL check).</summary>
    HardwareException,
    /// <summary>INT n (EXT = 0, gate DPL ≥ CPL required; IOPL-sensitive in virtual-8086 mode).</summary>
    SoftwareInterrupt,
    /// <summary>INT3 and INTO (EXT = 0, gate DPL ≥ CPL required).</summary>
    SoftwareException,
    /// <summary>INT1/ICEBP (EXT = 1, no DPL check).</summary>
    PrivilegedSoftwareException,
}

/// <summary>
/// Delivers an interrupt or exception through the IVT (real mode) or IDT (protected and long
/// mode), exactly as the processor does it (Intel SDM vol. 3 ch. 6, vol. 2 "INT n" pseudo-code;
/// AMD APM vol. 2 ch. 8). Used by INT n/INT3/INTO/INT1 and available for delivering faults.
///
/// Real mode: IVT entry vector×4 (limit checked against IDTR → #GP(0)); push FLAGS, CS, IP (16 bits);
/// clear IF, TF, AC, RF; CS:IP from the entry.
///
/// Protected mode: IDT entry vector×8 within the limit, else #GP(vector×8+2+EXT); only 16/32-bit
/// interrupt and trap gates are accepted (task gates → Unsupported, anything else → #GP(idt));
/// INT n/INT3/INTO need gate DPL ≥ CPL (#GP(vector×8+2)); a non-present gate → #NP(idt).
/// The gate's code selector: null → #GP(EXT); not code or DPL &gt; CPL → #GP(sel+EXT); not present
/// → #NP(sel+EXT). A non-conforming target with DPL &lt; CPL switches to the TSS stack of that level
/// (SS checks → #TS/#SS) and pushes SS, ESP first; from virtual-8086 mode the target must be DPL 0
/// and GS, FS, DS, ES are pushed before (and nulled after). Otherwise the handler runs on the current
/// stack (not allowed from virtual-8086 mode). Frame: [SS, ESP,] EFLAGS, CS, EIP, [error code] in the
/// gate's width. A target offset beyond the CS limit → #GP(EXT).
///
/// Long mode: 16-byte IDT entries (vector×16), only 64-bit interrupt/trap gates; the target must be
/// 64-bit code (L = 1, D = 0); the offset must be canonical (#GP(EXT)). New RSP: the TSS IST entry
/// when the gate has one, else RSPn of the TSS on a privilege change, else the current RSP; then
/// aligned down to 16. SS:RSP are always pushed, all entries 8 bytes; on a privilege change SS
/// becomes a null selector with RPL = new CPL.
///
/// Every path clears TF, NT, RF and VM; interrupt gates also clear IF. Registers are committed only
/// after all pushes succeeded, so a fault during delivery leaves them untouched (memory already
/// written stays written, as on hardware).
/// </summary>
public static class InterruptDelivery
{
    public static void Deliver(X86EmulationState state, byte vector, uint? errorCode, InterruptSource source, ulong returnRip)
    {
        bool ext = source is InterruptSource.External or InterruptSource.HardwareException or InterruptSource.PrivilegedSoftwareException;
        if (!state.ProtectedMode)
        {
            DeliverReal(state, vector, returnRip);
            return;
        }
        if (state.Virtual8086 && source == InterruptSource.SoftwareInterrupt && X86Flags.Iopl(state.Registers.Rflags) < 3)
        {
            if ((state.Special.Cr4 & X86Flags.Cr4Vme) != 0)
                throw new EmulationUnsupportedException("INT n in virtual-8086 mode with CR4.VME");
            throw GuestFaultException.Gp(0);
        }
        if (state.LongModeActive) DeliverLong(state, vector, errorCode, source, ext, returnRip);
        else DeliverProtected(state, vector, errorCode, source, ext, returnRip);
    }

    private static void DeliverReal(X86EmulationState state, byte vector, ulong returnRip)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        ulong entry = (ulong)vector * 4;
        if (entry + 3 > sr.Idt.Limit) throw GuestFaultException.Gp(0);
        uint ivt = (uint)LinearMemory.ReadUInt(state, sr.Idt.Base + entry, 4, PageAccess.Read);
        var stack = StackCursor.Current(state);
        stack.Push(state, regs.Rflags, 2);
        stack.Push(state, sr.Cs.Selector, 2);
        stack.Push(state, returnRip, 2);

        ushort selector = (ushort)(ivt >> 16);
        sr.Cs.Selector = selector;
        sr.Cs.Base = (ulong)selector << 4;
        regs.Rip = ivt & 0xFFFF;
        regs.Rsp = stack.Rsp;
        regs.Rflags &= ~(X86Flags.IF | X86Flags.TF | X86Flags.AC | X86Flags.RF);
    }

    private static void DeliverProtected(X86EmulationState state, byte vector, uint? errorCode, InterruptSource source, bool ext, ulong returnRip)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        int cpl = state.Cpl;
        uint idtError = (uint)vector * 8 + 2 + (ext ? 1u : 0);
        ulong entry = (ulong)vector * 8;
        if (entry + 7 > sr.Idt.Limit) throw GuestFaultException.Gp(idtError);
        var gate = new SegmentDescriptor(LinearMemory.ReadUInt(state, sr.Idt.Base + entry, 8, PageAccess.Implicit));
        if (!gate.S && gate.Type == SegmentDescriptor.TypeTaskGate)
            throw new EmulationUnsupportedException($"task gate in IDT entry {vector}");
        if (gate.S || gate.Type is not (SegmentDescriptor.TypeInterruptGate16 or SegmentDescriptor.TypeTrapGate16
                or SegmentDescriptor.TypeInterruptGate or SegmentDescriptor.TypeTrapGate))
            throw GuestFaultException.Gp(idtError);
        bool software = source is InterruptSource.SoftwareInterrupt or InterruptSource.SoftwareException;
        if (software && gate.Dpl < cpl) throw GuestFaultException.Gp((uint)vector * 8 + 2);
        if (!gate.Present) throw GuestFaultException.Np(idtError);

        var (csSelector, cs) = CheckTargetCode(state, gate.GateSelector, ext, cpl, longMode: false);
        bool gate32 = (gate.Type & 8) != 0;
        int size = gate32 ? 4 : 2;
        ulong offset = gate32 ? gate.GateOffset32 : gate.GateOffset32 & 0xFFFF;
        bool vm86 = state.Virtual8086;
        uint selectorError = SegmentLoader.SelectorError(csSelector, ext);
        ulong flags = regs.Rflags;
        int newCpl;
        StackCursor stack;
        X86Segment? newSs = null;

        if (!cs.IsConformingCode && cs.Dpl < cpl)
        {
            newCpl = cs.Dpl;
            if (vm86 && newCpl != 0) throw GuestFaultException.Gp(selectorError);
            var (ssSelector, sp) = SegmentLoader.ReadLegacyTssStack(state, newCpl, ext);
            var ssDescriptor = SegmentLoader.CheckInnerStack(state, ssSelector, newCpl, ext);
            var ss = ssDescriptor.ToSegment(ssSelector);
            stack = StackCursor.For(state, ss, sp, newCpl, false, SegmentLoader.SelectorError(ssSelector, ext));
            if (vm86)
            {
                stack.Push(state, sr.Gs.Selector, size);
                stack.Push(state, sr.Fs.Selector, size);
                stack.Push(state, sr.Ds.Selector, size);
                stack.Push(state, sr.Es.Selector, size);
            }
            stack.Push(state, sr.Ss.Selector, size);
            stack.Push(state, regs.Rsp, size);
            SegmentLoader.SetAccessed(state, ssSelector, ssDescriptor);
            newSs = SegmentLoader.Load(state, ssSelector, ssDescriptor);
        }
        else if (cs.IsConformingCode || cs.Dpl == cpl)
        {
            if (vm86) throw GuestFaultException.Gp(selectorError);
            newCpl = cpl;
            stack = StackCursor.Current(state);
            stack.FaultCode = ext ? 1u : 0;
        }
        else
        {
            throw GuestFaultException.Gp(selectorError);
        }

        stack.Push(state, flags, size);
        stack.Push(state, sr.Cs.Selector, size);
        stack.Push(state, returnRip, size);
        if (errorCode is uint code) stack.Push(state, code, size);
        if (offset > cs.Limit) throw GuestFaultException.Gp(ext ? 1u : 0);

        // Commit.
        ushort loadedSelector = (ushort)((csSelector & ~3) | newCpl);
        sr.Cs = SegmentLoader.Load(state, csSelector, cs);
        sr.Cs.Selector = loadedSelector;
        if (newSs is X86Segment ss2) sr.Ss = ss2;
        if (vm86)
        {
            sr.Es = SegmentRegisterExtensions.NullSegment(0);
            sr.Ds = SegmentRegisterExtensions.NullSegment(0);
            sr.Fs = SegmentRegisterExtensions.NullSegment(0);
            sr.Gs = SegmentRegisterExtensions.NullSegment(0);
        }
        regs.Rsp = stack.Rsp;
        regs.Rip = offset;
        regs.Rflags = ClearOnEntry(flags, gate.Type);
    }

    private static void DeliverLong(X86EmulationState state, byte vector, uint? errorCode, InterruptSource source, bool ext, ulong returnRip)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        int cpl = state.Cpl;
        uint idtError = (uint)vector * 8 + 2 + (ext ? 1u : 0);
        ulong entry = (ulong)vector * 16;
        if (entry + 15 > sr.Idt.Limit) throw GuestFaultException.Gp(idtError);
        ulong low = LinearMemory.ReadUInt(state, sr.Idt.Base + entry, 8, PageAccess.Implicit);
        ulong high = LinearMemory.ReadUInt(state, sr.Idt.Base + entry + 8, 8, PageAccess.Implicit);
        var gate = new SegmentDescriptor(low, high);
        if (gate.S || gate.Type is not (SegmentDescriptor.TypeInterruptGate or SegmentDescriptor.TypeTrapGate))
            throw GuestFaultException.Gp(idtError);
        bool software = source is InterruptSource.SoftwareInterrupt or InterruptSource.SoftwareException;
        if (software && gate.Dpl < cpl) throw GuestFaultException.Gp((uint)vector * 8 + 2);
        if (!gate.Present) throw GuestFaultException.Np(idtError);

        var (csSelector, cs) = CheckTargetCode(state, gate.GateSelector, ext, cpl, longMode: true);
        ulong target = gate.GateOffset64;
        if (!SegmentedAccess.IsCanonical(target)) throw GuestFaultException.Gp(ext ? 1u : 0);
        int newCpl = cs.IsConformingCode ? cpl : cs.Dpl;
        int ist = gate.InterruptStackTable;
        ulong rsp = ist != 0 ? SegmentLoader.ReadLongTssStack(state, newCpl, ist, ext)
            : newCpl < cpl ? SegmentLoader.ReadLongTssStack(state, newCpl, 0, ext)
            : regs.Rsp;
        rsp &= ~0xFUL;

        var stack = StackCursor.For(state, default, rsp, newCpl, true, ext ? 1u : 0);
        stack.Push(state, sr.Ss.Selector, 8);
        stack.Push(state, regs.Rsp, 8);
        stack.Push(state, regs.Rflags, 8);
        stack.Push(state, sr.Cs.Selector, 8);
        stack.Push(state, returnRip, 8);
        if (errorCode is uint code) stack.Push(state, code, 8);

        sr.Cs = SegmentLoader.Load(state, csSelector, cs);
        sr.Cs.Selector = (ushort)((csSelector & ~3) | newCpl);
        if (newCpl < cpl) sr.Ss = SegmentLoader.NullStack(newCpl);
        regs.Rsp = stack.Rsp;
        regs.Rip = target;
        regs.Rflags = ClearOnEntry(regs.Rflags, gate.Type);
    }

    /// <summary>Checks the code segment named by a gate: null → #GP(EXT); beyond table / not code / DPL &gt; CPL (/ not 64-bit in long mode) → #GP(sel+EXT); not present → #NP(sel+EXT).</summary>
    internal static (ushort Selector, SegmentDescriptor Descriptor) CheckTargetCode(X86EmulationState state, ushort selector, bool ext, int cpl, bool longMode)
    {
        if ((selector & 0xFFFC) == 0) throw GuestFaultException.Gp(ext ? 1u : 0);
        var cs = SegmentLoader.Read(state, selector, X86Vectors.GeneralProtection, ext);
        uint err = SegmentLoader.SelectorError(selector, ext);
        if (!cs.IsCode || cs.Dpl > cpl) throw GuestFaultException.Gp(err);
        if (longMode && (!cs.L || cs.Db)) throw GuestFaultException.Gp(err);
        if (!cs.Present) throw GuestFaultException.Np(err);
        return (selector, cs);
    }

    private static ulong ClearOnEntry(ulong flags, byte gateType)
    {
        flags &= ~(X86Flags.TF | X86Flags.NT | X86Flags.RF | X86Flags.VM);
        if ((gateType & 1) == 0) flags &= ~X86Flags.IF; // interrupt gates (types 6 and 14)
        return flags | X86Flags.Fixed1;
    }
}
