using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Guest memory as the interpreter sees it.
///
/// Segmentation: in 64-bit mode only FS/GS add a base and the access must be canonical (#GP(0),
/// #SS(0) for SS); elsewhere a flat data segment (base 0, limit 4 GiB, expand-up, writable for a
/// write) is the identity, and everything else goes through <see cref="SegmentedAccess.Linear(X86EmulationState, SegmentRegister, ulong, int, bool)"/>.
///
/// Paging: a direct-mapped software TLB of <see cref="TlbSize"/> entries per access kind (read,
/// write, fetch). An entry says "this access kind, at this user/supervisor level (and RFLAGS.AC),
/// succeeded on this linear page", maps it to the guest-physical page and caches the host pointer
/// of that page (0 when it is not RAM: MMIO). Misses walk with <see cref="PageWalker.TryTranslate"/>,
/// which checks permissions and sets Accessed/Dirty. With paging off the "walk" is the identity
/// (wrapping at 4 GiB outside long mode) and the TLB still caches the host pointer. The TLB is flushed
/// on MOV CR0/CR3/CR4, EFER writes and whenever <see cref="Run"/> finds CR0/CR3/CR4/EFER changed
/// behind its back; INVLPG drops one page.
///
/// Accesses inside one page use the host pointer directly; page-crossing ones translate both pages
/// before touching either. Non-RAM: a read stops the instruction (<see cref="InterpreterStop.Mmio"/>,
/// registers restored) unless it is the read the caller answered with <see cref="CompleteMmioRead"/>;
/// a write is recorded and the instruction completes, then Run stops.
/// </summary>
public sealed unsafe partial class X86Interpreter
{
    private struct TlbEntry
    {
        public ulong Tag;
        public ulong PhysicalPage;
        public nint Host;
    }

    private const int TlbSize = 256;
    private readonly TlbEntry[] _tlbRead = new TlbEntry[TlbSize];
    private readonly TlbEntry[] _tlbWrite = new TlbEntry[TlbSize];
    private readonly TlbEntry[] _tlbFetch = new TlbEntry[TlbSize];
    private ulong _tlbCr0, _tlbCr3, _tlbCr4, _tlbEfer;

    private static readonly Lock s_atomicFallback = new();

    // Per-instruction mode, computed by Step.
    private bool _is64;
    private bool _longMode;
    private int _cpl;
    private int _bitness;
    private ulong _ipMask;

    internal void FlushTlb()
    {
        Array.Clear(_tlbRead);
        Array.Clear(_tlbWrite);
        Array.Clear(_tlbFetch);
        ref var sr = ref _state.Special;
        _tlbCr0 = sr.Cr0; _tlbCr3 = sr.Cr3; _tlbCr4 = sr.Cr4; _tlbEfer = sr.Efer;
    }

    private void FlushTlbPage(ulong linear)
    {
        int i = (int)(linear >> 12) & (TlbSize - 1);
        _tlbRead[i].Tag = 0;
        _tlbWrite[i].Tag = 0;
        _tlbFetch[i].Tag = 0;
    }

    private void CheckTlbContext()
    {
        ref var sr = ref _state.Special;
        if (sr.Cr0 != _tlbCr0 || sr.Cr3 != _tlbCr3 || sr.Cr4 != _tlbCr4 || sr.Efer != _tlbEfer) FlushTlb();
    }

    /// <summary>Linear (already wrapped) → host pointer (0 for non-RAM) and guest-physical address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint Translate(ulong linear, PageAccess kind, TlbEntry[] tlb, out ulong physical)
    {
        ulong key = (linear & ~0xFFFUL) | (_cpl == 3 ? 1UL : 0) | ((_state.Registers.Rflags & X86Flags.AC) != 0 ? 2UL : 0) | 4;
        ref var e = ref tlb[(int)(linear >> 12) & (TlbSize - 1)];
        if (e.Tag == key)
        {
            physical = e.PhysicalPage | (linear & 0xFFF);
            return e.Host == 0 ? 0 : e.Host + (nint)(linear & 0xFFF);
        }
        return TranslateMiss(linear, kind, ref e, key, out physical);
    }

    private nint TranslateMiss(ulong linear, PageAccess kind, ref TlbEntry e, ulong key, out ulong physical)
    {
        PageAccess access = _cpl == 3 ? kind | PageAccess.User : kind;
        if (!PageWalker.TryTranslate(_state, linear, access, out physical, out var fault))
            throw new GuestFaultException(fault);
        ulong page = physical & ~0xFFFUL;
        nint host = _state.Memory.TryGetSpan(page, 4096, out var span)
            ? (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span)) : 0;
        e.Tag = key;
        e.PhysicalPage = page;
        e.Host = host;
        return host == 0 ? 0 : host + (nint)(linear & 0xFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Wrap(ulong linear) => _longMode ? linear : linear & 0xFFFF_FFFF;

    private static bool IsCanonical(ulong a) => (ulong)((long)(a << 16) >> 16) == a;

    /// <summary>Segment:offset → linear for a data access (checks as <see cref="SegmentedAccess"/>, with fast paths).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Linear(SegmentRegister seg, ulong offset, int size, bool write)
    {
        if (_is64)
        {
            ulong linear = offset;
            if (seg == SegmentRegister.Fs) linear += _state.Special.Fs.Base;
            else if (seg == SegmentRegister.Gs) linear += _state.Special.Gs.Base;
            if (!IsCanonical(linear) || !IsCanonical(linear + (ulong)(size - 1)))
                throw seg == SegmentRegister.Ss ? GuestFaultException.Ss(0) : GuestFaultException.Gp(0);
            return linear;
        }
        ref X86Segment s = ref _state.Special.Get(seg);
        if (s.Base == 0 && s.Limit == 0xFFFF_FFFF && offset <= 0xFFFF_FFFFUL - (ulong)(size - 1) && s.Unusable == 0
            && s.Present != 0 && s.S != 0 && (write ? (s.Type & 0xE) == 2 : (s.Type & 0xC) == 0))
            return offset;
        return SegmentedAccess.Linear(_state, seg, offset, size, write);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LoadHost(nint p, int size) => size switch
    {
        1 => *(byte*)p,
        2 => Unsafe.ReadUnaligned<ushort>((void*)p),
        4 => Unsafe.ReadUnaligned<uint>((void*)p),
        _ => Unsafe.ReadUnaligned<ulong>((void*)p),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreHost(nint p, int size, ulong value)
    {
        switch (size)
        {
            case 1: *(byte*)p = (byte)value; break;
            case 2: Unsafe.WriteUnaligned((void*)p, (ushort)value); break;
            case 4: Unsafe.WriteUnaligned((void*)p, (uint)value); break;
            default: Unsafe.WriteUnaligned((void*)p, value); break;
        }
    }

    /// <summary>Reads 1/2/4/8 bytes at a linear address; <paramref name="forWrite"/> translates for write (RMW destinations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadLinear(ulong linear, int size, bool forWrite = false)
    {
        linear = Wrap(linear);
        if ((linear & 0xFFF) + (ulong)size <= 4096)
        {
            nint host = forWrite
                ? Translate(linear, PageAccess.Write, _tlbWrite, out ulong physical)
                : Translate(linear, PageAccess.Read, _tlbRead, out physical);
            return host != 0 ? LoadHost(host, size) : MmioRead(physical, size);
        }
        return ReadSplit(linear, size, forWrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteLinear(ulong linear, int size, ulong value)
    {
        linear = Wrap(linear);
        if ((linear & 0xFFF) + (ulong)size <= 4096)
        {
            nint host = Translate(linear, PageAccess.Write, _tlbWrite, out ulong physical);
            if (host != 0) StoreHost(host, size, value);
            else MmioWrite(physical, size, value);
            return;
        }
        WriteSplit(linear, size, value);
    }

    private ulong ReadSplit(ulong linear, int size, bool forWrite)
    {
        int first = 4096 - (int)(linear & 0xFFF);
        ulong second = Wrap(linear + (ulong)first);
        var kind = forWrite ? PageAccess.Write : PageAccess.Read;
        var tlb = forWrite ? _tlbWrite : _tlbRead;
        nint h1 = Translate(linear, kind, tlb, out ulong p1);
        nint h2 = Translate(second, kind, tlb, out ulong p2);
        if (h1 == 0 || h2 == 0)
            throw new EmulationUnsupportedException($"page-crossing access to non-RAM guest-physical 0x{(h1 == 0 ? p1 : p2):x}");
        ulong value = 0;
        for (int k = 0; k < size; k++)
        {
            byte b = k < first ? *((byte*)h1 + k) : *((byte*)h2 + (k - first));
            value |= (ulong)b << (8 * k);
        }
        return value;
    }

    private void WriteSplit(ulong linear, int size, ulong value)
    {
        int first = 4096 - (int)(linear & 0xFFF);
        ulong second = Wrap(linear + (ulong)first);
        nint h1 = Translate(linear, PageAccess.Write, _tlbWrite, out ulong p1);
        nint h2 = Translate(second, PageAccess.Write, _tlbWrite, out ulong p2);
        if (h1 == 0 || h2 == 0)
            throw new EmulationUnsupportedException($"page-crossing access to non-RAM guest-physical 0x{(h1 == 0 ? p1 : p2):x}");
        for (int k = 0; k < size; k++)
        {
            byte b = (byte)(value >> (8 * k));
            if (k < first) *((byte*)h1 + k) = b; else *((byte*)h2 + (k - first)) = b;
        }
    }

    private ulong MmioRead(ulong physical, int size)
    {
        if (_mmioReady && _mmioAddress == physical && _mmioSize == size)
        {
            _mmioReady = false;
            return _mmioValue & Flags.Mask(size);
        }
        _exit = default;
        _exit.Address = physical;
        _exit.Size = size;
        _exit.IsWrite = false;
        throw _mmioReadStop;
    }

    private void MmioWrite(ulong physical, int size, ulong value)
    {
        if (_stop is not null)
            throw new EmulationUnsupportedException($"a second I/O or MMIO access in one instruction (MMIO write to 0x{physical:x})");
        _exit = default;
        _exit.Address = physical;
        _exit.Size = size;
        _exit.IsWrite = true;
        _exit.Data = value & Flags.Mask(size);
        _stop = InterpreterStop.Mmio;
    }

    /// <summary>Host pointer for an atomic access inside one RAM page, translated for write; 0 when it crosses a page or is not RAM.</summary>
    private nint AtomicHost(ulong linear, int size)
    {
        linear = Wrap(linear);
        if ((linear & 0xFFF) + (ulong)size > 4096) return 0;
        return Translate(linear, PageAccess.Write, _tlbWrite, out _);
    }

    private static bool CompareExchangeHost(nint p, int size, ulong expected, ulong value) => size switch
    {
        1 => Interlocked.CompareExchange(ref *(byte*)p, (byte)value, (byte)expected) == (byte)expected,
        2 => Interlocked.CompareExchange(ref *(ushort*)p, (ushort)value, (ushort)expected) == (ushort)expected,
        4 => Interlocked.CompareExchange(ref *(uint*)p, (uint)value, (uint)expected) == (uint)expected,
        _ => Interlocked.CompareExchange(ref *(ulong*)p, value, expected) == expected,
    };

    private static ulong ExchangeHost(nint p, int size, ulong value) => size switch
    {
        1 => Interlocked.Exchange(ref *(byte*)p, (byte)value),
        2 => Interlocked.Exchange(ref *(ushort*)p, (ushort)value),
        4 => Interlocked.Exchange(ref *(uint*)p, (uint)value),
        _ => Interlocked.Exchange(ref *(ulong*)p, value),
    };

    /// <summary>
    /// An atomic read-modify-write (LOCK prefix): a compare-exchange loop on the host bytes of guest
    /// RAM, or — page-crossing or MMIO operands — the plain sequence under a process-wide lock.
    /// Returns the old value; RFLAGS gets the flags of the successful attempt.
    /// </summary>
    private ulong AtomicRmw(ulong linear, int size, RmwOp op, ulong operand, out ulong result)
    {
        ref var regs = ref _state.Registers;
        nint host = AtomicHost(linear, size);
        if (host != 0)
        {
            while (true)
            {
                ulong old = LoadHost(host, size);
                ulong flags = regs.Rflags;
                ulong value = Alu.Compute(op, old, operand, size, ref flags);
                if (CompareExchangeHost(host, size, old, value))
                {
                    regs.Rflags = flags;
                    result = value;
                    return old;
                }
            }
        }
        lock (s_atomicFallback)
        {
            ulong old = ReadLinear(linear, size, forWrite: true);
            ulong flags = regs.Rflags;
            ulong value = Alu.Compute(op, old, operand, size, ref flags);
            WriteLinear(linear, size, value);
            regs.Rflags = flags;
            result = value;
            return old;
        }
    }
}
