using System.Runtime.CompilerServices;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>
/// The translator's run-time side: the region table, entering translated code from the run loop,
/// and the helpers translated code inlines (flags, arithmetic).
///
/// A region (see <c>Arm64Cpu.JitCompiler.cs</c>) is the code reachable from one entry PC through
/// direct branches inside one 4 KiB page, compiled to one .NET method once the entry has been
/// reached <see cref="JitThreshold"/> times at a block boundary — on the thread pool by default
/// (<see cref="TranslateInBackground"/>), from a copy of the page, while the interpreter goes on.
/// Regions are keyed by the entry's guest-physical address (as the host address backing it), its
/// virtual address (translated code embeds PC-relative values) and the mode (EL, SPSel) in a
/// direct-mapped table; a region that ends where another begins goes straight on to it (the run
/// loop is not involved, the state stays in the hot slots). Regions are never
/// invalidated: each block of a region compares its instruction words with memory the first time
/// it runs in an invocation (a region is a method call) and the region exits — and is dropped — on
/// a mismatch; a store that hits the region's own code ends the invocation after that store, so the
/// next one validates again.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>
    /// A compiled region: runs at most <paramref name="budget"/> instructions and returns how much
    /// of the budget is left, with the PC to continue at in <see cref="HotExitPc"/>; registers, SP
    /// and the lazy flags are in the hot slots.
    /// </summary>
    internal delegate int RegionCode(int budget, ulong* hot);

    // Hot slots (indices into _hot) translated code reads and writes at constant offsets from _hot.
    internal const int HotLines = 32;      // interrupt lines up: LineIrq | LineFiq | LineSError (written by any thread)
    internal const int HotUnmasked = 33;   // lines PSTATE.DAIF does not mask (set before entering a region)
    internal const int HotExitPc = 34;     // where a region stopped
    internal const int HotFk = 35, HotFa = 36, HotFb = 37; // lazy NZCV between blocks (see "Flags" below)
    internal const int HotSp = 38;         // the current SP while a region runs
    internal const int HotInvalid = 39;    // nonzero: a block failed validation
    internal const int HotValidated = 40;  // bit b: block b (b < 64) was validated in this invocation
    internal const int HotTlb = 48;        // the fast TLB (2 × TlbSize entries of 4 ulongs)
    private const int HotSize = HotTlb + 2 * TlbSize * 4;
    internal const ulong LineIrq = 1, LineFiq = 2, LineSError = 4;

    private sealed class Region(RegionCode code, int entryLength)
    {
        public readonly RegionCode Code = code;
        /// <summary>Length of the entry block: the budget entering needs.</summary>
        public readonly int EntryLength = entryLength;
    }

    /// <summary>A region table entry: the entry's host address (which stands for its physical address), virtual address and mode.</summary>
    private struct RegionSlot
    {
        public ulong Host, Pc;
        public int Mode, Heat;
        public Region? Region;
        /// <summary>A compilation running on the thread pool (<see cref="TranslateInBackground"/>).</summary>
        public Task<Region?>? Pending;
    }

    private const int MaxPendingCompiles = 2;
    private int _pendingCompiles;
    private long _translationTicks;

    private const int RegionSlotBits = 14;
    /// <summary>Heat value of an entry that cannot start a region (its first instruction is not translatable).</summary>
    private const int NoRegion = int.MinValue;

    private readonly RegionSlot[] _regionSlots = new RegionSlot[1 << RegionSlotBits];

    /// <summary>
    /// Block-boundary arrivals at a PC before its region is compiled; 0 compiles at the first,
    /// a negative value turns the translator off (every instruction interpreted).
    /// </summary>
    public int JitThreshold { get; set; } = 50;

    /// <summary>Regions compiled so far (for measurements and tests).</summary>
    public long RegionsCompiled { get; private set; }

    /// <summary>
    /// Compile regions on the thread pool while this CPU keeps interpreting (the default), so a
    /// vCPU never waits for the .NET JIT; false compiles on the spot (deterministic: tests).
    /// </summary>
    public bool TranslateInBackground { get; set; } = true;

    /// <summary>Time spent compiling regions (discovery, IL, the .NET JIT), on whatever thread.</summary>
    public TimeSpan TranslationTime => TimeSpan.FromTicks(Interlocked.Read(ref _translationTicks));

    /// <summary>Instructions retired inside compiled regions (the rest were interpreted).</summary>
    public long InstructionsTranslated { get; private set; }

    /// <summary>Forgets every compiled region (they are recompiled when hot again). Never needed for correctness.</summary>
    public void FlushTranslations()
    {
        Array.Clear(_regionSlots);
        _pendingCompiles = 0;
    }

    /// <summary>Compiles the region at <paramref name="pc"/> from <paramref name="page"/>, a copy of its page (so a compilation on another thread never reads guest memory, which may be gone by then).</summary>
    private Region? CompileRegion(ulong pc, nint pageHost, byte[] page, int mode)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return RegionCompiler.Compile(pc, (byte*)pageHost, page, mode);
        }
        finally
        {
            Interlocked.Add(ref _translationTicks, System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
        }
    }

    /// <summary>Translation mode: 0 EL0, 1 EL1 with SP_EL0, 2 EL1 with SP_EL1.</summary>
    private int JitMode => _el == 0 ? 0 : 1 + _spSel;

    /// <summary>
    /// At a block boundary: runs the region compiled for PC (compiling it when it has become hot).
    /// False when nothing ran and the caller should interpret; true when it ran (or changed
    /// something the run loop must look at again). Translated code never stops Run: whatever would
    /// (an MMIO access, a fault, a system instruction) makes it return first, to the interpreter.
    /// </summary>
    private bool TryRunRegion(ref int budget)
    {
        ulong pc = _pc;
        _instrPc = pc; // a fetch fault here is reported at pc, as the interpreter's Fetch would
        if ((pc >> 12) != _fetchTag || (pc & 3) != 0) FetchPageMiss(pc);
        ulong host = (ulong)_fetchHost + (pc & 0xFFF);
        int mode = JitMode;
        ref RegionSlot slot = ref SlotFor(host);
        if (slot.Host != host || slot.Pc != pc || slot.Mode != mode)
        {
            if (slot.Pending is not null) _pendingCompiles--; // its result is dropped
            slot = default;
            slot.Host = host; slot.Pc = pc; slot.Mode = mode;
        }
        var region = slot.Region;
        if (region is null)
        {
            if (slot.Pending is { } pending)
            {
                if (!pending.IsCompleted) return false;
                slot.Pending = null;
                _pendingCompiles--;
                region = pending.IsCompletedSuccessfully ? pending.Result : null;
            }
            else
            {
                if (slot.Heat == NoRegion || slot.Heat + 1 <= JitThreshold) { if (slot.Heat != NoRegion) slot.Heat++; return false; }
                if (TranslateInBackground && _pendingCompiles >= MaxPendingCompiles) return false; // asked again at a later arrival
                nint pageHost = (nint)_fetchHost;
                byte[] page = new Span<byte>(_fetchHost, 4096).ToArray();
                if (TranslateInBackground)
                {
                    slot.Pending = Task.Run(() => CompileRegion(pc, pageHost, page, mode));
                    _pendingCompiles++;
                    return false;
                }
                region = CompileRegion(pc, pageHost, page, mode);
            }
            if (region is null) { slot.Heat = NoRegion; return false; }
            slot.Region = region;
            RegionsCompiled++;
        }
        if (budget < region.EntryLength) return false;

        // Enter, then chain: while a region stops where another compiled one starts (same mode,
        // executable RAM per the fast TLB, budget enough), go straight on with the state still in
        // the hot slots. Each region checks interrupts and the budget before its first block and
        // returns without progress when it must stop, which ends the chain.
        ulong* hot = _hot;
        hot[HotUnmasked] = ((_daif & (1 << 7)) == 0 ? LineIrq : 0) | ((_daif & (1 << 6)) == 0 ? LineFiq : 0) | ((_daif & (1 << 8)) == 0 ? LineSError : 0);
        hot[HotFk] = FkNzcv;
        hot[HotFa] = _nzcv;
        ref ulong sp = ref CurrentSpRef;
        hot[HotSp] = sp;
        FastTlbEntry* view = mode == 0 ? _fastTlb : _fastTlb + TlbSize;
        int left = budget;
        bool invalid = false;
        while (true)
        {
            int before = left;
            left = region.Code(left, hot);
            if (hot[HotInvalid] != 0)
            {
                hot[HotInvalid] = 0;
                slot.Region = null;
                slot.Heat = 0;
                invalid = true;
                break;
            }
            if (left == before) break;
            ulong next = hot[HotExitPc];
            FastTlbEntry* f = view + (int)((next >> 12) & TlbMask);
            if (f->ExecTag != next >> 12 || (next & 3) != 0) break;
            ulong nextHost = next + (ulong)f->Addend;
            ref RegionSlot s = ref SlotFor(nextHost);
            if (s.Host != nextHost || s.Pc != next || s.Mode != mode || s.Region is not { } r || left < r.EntryLength) break;
            region = r;
            slot = ref s;
        }
        int n = budget - left;
        _pc = hot[HotExitPc];
        _nzcv = JitNzcv((int)hot[HotFk], hot[HotFa], hot[HotFb]);
        sp = hot[HotSp];
        budget = left;
        InstructionsRetired += n;
        InstructionsTranslated += n;
        // No progress and nothing to take (a region stopping before its first instruction, which
        // the interpreter must run — say an MMIO access — while a masked line is up): interpret,
        // or the run loop would enter the same region again and again.
        return n > 0 || invalid || (Volatile.Read(ref Lines) & hot[HotUnmasked]) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref RegionSlot SlotFor(ulong host) =>
        ref _regionSlots[(int)(((host >> 2) ^ (host >> (2 + RegionSlotBits))) & ((1 << RegionSlotBits) - 1))];

    /// <summary>Whether <paramref name="d"/> ends the interpreter's stretch: translated code could start after it.</summary>
    private static bool IsBlockBoundary(ref A64Inst d, ulong pc, ulong nextPc) => nextPc != pc + 4 || !RegionCompiler.IsTranslatable(ref d);

    // ---- Flags in translated code
    //
    // Translated code keeps NZCV lazily as a kind and two operands: in locals inside a block, in
    // the HotFk/HotFa/HotFb slots between blocks (so they do not occupy host registers around
    // loops). Kind FkNzcv: the first operand is NZCV in bits 31:28; FkSub/FkAdd: the operands of
    // the subtraction or addition that set them (32-bit kinds hold zero-extended 32-bit
    // operands); FkLogic: the first operand is the result of a logical operation (C and V clear).
    // A condition in the block that set the flags is a direct comparison of the operands;
    // anything else asks these helpers.

    internal const int FkNzcv = 0, FkSub64 = 1, FkSub32 = 2, FkAdd64 = 3, FkAdd32 = 4, FkLogic64 = 5, FkLogic32 = 6;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NzcvSub64(ulong x, ulong y)
    {
        ulong r = x - y;
        return ((uint)(r >> 63) << 31) | (r == 0 ? 1u << 30 : 0) | (x >= y ? 1u << 29 : 0) | ((uint)(((x ^ y) & (x ^ r)) >> 63) << 28);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NzcvSub32(ulong x64, ulong y64)
    {
        uint x = (uint)x64, y = (uint)y64, r = x - y;
        return ((r >> 31) << 31) | (r == 0 ? 1u << 30 : 0) | (x >= y ? 1u << 29 : 0) | ((((x ^ y) & (x ^ r)) >> 31) << 28);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NzcvAdd64(ulong x, ulong y)
    {
        ulong r = x + y;
        return ((uint)(r >> 63) << 31) | (r == 0 ? 1u << 30 : 0) | (r < x ? 1u << 29 : 0) | ((uint)(((x ^ r) & (y ^ r)) >> 63) << 28);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NzcvAdd32(ulong x64, ulong y64)
    {
        uint x = (uint)x64, y = (uint)y64, r = x + y;
        return ((r >> 31) << 31) | (r == 0 ? 1u << 30 : 0) | (r < x ? 1u << 29 : 0) | ((((x ^ r) & (y ^ r)) >> 31) << 28);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint JitNzcv(int kind, ulong a, ulong b) => kind switch
    {
        FkSub64 => NzcvSub64(a, b),
        FkSub32 => NzcvSub32(a, b),
        FkAdd64 => NzcvAdd64(a, b),
        FkAdd32 => NzcvAdd32(a, b),
        FkLogic64 => ((uint)(a >> 63) << 31) | (a == 0 ? 1u << 30 : 0),
        FkLogic32 => (((uint)a >> 31) << 31) | ((uint)a == 0 ? 1u << 30 : 0),
        _ => (uint)a,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool CondHolds(uint nzcv, int cond)
    {
        uint f = nzcv >> 28;
        bool n = (f & 8) != 0, z = (f & 4) != 0, c = (f & 2) != 0, v = (f & 1) != 0;
        bool r = (cond >> 1) switch
        {
            0 => z,
            1 => c,
            2 => n,
            3 => v,
            4 => c && !z,
            5 => n == v,
            6 => n == v && !z,
            _ => true,
        };
        if ((cond & 1) != 0 && cond != 15) r = !r;
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool JitCond(int kind, ulong a, ulong b, int cond) => CondHolds(JitNzcv(kind, a, b), cond);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong JitCarry(int kind, ulong a, ulong b) => (JitNzcv(kind, a, b) >> 29) & 1;

    /// <summary>NZCV of AddWithCarry(x, y, carry) on 64 or 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint NzcvAdc(ulong x, ulong y, ulong carry, bool is64)
    {
        if (is64)
        {
            ulong r = x + y + carry;
            ulong c = ((x & y) | ((x | y) & ~r)) >> 63;
            ulong v = ((x ^ r) & (y ^ r)) >> 63;
            return (uint)((r >> 63) << 31) | (r == 0 ? 1u << 30 : 0) | (uint)(c << 29) | (uint)(v << 28);
        }
        uint xs = (uint)x, ys = (uint)y;
        ulong sum = (ulong)xs + ys + carry;
        uint rs = (uint)sum;
        uint vs = ((xs ^ rs) & (ys ^ rs)) >> 31;
        return ((rs >> 31) << 31) | (rs == 0 ? 1u << 30 : 0) | (uint)((sum >> 32) << 29) | (vs << 28);
    }

    // ---- Arithmetic helpers (inlined into translated code)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SDiv64(ulong x, ulong y)
    {
        long a = (long)x, b = (long)y;
        return b == 0 ? 0 : (a == long.MinValue && b == -1) ? 0x8000_0000_0000_0000UL : (ulong)(a / b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SDiv32(uint x, uint y)
    {
        int a = (int)x, b = (int)y;
        return b == 0 ? 0 : (a == int.MinValue && b == -1) ? 0x8000_0000u : (uint)(a / b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong UDiv64(ulong x, ulong y) => y == 0 ? 0 : x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong UDiv32(uint x, uint y) => y == 0 ? 0 : x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SMulHigh(ulong x, ulong y) => (ulong)Math.BigMul((long)x, (long)y, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong UMulHigh(ulong x, ulong y) => Math.BigMul(x, y, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Cls64(ulong x) => (ulong)System.Numerics.BitOperations.LeadingZeroCount(x ^ (ulong)((long)x >> 1)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Cls32(ulong x) => (ulong)System.Numerics.BitOperations.LeadingZeroCount((uint)x ^ (uint)((int)(uint)x >> 1)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Rbit64(ulong x) => ReverseBits(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Rbit32(ulong x) => ReverseBits(x) >> 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Rev16(ulong x) => ((x & 0x00FF00FF00FF00FFUL) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFUL);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Rev32(ulong x)
    {
        ulong t = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x);
        return (t >> 32) | (t << 32);
    }
}
