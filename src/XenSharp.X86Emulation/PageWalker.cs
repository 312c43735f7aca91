using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XenSharp.X86Emulation;

/// <summary>What a linear access is, for the page-walk permission checks.</summary>
[Flags]
public enum PageAccess
{
    Read = 0,
    Write = 1,
    Execute = 2,
    /// <summary>A user-mode access (CPL 3 and not an implicit supervisor access).</summary>
    User = 4,
    /// <summary>An implicit supervisor access (GDT/LDT/IDT/TSS): SMAP applies whatever RFLAGS.AC says.</summary>
    Implicit = 8,
}

/// <summary>
/// Linear → guest-physical translation, as the MMU does it.
///
/// Algorithm (Intel SDM vol. 3 ch. 4, AMD APM vol. 2 ch. 5):
/// <list type="bullet">
/// <item>CR0.PG = 0: physical = linear (32 bits outside long mode).</item>
/// <item>32-bit paging (CR4.PAE = 0): CR3[31:12] → PDE (linear[31:22]) → PTE (linear[21:12]); a PDE with
///   PS = 1 and CR4.PSE = 1 maps 4 MiB, its bits 20:13 giving physical bits 39:32 (PSE-36), bit 21 reserved.</item>
/// <item>PAE (CR4.PAE = 1, EFER.LMA = 0): CR3[31:5] → 4 PDPTEs (linear[31:30]) → PD (PS → 2 MiB) → PT.
///   The PDPTEs are read from memory on every walk (hardware caches them at MOV CR3; a guest that
///   changes them without reloading CR3 sees the new values here — harmless for a retried instruction).</item>
/// <item>4-level (EFER.LMA = 1): CR3[51:12] → PML4 → PDPT (PS → 1 GiB) → PD (PS → 2 MiB) → PT. CR4.LA57
///   (5-level) is reported Unsupported.</item>
/// </list>
/// Permissions are combined over all levels: writable only if every level has R/W, user only if
/// every level has U/S, no-execute if any level has XD (when EFER.NXE). Then: a user access needs a
/// user page, and R/W for a write; a supervisor write needs R/W when CR0.WP = 1; a fetch faults on XD,
/// and on a user page at CPL &lt; 3 with CR4.SMEP; a supervisor data access to a user page faults
/// with CR4.SMAP when it is implicit or RFLAGS.AC = 0. Protection keys are not modelled.
/// A not-present entry gives #PF with P = 0; a reserved bit set gives P = 1 and RSVD; a permission
/// failure gives P = 1; W/R, U/S and I/D (fetch, when NXE or SMEP is on) describe the access. CR2 = linear.
/// On success the Accessed bit is set in every entry used and Dirty in the leaf for a write, each
/// with an atomic OR (other vCPUs may be using the same tables). No bits are set on a fault.
///
/// A paging-structure entry outside guest memory is not something the guest could have meant; the
/// walker throws <see cref="EmulationUnsupportedException"/> (the caller stops the vCPU) rather than
/// inventing a #PF or reading anywhere but guest memory.
/// </summary>
public static class PageWalker
{
    public const uint ErrPresent = 1, ErrWrite = 2, ErrUser = 4, ErrReserved = 8, ErrFetch = 16;

    private const ulong P = 1, RW = 2, US = 4, A = 1 << 5, D = 1 << 6, PS = 1 << 7, XD = 1UL << 63;

    /// <summary>Translates, or returns false with the #PF to raise. Throws <see cref="EmulationUnsupportedException"/> for tables outside guest memory.</summary>
    public static bool TryTranslate(X86EmulationState state, ulong linear, PageAccess access, out ulong physical, out PendingException fault)
    {
        ref var sr = ref state.Special;
        fault = default;
        if ((sr.Cr0 & X86Flags.Cr0Pg) == 0)
        {
            physical = state.LongModeActive ? linear : linear & 0xFFFF_FFFF;
            return true;
        }
        if ((sr.Cr4 & X86Flags.Cr4Pae) == 0)
            return Walk32(state, (uint)linear, access, out physical, out fault);
        if (state.LongModeActive && (sr.Cr4 & X86Flags.Cr4La57) != 0)
            throw new EmulationUnsupportedException("5-level paging (CR4.LA57)");
        return Walk64(state, linear, access, out physical, out fault);
    }

    private static bool Walk32(X86EmulationState state, uint linear, PageAccess access, out ulong physical, out PendingException fault)
    {
        ref var sr = ref state.Special;
        ulong pdeAddress = (sr.Cr3 & 0xFFFF_F000) + ((linear >> 22) << 2);
        uint pde = Read32(state, pdeAddress);
        physical = 0;
        if ((pde & P) == 0) { fault = MakeFault(state, linear, access, 0); return false; }

        bool rw, us;
        if ((pde & PS) != 0 && (sr.Cr4 & X86Flags.Cr4Pse) != 0)
        {
            ulong high = (ulong)((pde >> 13) & 0xFF) << 32;
            bool reserved = (pde & (1u << 21)) != 0 || (state.MaxPhysicalAddressBits < 40 && high >> state.MaxPhysicalAddressBits != 0);
            if (reserved) { fault = MakeFault(state, linear, access, ErrPresent | ErrReserved); return false; }
            rw = (pde & RW) != 0; us = (pde & US) != 0;
            if (!Permitted(state, access, rw, us, xd: false)) { fault = MakeFault(state, linear, access, ErrPresent); return false; }
            physical = (pde & 0xFFC0_0000u) | high | (linear & 0x3F_FFFF);
            SetBits32(state, pdeAddress, (uint)(A | ((access & PageAccess.Write) != 0 ? D : 0)));
            fault = default;
            return true;
        }

        ulong pteAddress = (pde & 0xFFFF_F000u) + (((linear >> 12) & 0x3FF) << 2);
        uint pte = Read32(state, pteAddress);
        if ((pte & P) == 0) { fault = MakeFault(state, linear, access, 0); return false; }
        rw = (pde & pte & RW) != 0; us = (pde & pte & US) != 0;
        if (!Permitted(state, access, rw, us, xd: false)) { fault = MakeFault(state, linear, access, ErrPresent); return false; }
        SetBits32(state, pdeAddress, (uint)A);
        SetBits32(state, pteAddress, (uint)(A | ((access & PageAccess.Write) != 0 ? D : 0)));
        physical = (pte & 0xFFFF_F000u) | (linear & 0xFFF);
        fault = default;
        return true;
    }

    private static bool Walk64(X86EmulationState state, ulong linear, PageAccess access, out ulong physical, out PendingException fault)
    {
        ref var sr = ref state.Special;
        bool longMode = state.LongModeActive;
        bool nxe = (sr.Efer & X86Flags.EferNxe) != 0;
        int maxPhys = Math.Clamp(state.MaxPhysicalAddressBits, 32, 52);
        ulong addressMask = ((1UL << maxPhys) - 1) & ~0xFFFUL;
        ulong aboveMaxPhys = ((1UL << 52) - 1) & ~((1UL << maxPhys) - 1);
        ulong xdReserved = nxe ? 0 : XD;
        if (!longMode) linear &= 0xFFFF_FFFF;

        Span<ulong> used = stackalloc ulong[4];
        int count = 0;
        bool rw = true, us = true, xd = false;
        ulong table;
        int level; // 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT

        if (longMode)
        {
            table = sr.Cr3 & addressMask;
            level = 4;
        }
        else
        {
            ulong pdpteAddress = (sr.Cr3 & 0xFFFF_FFE0) + (((linear >> 30) & 3) << 3);
            ulong pdpte = Read64(state, pdpteAddress);
            if ((pdpte & P) == 0) { physical = 0; fault = MakeFault(state, linear, access, 0); return false; }
            // PAE PDPTE: bits 1, 2, 5-8 and 63 are reserved, as are address bits above MAXPHYADDR.
            if ((pdpte & (0x1E6UL | XD | aboveMaxPhys)) != 0) { physical = 0; fault = MakeFault(state, linear, access, ErrPresent | ErrReserved); return false; }
            table = pdpte & addressMask;
            level = 2;
        }

        while (true)
        {
            int shift = 12 + 9 * (level - 1);
            ulong entryAddress = table + (((linear >> shift) & 0x1FF) << 3);
            ulong entry = Read64(state, entryAddress);
            used[count++] = entryAddress;
            if ((entry & P) == 0) { physical = 0; fault = MakeFault(state, linear, access, 0); return false; }

            bool large = level is 2 or 3 && (entry & PS) != 0;
            ulong reserved = aboveMaxPhys | xdReserved;
            if (level == 4) reserved |= PS;
            if (large) reserved |= level == 3 ? 0x3FFF_E000UL : 0x1F_E000UL; // between PAT (bit 12) and the frame
            if ((entry & reserved) != 0) { physical = 0; fault = MakeFault(state, linear, access, ErrPresent | ErrReserved); return false; }

            rw &= (entry & RW) != 0;
            us &= (entry & US) != 0;
            xd |= nxe && (entry & XD) != 0;

            if (level == 1 || large)
            {
                if (!Permitted(state, access, rw, us, xd)) { physical = 0; fault = MakeFault(state, linear, access, ErrPresent); return false; }
                ulong pageMask = (1UL << shift) - 1;
                physical = (entry & addressMask & ~pageMask) | (linear & pageMask);
                for (int i = 0; i < count - 1; i++) SetBits64(state, used[i], A);
                SetBits64(state, entryAddress, A | ((access & PageAccess.Write) != 0 ? D : 0));
                fault = default;
                return true;
            }
            table = entry & addressMask;
            level--;
        }
    }

    private static bool Permitted(X86EmulationState state, PageAccess access, bool rw, bool us, bool xd)
    {
        ref var sr = ref state.Special;
        bool user = (access & PageAccess.User) != 0;
        bool write = (access & PageAccess.Write) != 0;
        bool fetch = (access & PageAccess.Execute) != 0;
        if (user && !us) return false;
        if (write && !rw && (user || (sr.Cr0 & X86Flags.Cr0Wp) != 0)) return false;
        if (fetch)
        {
            if (xd) return false;
            if (!user && us && (sr.Cr4 & X86Flags.Cr4Smep) != 0) return false;
        }
        else if (!user && us && (sr.Cr4 & X86Flags.Cr4Smap) != 0
                 && ((access & PageAccess.Implicit) != 0 || (state.Registers.Rflags & X86Flags.AC) == 0))
        {
            return false;
        }
        return true;
    }

    private static PendingException MakeFault(X86EmulationState state, ulong linear, PageAccess access, uint bits)
    {
        ref var sr = ref state.Special;
        if ((access & PageAccess.Write) != 0) bits |= ErrWrite;
        if ((access & PageAccess.User) != 0) bits |= ErrUser;
        bool pae = (sr.Cr4 & X86Flags.Cr4Pae) != 0;
        if ((access & PageAccess.Execute) != 0
            && ((sr.Cr4 & X86Flags.Cr4Smep) != 0 || (pae && (sr.Efer & X86Flags.EferNxe) != 0)))
            bits |= ErrFetch;
        return PendingException.Pf(bits, linear);
    }

    private static uint Read32(X86EmulationState state, ulong address) =>
        state.Memory.TryRead(address, out uint v) ? v : throw OutsideMemory(address);

    private static ulong Read64(X86EmulationState state, ulong address) =>
        state.Memory.TryRead(address, out ulong v) ? v : throw OutsideMemory(address);

    private static void SetBits32(X86EmulationState state, ulong address, uint bits)
    {
        if (!state.Memory.TryGetSpan(address, 4, out var span)) throw OutsideMemory(address);
        ref int cell = ref Unsafe.As<byte, int>(ref MemoryMarshal.GetReference(span));
        if (((uint)cell & bits) != bits) Interlocked.Or(ref cell, (int)bits);
    }

    private static void SetBits64(X86EmulationState state, ulong address, ulong bits)
    {
        if (!state.Memory.TryGetSpan(address, 8, out var span)) throw OutsideMemory(address);
        ref long cell = ref Unsafe.As<byte, long>(ref MemoryMarshal.GetReference(span));
        if (((ulong)cell & bits) != bits) Interlocked.Or(ref cell, (long)bits);
    }

    private static EmulationUnsupportedException OutsideMemory(ulong address) =>
        new($"paging-structure entry at guest-physical 0x{address:x} is outside guest memory");
}
