using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>
/// Descriptor-table reads and the protected-mode checks made when a control transfer loads CS or
/// SS (Intel SDM vol. 3 §5.5–5.8, vol. 2 IRET/RET/CALL/JMP/INT pseudo-code; AMD APM vol. 2 ch. 4).
///
/// Error codes: a selector fault reports <c>selector &amp; 0xFFFC</c> (index and TI) plus EXT (bit 0)
/// when an external event or exception is being delivered; a null selector reports 0 (+EXT).
/// Descriptor-table accesses are implicit supervisor accesses (SMAP applies regardless of AC).
/// The hidden parts loaded into a segment register are set Accessed in the descriptor (atomic OR
/// of bit 40), as the processor does.
/// </summary>
public static class SegmentLoader
{
    public static uint SelectorError(ushort selector, bool ext) => (uint)(selector & 0xFFFC) | (ext ? 1u : 0);

    /// <summary>Linear address of a selector's descriptor, or false if it lies beyond the GDT/LDT limit (or the LDT is null).</summary>
    public static bool TryLocate(X86EmulationState state, ushort selector, int size, out ulong linear)
    {
        ref var sr = ref state.Special;
        ulong tableBase; ulong tableLimit;
        if ((selector & 4) != 0)
        {
            if (sr.Ldt.Unusable != 0 || sr.Ldt.Present == 0 || (sr.Ldt.Selector & 0xFFFC) == 0) { linear = 0; return false; }
            tableBase = sr.Ldt.Base; tableLimit = sr.Ldt.Limit;
        }
        else
        {
            tableBase = sr.Gdt.Base; tableLimit = sr.Gdt.Limit;
        }
        ulong offset = (ulong)(selector & 0xFFF8);
        linear = tableBase + offset;
        return offset + (ulong)size - 1 <= tableLimit;
    }

    /// <summary>Reads the descriptor, or returns false if the selector lies beyond its table's limit.</summary>
    public static bool TryRead(X86EmulationState state, ushort selector, out SegmentDescriptor descriptor, bool sixteenBytes = false)
    {
        if (!TryLocate(state, selector, sixteenBytes ? 16 : 8, out ulong linear)) { descriptor = default; return false; }
        ulong low = LinearMemory.ReadUInt(state, linear, 8, PageAccess.Implicit);
        ulong high = sixteenBytes ? LinearMemory.ReadUInt(state, linear + 8, 8, PageAccess.Implicit) : 0;
        descriptor = new SegmentDescriptor(low, high);
        return true;
    }

    /// <summary>Reads a descriptor; beyond the limit → <paramref name="faultVector"/>(selector + EXT).</summary>
    public static SegmentDescriptor Read(X86EmulationState state, ushort selector, byte faultVector, bool ext, bool sixteenBytes = false)
    {
        if (!TryRead(state, selector, out var d, sixteenBytes))
            throw new GuestFaultException(new PendingException(faultVector, true, SelectorError(selector, ext)));
        return d;
    }

    /// <summary>Whether a system descriptor type needs 16 bytes (everything but code/data in long mode).</summary>
    public static bool IsLongSystem(X86EmulationState state, SegmentDescriptor d) => state.LongModeActive && !d.S;

    /// <summary>Sets the Accessed bit (type bit 0) of a code/data descriptor if clear.</summary>
    public static void SetAccessed(X86EmulationState state, ushort selector, SegmentDescriptor descriptor)
    {
        if (!descriptor.S || (descriptor.Type & 1) != 0) return;
        if (!TryLocate(state, selector, 8, out ulong linear)) return;
        if (LinearMemory.TryGetWritableSpan(state, linear + 5, 1, PageAccess.Implicit, out var span))
            span[0] |= 1; // byte 5 holds the type; one-byte store is atomic.
    }

    /// <summary>Sets the Busy bit (type bit 1) in a TSS descriptor.</summary>
    public static void SetTssBusy(X86EmulationState state, ushort selector)
    {
        if (!TryLocate(state, selector, 8, out ulong linear)) return;
        if (LinearMemory.TryGetWritableSpan(state, linear + 5, 1, PageAccess.Implicit, out var span))
            span[0] |= 2;
    }

    /// <summary>
    /// CS for a return to <c>RPL(selector)</c> (IRET, RETF): null → #GP(0); beyond the table → #GP(sel);
    /// not code → #GP(sel); RPL &lt; CPL → #GP(sel); conforming with DPL &gt; RPL, or non-conforming with
    /// DPL ≠ RPL → #GP(sel); in long mode L and D both set → #GP(sel); not present → #NP(sel).
    /// </summary>
    public static SegmentDescriptor CheckReturnCode(X86EmulationState state, ushort selector)
    {
        if ((selector & 0xFFFC) == 0) throw GuestFaultException.Gp(0);
        var d = Read(state, selector, X86Vectors.GeneralProtection, false);
        int rpl = selector & 3;
        uint err = SelectorError(selector, false);
        if (!d.IsCode) throw GuestFaultException.Gp(err);
        if (rpl < state.Cpl) throw GuestFaultException.Gp(err);
        if (d.IsConformingCode ? d.Dpl > rpl : d.Dpl != rpl) throw GuestFaultException.Gp(err);
        if (state.LongModeActive && d.L && d.Db) throw GuestFaultException.Gp(err);
        if (!d.Present) throw GuestFaultException.Np(err);
        return d;
    }

    /// <summary>
    /// SS for a return to outer privilege <paramref name="rpl"/>: null → #GP(0) (allowed in 64-bit
    /// mode when returning to 64-bit code at RPL &lt; 3: the result is returned as null);
    /// RPL ≠ <paramref name="rpl"/>, not writable data or DPL ≠ <paramref name="rpl"/> → #GP(sel); not present → #SS(sel).
    /// </summary>
    public static SegmentDescriptor? CheckReturnStack(X86EmulationState state, ushort selector, int rpl, bool targetIs64Bit)
    {
        if ((selector & 0xFFFC) == 0)
        {
            if (state.Is64BitMode && targetIs64Bit && rpl != 3 && (selector & 3) == rpl) return null;
            throw GuestFaultException.Gp(0);
        }
        uint err = SelectorError(selector, false);
        var d = Read(state, selector, X86Vectors.GeneralProtection, false);
        if ((selector & 3) != rpl || !d.IsWritableData || d.Dpl != rpl) throw GuestFaultException.Gp(err);
        if (!d.Present) throw GuestFaultException.Ss(err);
        return d;
    }

    /// <summary>
    /// SS:ESP taken from the TSS for an inner privilege level (interrupt, call gate): null → #TS(EXT);
    /// beyond the table → #TS(sel+EXT); RPL ≠ DPL of target, not writable data, DPL ≠ target → #TS(sel+EXT);
    /// not present → #SS(sel+EXT).
    /// </summary>
    public static SegmentDescriptor CheckInnerStack(X86EmulationState state, ushort selector, int newCpl, bool ext)
    {
        uint err = SelectorError(selector, ext);
        if ((selector & 0xFFFC) == 0) throw GuestFaultException.Ts(ext ? 1u : 0);
        var d = Read(state, selector, X86Vectors.InvalidTss, ext);
        if ((selector & 3) != newCpl || !d.IsWritableData || d.Dpl != newCpl) throw GuestFaultException.Ts(err);
        if (!d.Present) throw GuestFaultException.Ss(err);
        return d;
    }

    /// <summary>
    /// Reads stack pointer and selector for privilege <paramref name="level"/> from the current TSS
    /// (32-bit TSS: ESPn at 4+8n, SSn at 8+8n; 16-bit TSS: SPn at 2+4n, SSn at 4+4n). Beyond TR's limit → #TS(TR+EXT).
    /// </summary>
    public static (ushort Ss, ulong Sp) ReadLegacyTssStack(X86EmulationState state, int level, bool ext)
    {
        ref var tr = ref state.Special.Tr;
        bool is32 = (tr.Type & 8) != 0;
        uint spOffset = is32 ? (uint)(4 + 8 * level) : (uint)(2 + 4 * level);
        uint ssOffset = is32 ? spOffset + 4 : spOffset + 2;
        int spSize = is32 ? 4 : 2;
        if (tr.Unusable != 0 || ssOffset + 1 > tr.Limit) throw GuestFaultException.Ts(SelectorError(tr.Selector, ext));
        ulong sp = LinearMemory.ReadUInt(state, tr.Base + spOffset, spSize, PageAccess.Implicit);
        ushort ss = (ushort)LinearMemory.ReadUInt(state, tr.Base + ssOffset, 2, PageAccess.Implicit);
        return (ss, sp);
    }

    /// <summary>
    /// Reads a stack pointer from the 64-bit TSS: RSPn at 4+8n (<paramref name="ist"/> = 0) or ISTn at 36+8(n−1).
    /// Beyond TR's limit → #TS(TR+EXT).
    /// </summary>
    public static ulong ReadLongTssStack(X86EmulationState state, int level, int ist, bool ext)
    {
        ref var tr = ref state.Special.Tr;
        uint offset = ist != 0 ? (uint)(36 + 8 * (ist - 1)) : (uint)(4 + 8 * level);
        if (tr.Unusable != 0 || offset + 7 > tr.Limit) throw GuestFaultException.Ts(SelectorError(tr.Selector, ext));
        return LinearMemory.ReadUInt(state, tr.Base + offset, 8, PageAccess.Implicit);
    }

    /// <summary>
    /// After a return to an outer privilege: ES, DS, FS and GS that hold data or non-conforming code
    /// with DPL &lt; new CPL are loaded with a null selector (SDM IRET/RET pseudo-code).
    /// </summary>
    public static void NullInaccessibleDataSegments(ref X86SpecialRegisters sr, int newCpl)
    {
        Fix(ref sr.Es, newCpl); Fix(ref sr.Ds, newCpl); Fix(ref sr.Fs, newCpl); Fix(ref sr.Gs, newCpl);

        static void Fix(ref X86Segment seg, int cpl)
        {
            if (seg.Unusable != 0 && (seg.Selector & 0xFFFC) == 0) return;
            bool dataOrNonConforming = (seg.Type & 8) == 0 || (seg.Type & 4) == 0;
            if (seg.S != 0 && dataOrNonConforming && seg.Dpl < cpl)
                seg = SegmentRegisterExtensions.NullSegment(0);
        }
    }

    /// <summary>The hidden parts of CS/SS after a load: the descriptor with the selector's RPL as given.</summary>
    public static X86Segment Load(X86EmulationState state, ushort selector, SegmentDescriptor d)
    {
        SetAccessed(state, selector, d);
        var seg = d.ToSegment(selector);
        seg.Type |= 1;
        return seg;
    }

    /// <summary>
    /// A null SS in 64-bit mode for privilege <paramref name="cpl"/> (interrupts, far calls, IRETQ).
    /// It is kept usable (present flat writable data, DPL = CPL) rather than marked unusable: KVM
    /// derives CPL from SS.DPL and drops the attributes of an unusable segment, and in 64-bit mode
    /// the base, limit and type of SS are not used anyway.
    /// </summary>
    public static X86Segment NullStack(int cpl) => new()
    {
        Selector = (ushort)cpl, Base = 0, Limit = 0xFFFF_FFFF, Unusable = 0, Dpl = (byte)cpl, Db = 1, S = 1, G = 1,
        Type = 3, Present = 1,
    };
}
