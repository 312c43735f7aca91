using System.Runtime.CompilerServices;

namespace XenSharp.Arm64;

/// <summary>
/// Stage-1 translation (EL1&amp;0 regime, 4 KiB granule, TTBR0/TTBR1 split by VA bit 55,
/// T0SZ/T1SZ input sizes 25..16 bits i.e. 39- to 48-bit VAs, TBI, hierarchical APTable/XNTable
/// limits, AF fault, AP/UXN/PXN permissions) and the software TLB.
///
/// The TLB is direct-mapped by virtual page. An entry holds the physical page, the host pointer
/// when the page is RAM, and the permissions for both ELs, so it stays valid across EL changes;
/// it is flushed whole by TLBI, and by writes to SCTLR/TCR/TTBRx/MAIR (ASIDs are not modelled).
/// Beside it, filled from it, the fast TLB the hot paths (and translated code) use: per slot and
/// per privilege (EL0 view, EL1 view) a read, a write and an execute tag — the virtual page number
/// when that access is allowed and the page is RAM, else all ones — and the host addend (host
/// address minus virtual address). A load of n bytes at va hits when the read tag of va's slot equals
/// (va + n − 1) >> 12, which also rules out an access crossing into the next page.
/// Physical addresses outside RAM are MMIO: the access stops Run (<see cref="Arm64Stop.Mmio"/>).
/// Unaligned accesses are allowed (SCTLR.A is not modelled) except where the architecture
/// requires alignment (exclusives, acquire/release, atomics): those raise an alignment fault.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private enum Access { Read, Write, Fetch }

    private const byte TlbR0 = 1, TlbW0 = 2, TlbX0 = 4, TlbR1 = 8, TlbW1 = 16, TlbX1 = 32, TlbRam = 64;
    private const int TlbBits = 10;

    private struct TlbEntry
    {
        public ulong Tag;
        public ulong PhysPage;
        public nint Host;
        public byte Perms;
        public byte Level;
    }

    private const int TlbSize = 1 << TlbBits, TlbMask = TlbSize - 1;

    private readonly TlbEntry[] _tlb = new TlbEntry[1 << TlbBits];

    /// <summary>One slot of the fast TLB (32 bytes; translated code reads it at these offsets).</summary>
    private struct FastTlbEntry
    {
        public ulong ReadTag;   // +0
        public ulong WriteTag;  // +8
        public long Addend;     // +16: host address − virtual address
        public ulong ExecTag;   // +24
    }

    /// <summary>In the pinned hot block (at <see cref="HotTlb"/>): [0, TlbSize) is the EL0 view, [TlbSize, 2·TlbSize) the EL1 view.</summary>
    private readonly FastTlbEntry* _fastTlb;

    // ---- MMU registers (the CPU owns them)
    private ulong _sctlr, _tcr, _ttbr0, _ttbr1, _mair, _vbar, _esr, _far, _elr, _par, _cpacr, _contextidr;
    private ulong _tpidrEl0, _tpidrEl1, _tpidrroEl0, _amair, _afsr0, _afsr1, _mdscr;
    private uint _spsr;

    // ---- Fault being raised
    private uint _faultEc, _faultIss;
    private ulong _faultFar;
    private bool _faultHasFar;

    public void FlushTlb()
    {
        for (int i = 0; i < _tlb.Length; i++) _tlb[i].Tag = ulong.MaxValue;
        for (int i = 0; i < 2 * TlbSize; i++) _fastTlb[i].ReadTag = _fastTlb[i].WriteTag = _fastTlb[i].ExecTag = ulong.MaxValue;
        InvalidateFetch();
    }

    /// <summary>Refills both views of fast-TLB slot <paramref name="slot"/> from the TLB entry there.</summary>
    private void FillFastTlb(int slot, ref TlbEntry e)
    {
        bool ram = (e.Perms & TlbRam) != 0;
        long addend = (long)e.Host - (long)(e.Tag << 12);
        ref FastTlbEntry f0 = ref _fastTlb[slot];
        f0.ReadTag = ram && (e.Perms & TlbR0) != 0 ? e.Tag : ulong.MaxValue;
        f0.WriteTag = ram && (e.Perms & TlbW0) != 0 ? e.Tag : ulong.MaxValue;
        f0.ExecTag = ram && (e.Perms & TlbX0) != 0 ? e.Tag : ulong.MaxValue;
        f0.Addend = addend;
        ref FastTlbEntry f1 = ref _fastTlb[TlbSize + slot];
        f1.ReadTag = ram && (e.Perms & TlbR1) != 0 ? e.Tag : ulong.MaxValue;
        f1.WriteTag = ram && (e.Perms & TlbW1) != 0 ? e.Tag : ulong.MaxValue;
        f1.ExecTag = ram && (e.Perms & TlbX1) != 0 ? e.Tag : ulong.MaxValue;
        f1.Addend = addend;
    }

    public bool MmuEnabled => (_sctlr & 1) != 0;

    // ---- Hot paths

    /// <summary>The fast-TLB view for an access: EL0's for EL0 and for unprivileged (LDTR/STTR) accesses.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FastTlbEntry* FastView(bool unpriv) => _el == 0 || unpriv ? _fastTlb : _fastTlb + TlbSize;

    /// <summary>Host pointer for a read of <paramref name="size"/> bytes at <paramref name="va"/> when it is RAM within one page and the TLB allows it; null otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* FastReadPtr(ulong va, int size, bool unpriv)
    {
        FastTlbEntry* f = FastView(unpriv) + (int)((va >> 12) & TlbMask);
        return f->ReadTag == (va + (ulong)size - 1) >> 12 ? (byte*)(va + (ulong)f->Addend) : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* FastWritePtr(ulong va, int size, bool unpriv)
    {
        FastTlbEntry* f = FastView(unpriv) + (int)((va >> 12) & TlbMask);
        return f->WriteTag == (va + (ulong)size - 1) >> 12 ? (byte*)(va + (ulong)f->Addend) : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Read(ulong va, int size, bool unpriv = false)
    {
        byte* p = FastReadPtr(va, size, unpriv);
        if (p != null)
        {
            return size switch
            {
                8 => *(ulong*)p,
                4 => *(uint*)p,
                2 => *(ushort*)p,
                _ => *p,
            };
        }
        return ReadSlow(va, size, unpriv);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Write(ulong va, int size, ulong value, bool unpriv = false)
    {
        byte* p = FastWritePtr(va, size, unpriv);
        if (p != null)
        {
            switch (size)
            {
                case 8: *(ulong*)p = value; break;
                case 4: *(uint*)p = (uint)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                default: *p = (byte)value; break;
            }
            return;
        }
        WriteSlow(va, size, value, unpriv);
    }

    private ulong ReadSlow(ulong va, int size, bool unpriv)
    {
        if (((uint)va & 0xFFF) > 0x1000 - (uint)size)
        {
            // Crosses a page: byte by byte (each byte translated and checked; MMIO unsupported here).
            // Translate both pages first so a fault leaves nothing half done.
            ulong pa0 = TranslateChecked(va, Access.Read, unpriv);
            ulong pa1 = TranslateChecked(va + (ulong)size - 1, Access.Read, unpriv);
            _ = pa0; _ = pa1;
            ulong v = 0;
            for (int i = 0; i < size; i++) v |= ReadSlow(va + (ulong)i, 1, unpriv) << (8 * i);
            return v;
        }
        ulong pa = TranslateChecked(va, Access.Read, unpriv);
        byte* p = FastReadPtr(va, size, unpriv);
        if (p != null) return Read(va, size, unpriv);
        // Not RAM: MMIO read.
        if (_mmioReady && _mmioAddress == pa && _mmioSize == size && !_mmioUsed)
        {
            _mmioUsed = true;
            return _mmioValue;
        }
        if (_mmioUsed) throw Unsupported("second MMIO access in one instruction");
        _exit.Address = pa; _exit.Size = size; _exit.IsWrite = false; _exit.Data = 0; _exit.VirtualAddress = va;
        throw StopBefore(Arm64Stop.Mmio);
    }

    private void WriteSlow(ulong va, int size, ulong value, bool unpriv)
    {
        if (((uint)va & 0xFFF) > 0x1000 - (uint)size)
        {
            TranslateChecked(va, Access.Write, unpriv);
            TranslateChecked(va + (ulong)size - 1, Access.Write, unpriv);
            for (int i = 0; i < size; i++) WriteSlow(va + (ulong)i, 1, value >> (8 * i), unpriv);
            return;
        }
        ulong pa = TranslateChecked(va, Access.Write, unpriv);
        byte* p = FastWritePtr(va, size, unpriv);
        if (p != null) { Write(va, size, value, unpriv); return; }
        if (_mmioUsed || _stopAfterInstruction) throw Unsupported("second MMIO access in one instruction");
        _exit.Address = pa; _exit.Size = size; _exit.IsWrite = true; _exit.Data = size == 8 ? value : value & ((1UL << (8 * size)) - 1);
        _exit.VirtualAddress = va;
        _mmioUsed = true;
        StopAfter(Arm64Stop.Mmio);
    }

    /// <summary>Host pointer for an aligned read-modify-write (exclusives, atomics), or an exception.</summary>
    private byte* RmwPtr(ulong va, int size, bool needWrite)
    {
        if ((va & (ulong)(size - 1)) != 0) throw AlignmentFault(va, needWrite);
        byte* p = FastReadPtr(va, size, false);
        if (p != null && (!needWrite || FastWritePtr(va, size, false) != null)) return p;
        TranslateChecked(va, Access.Read, false);
        if (needWrite) TranslateChecked(va, Access.Write, false);
        p = FastReadPtr(va, size, false);
        if (p != null && needWrite && FastWritePtr(va, size, false) == null) p = null;
        if (p == null) throw Unsupported($"atomic or exclusive access to MMIO at 0x{va:x}");
        return p;
    }

    /// <summary>Translates and checks permissions; returns the physical address.</summary>
    private ulong TranslateChecked(ulong va, Access access, bool unpriv)
    {
        ref TlbEntry e = ref TranslateSlow(va, access, _el == 0 || unpriv);
        return e.PhysPage | (va & 0xFFF);
    }

    /// <summary>Walks (or finds) the translation of <paramref name="va"/>, fills the TLB, raises a fault if the access is not permitted.</summary>
    private ref TlbEntry TranslateSlow(ulong va, Access access, bool el0)
    {
        int slot = (int)((va >> 12) & TlbMask);
        ref TlbEntry e = ref _tlb[slot];
        if (e.Tag != (va >> 12)) { Walk(va, access, ref e); FillFastTlb(slot, ref e); }
        byte need = access switch
        {
            Access.Read => el0 ? TlbR0 : TlbR1,
            Access.Write => el0 ? TlbW0 : TlbW1,
            _ => el0 ? TlbX0 : TlbX1,
        };
        if ((e.Perms & need) == 0) throw TranslationFault(va, access, 0x0Cu + e.Level); // permission fault
        return ref e;
    }

    private void Walk(ulong va, Access access, ref TlbEntry e)
    {
        ulong pa;
        byte perms;
        byte level = 3;
        if ((_sctlr & 1) == 0)
        {
            pa = va & ~0xFFFUL;
            perms = TlbR0 | TlbW0 | TlbX0 | TlbR1 | TlbW1 | TlbX1;
        }
        else
        {
            bool upper = ((va >> 55) & 1) != 0;
            int txsz = (int)(upper ? (_tcr >> 16) & 63 : _tcr & 63);
            if (txsz < 16) txsz = 16;
            if (txsz > 39) txsz = 39;
            bool tbi = ((_tcr >> (upper ? 38 : 37)) & 1) != 0;
            bool epd = ((_tcr >> (upper ? 23 : 7)) & 1) != 0;
            uint tg = (uint)(upper ? (_tcr >> 30) & 3 : (_tcr >> 14) & 3);
            if ((upper && tg != 2) || (!upper && tg != 0)) throw Unsupported("translation granule other than 4 KiB");
            int inputBits = 64 - txsz;
            // The bits above the input size must all equal bit 55 (ignoring the top byte with TBI).
            ulong checkedVa = tbi ? (ulong)((long)(va << 8) >> 8) : va;
            ulong top = checkedVa >> inputBits;
            ulong expect = upper ? (ulong.MaxValue >> inputBits) : 0;
            if (top != expect || epd) throw TranslationFault(va, access, 0x04);
            ulong table = (upper ? _ttbr1 : _ttbr0) & 0x0000_FFFF_FFFF_FFFEUL;
            int startLevel = 4 - (inputBits - 12 + 8) / 9;
            bool apNoEl0 = false, apReadOnly = false, pxnTable = false, uxnTable = false;
            ulong desc;
            for (int lvl = startLevel; ; lvl++)
            {
                int shift = 12 + 9 * (3 - lvl);
                int bits = lvl == startLevel ? inputBits - shift : 9;
                ulong index = (checkedVa >> shift) & ((1UL << bits) - 1);
                if (!_memory.TryRead(table + index * 8, out desc)) throw TranslationFault(va, access, (uint)(0x04 + lvl));
                if ((desc & 1) == 0) throw TranslationFault(va, access, (uint)(0x04 + lvl));
                if (lvl < 3 && (desc & 2) != 0)
                {
                    pxnTable |= ((desc >> 59) & 1) != 0;
                    uxnTable |= ((desc >> 60) & 1) != 0;
                    apNoEl0 |= ((desc >> 61) & 1) != 0;
                    apReadOnly |= ((desc >> 62) & 1) != 0;
                    table = desc & 0x0000_FFFF_FFFF_F000UL;
                    continue;
                }
                if ((lvl == 3 && (desc & 2) == 0) || lvl == 0) throw TranslationFault(va, access, (uint)(0x04 + lvl));
                level = (byte)lvl;
                ulong blockMask = (1UL << shift) - 1;
                pa = ((desc & 0x0000_FFFF_FFFF_F000UL) & ~blockMask) | (checkedVa & blockMask & ~0xFFFUL);
                break;
            }
            if (((desc >> 10) & 1) == 0) throw TranslationFault(va, access, (uint)(0x08 + level)); // access flag
            uint ap = (uint)(desc >> 6) & 3;
            bool el0Access = (ap & 1) != 0 && !apNoEl0;
            bool readOnly = (ap & 2) != 0 || apReadOnly;
            bool pxn = ((desc >> 53) & 1) != 0 || pxnTable;
            bool uxn = ((desc >> 54) & 1) != 0 || uxnTable;
            bool wxn = ((_sctlr >> 19) & 1) != 0;
            perms = TlbR1;
            if (!readOnly) perms |= TlbW1;
            if (el0Access) { perms |= TlbR0; if (!readOnly) perms |= TlbW0; }
            if (!uxn && !(wxn && el0Access && !readOnly)) perms |= TlbX0;
            // EL1 never executes what EL0 can write.
            if (!pxn && !(el0Access && !readOnly) && !(wxn && !readOnly)) perms |= TlbX1;
        }
        e.Tag = va >> 12;
        e.PhysPage = pa;
        e.Level = level;
        if (_memory.TryGetSpan(pa, 4096, out var span))
        {
            e.Host = (nint)Unsafe.AsPointer(ref span[0]);
            perms |= TlbRam;
        }
        else e.Host = 0;
        e.Perms = perms;
    }

    // ---- Faults

    private CpuAbort TranslationFault(ulong va, Access access, uint fsc)
    {
        bool lower = _el == 0;
        if (access == Access.Fetch)
        {
            _faultEc = lower ? 0x20u : 0x21u;
            _faultIss = fsc;
        }
        else
        {
            _faultEc = lower ? 0x24u : 0x25u;
            _faultIss = fsc | (access == Access.Write ? 1u << 6 : 0);
        }
        _faultFar = va; _faultHasFar = true;
        _abort.Kind = AbortKind.GuestException;
        return _abort;
    }

    private CpuAbort AlignmentFault(ulong va, bool write) => TranslationFault(va, write ? Access.Write : Access.Read, 0x21);

    private CpuAbort PcAlignmentFault(ulong pc)
    {
        _faultEc = 0x22; _faultIss = 0; _faultFar = pc; _faultHasFar = true;
        _abort.Kind = AbortKind.GuestException;
        return _abort;
    }

    /// <summary>Translates for AT S1E1R/W, S1E0R/W: fills PAR_EL1.</summary>
    private void AddressTranslate(ulong va, bool write, bool el0)
    {
        uint savedEc = _faultEc, savedIss = _faultIss; ulong savedFar = _faultFar; bool savedHas = _faultHasFar;
        try
        {
            ref TlbEntry e = ref TranslateSlow(va, write ? Access.Write : Access.Read, el0);
            _par = e.PhysPage; // PAR_EL1.F = 0, PA[47:12]
        }
        catch (CpuAbort a) when (a.Kind == AbortKind.GuestException)
        {
            _par = 1 | ((ulong)(_faultIss & 63) << 1);
        }
        _faultEc = savedEc; _faultIss = savedIss; _faultFar = savedFar; _faultHasFar = savedHas;
    }
}
