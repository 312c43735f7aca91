using System.Runtime.CompilerServices;
using XenSharp.Arm64.Decoding;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Arm64;

/// <summary>
/// A software AArch64 CPU (A64 only, EL0 and EL1, stage-1 MMU) over <see cref="GuestMemory"/>.
///
/// Organisation (decode → semantics → execution kept apart):
/// <list type="bullet">
/// <item><c>Decoding/</c>: the pattern table and <see cref="A64Decoder"/>, producing <see cref="A64Inst"/>.</item>
/// <item>This file: state, the run loop, the decode cache (direct-mapped by guest-physical PC,
/// a hit validated by comparing the instruction word now in memory, so no invalidation is needed).</item>
/// <item><c>Arm64Cpu.Jit.cs</c>, <c>.JitCompiler.cs</c>: the translator — hot code compiled to
/// .NET methods, region by region (see below).</item>
/// <item><c>Arm64Cpu.Memory.cs</c>: MMU walk, software TLB caching host pointers (and the fast TLB
/// the hot paths use), MMIO stops.</item>
/// <item><c>Arm64Cpu.Exceptions.cs</c>: exception entry (vectors at VBAR_EL1), ERET, interrupts.</item>
/// <item><c>Arm64Cpu.Integer.cs</c>, <c>.LoadStore.cs</c>, <c>.System.cs</c>, <c>.Simd.cs</c>: instruction semantics.</item>
/// </list>
/// Execution is two-tier. The interpreter (decode cache + <c>Execute</c>) runs everything at
/// first and every instruction the translator does not handle; at block boundaries (after a taken
/// branch or such an instruction) the run loop looks the PC up in the region table and enters
/// translated code for it once it is hot. Translated code (integer data processing, loads and
/// stores, branches — see <c>Arm64Cpu.JitCompiler.cs</c>) keeps the same contract as the
/// interpreter: it checks interrupts and the budget before every block (an unmasked interrupt is
/// taken at most one block late), it validates the instruction words it was compiled from (so
/// self-modifying code and code written by others need no invalidation either), and anything
/// that could fault or stop Run — a TLB miss, MMIO, a system instruction — makes it return to
/// the interpreter before that instruction, so stops report exact PCs.
/// Faults inside an instruction unwind through one preallocated exception object
/// (<see cref="CpuAbort"/>): handlers do every memory access before writing registers, so an
/// aborted instruction leaves the registers unchanged.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private readonly GuestMemory _memory;
    private readonly IArm64SystemRegisterHost? _host;

    // ---- General-purpose state
    /// <summary>
    /// Pinned state translated code reaches at constant offsets from one base: X0–X30 at [0, 31)
    /// (index 31 is kept zero so reads of XZR need no branch), the Hot* slots after them, then the
    /// fast TLB.
    /// </summary>
    private readonly ulong[] _hotArray = GC.AllocateArray<ulong>(HotSize, pinned: true);
    private readonly ulong* _hot;
    /// <summary>X0–X30 (= <see cref="_hot"/>).</summary>
    private readonly ulong* _x;
    private ulong _spEl0, _spEl1;
    private ulong _pc;
    /// <summary>NZCV in bits 31:28, as in SPSR.</summary>
    private uint _nzcv;
    /// <summary>DAIF in bits 9:6, as in SPSR.</summary>
    private uint _daif;
    private int _el;
    private int _spSel;

    // ---- SIMD&FP
    private readonly ulong[] _vlo = new ulong[32], _vhi = new ulong[32];
    private uint _fpcr, _fpsr;

    // ---- Run loop
    private ulong _instrPc;
    private Arm64Exit _exit;
    private Arm64Stop _stop;
    private bool _stopAfterInstruction;

    public Arm64Cpu(GuestMemory memory, IArm64SystemRegisterHost? host = null, ulong mpidr = 0x8000_0000)
    {
        _memory = memory;
        _host = host;
        Mpidr = mpidr;
        _hot = _x = (ulong*)Unsafe.AsPointer(ref _hotArray[0]);
        _fastTlb = (FastTlbEntry*)(_hot + HotTlb);
        InitDecodeCache();
        FlushTlb();
        Reset();
    }

    /// <summary>Reset state: EL1h, DAIF masked, MMU off, PC 0.</summary>
    public void Reset()
    {
        new Span<ulong>(_x, 32).Clear();
        Array.Clear(_vlo); Array.Clear(_vhi);
        _spEl0 = _spEl1 = 0;
        _pc = 0; _nzcv = 0; _daif = 0xF << 6; _el = 1; _spSel = 1;
        _sctlr = 0x30D0_0800; _tcr = 0; _ttbr0 = _ttbr1 = 0; _mair = 0; _vbar = 0;
        _esr = 0; _far = 0; _elr = 0; _spsr = 0; _cpacr = 0; _fpcr = _fpsr = 0;
        _exclusiveValid = false;
        FlushTlb();
    }

    // ---- Public state access
    public ref Arm64Exit Exit => ref _exit;
    public ulong Pc { get => _pc; set => _pc = value; }
    public ulong GetX(int n) => n == 31 ? 0 : _x[n];
    public void SetX(int n, ulong value) { if (n != 31) _x[n] = value; }
    public ulong Sp { get => CurrentSp; set => CurrentSp = value; }
    public ulong SpEl0 { get => _spEl0; set => _spEl0 = value; }
    public ulong SpEl1 { get => _spEl1; set => _spEl1 = value; }
    /// <summary>NZCV as bits 31:28.</summary>
    public uint Nzcv { get => _nzcv; set => _nzcv = value & 0xF000_0000; }
    public int CurrentEl => _el;
    /// <summary>PSTATE in SPSR format (NZCV, DAIF, M[3:0]).</summary>
    public uint Pstate
    {
        get => _nzcv | _daif | (uint)(_el << 2) | (uint)_spSel;
        set { _nzcv = value & 0xF000_0000; _daif = value & 0x3C0; _el = (int)((value >> 2) & 3) == 0 ? 0 : 1; _spSel = (int)(value & 1); InvalidateFetch(); }
    }
    public (ulong Lo, ulong Hi) GetV(int n) => (_vlo[n], _vhi[n]);
    public void SetV(int n, ulong lo, ulong hi) { _vlo[n] = lo; _vhi[n] = hi; }
    public uint Fpcr { get => _fpcr; set => _fpcr = value; }
    public uint Fpsr { get => _fpsr; set => _fpsr = value; }
    public ulong Mpidr { get; }

    /// <summary>Instructions retired (for measurements).</summary>
    public long InstructionsRetired { get; private set; }

    private ref ulong CurrentSpRef
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (_el != 0 && _spSel != 0) return ref _spEl1;
            return ref _spEl0;
        }
    }

    private ulong CurrentSp { get => CurrentSpRef; set => CurrentSpRef = value; }

    /// <summary>Register read where 31 is the zero register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong X(int r) => _x[r];

    /// <summary>Register read where 31 is SP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong XSp(int r) => r == 31 ? CurrentSp : _x[r];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetXr(int r, ulong v) { _x[r] = v; _x[31] = 0; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetXSp(int r, ulong v) { if (r == 31) CurrentSp = v; else _x[r] = v; }

    // ---- Interrupt inputs

    /// <summary>
    /// Level of the IRQ input (the GIC drives it). Safe from another thread; taken at the next
    /// instruction boundary — in translated code, the next block boundary.
    /// </summary>
    public void SetIrqLine(bool level) => SetLine(LineIrq, level);
    public void SetFiqLine(bool level) => SetLine(LineFiq, level);
    /// <summary>Makes an SError pending (taken when PSTATE.A is clear).</summary>
    public void RaiseSError() => SetLine(LineSError, true);

    // The lines live in one word, the HotLines slot translated code polls; every change is one
    // atomic operation on it, so concurrent callers cannot leave it disagreeing with itself.
    private ref ulong Lines => ref _hot[HotLines];
    private void SetLine(ulong line, bool level)
    {
        if (level) Interlocked.Or(ref Lines, line);
        else Interlocked.And(ref Lines, ~line);
    }
    private bool AnyLineUp => Volatile.Read(ref Lines) != 0;
    private bool IrqLineUp => (Volatile.Read(ref Lines) & LineIrq) != 0;
    private bool FiqLineUp => (Volatile.Read(ref Lines) & LineFiq) != 0;
    private bool SErrorPending => (Volatile.Read(ref Lines) & LineSError) != 0;

    // ---- MMIO completion

    private bool _mmioReady;
    private ulong _mmioAddress, _mmioValue;
    private int _mmioSize;
    private bool _mmioUsed;

    /// <summary>Supplies the value of the MMIO read the last <see cref="Arm64Stop.Mmio"/> stop reported; the next Run re-executes the instruction with it.</summary>
    public void CompleteMmioRead(ulong value)
    {
        _mmioReady = true;
        _mmioAddress = _exit.Address;
        _mmioSize = _exit.Size;
        _mmioValue = value;
    }

    // ---- Abort plumbing

    private enum AbortKind { GuestException, Stop }

    private sealed class CpuAbort : Exception
    {
        public AbortKind Kind;
    }

    private readonly CpuAbort _abort = new();

    /// <summary>Stops Run before the current instruction (state as before it) with <paramref name="stop"/>.</summary>
    private CpuAbort StopBefore(Arm64Stop stop)
    {
        _stop = stop;
        _abort.Kind = AbortKind.Stop;
        return _abort;
    }

    private CpuAbort Unsupported(string reason)
    {
        _exit.Reason = reason;
        return StopBefore(Arm64Stop.Unsupported);
    }

    // ---- Run loop

    /// <summary>
    /// Runs at most <paramref name="budget"/> instructions (exception entries count as one).
    /// Pending interrupts are checked at every instruction boundary the interpreter crosses and
    /// before every block of translated code.
    /// </summary>
    public Arm64Stop Run(int budget)
    {
        _exit = default;
        while (true)
        {
            try
            {
                return RunInner(ref budget);
            }
            catch (CpuAbort a)
            {
                _pc = _instrPc;
                _mmioUsed = false;
                if (a.Kind == AbortKind.Stop) return _stop;
                DeliverPendingFault();
                if (--budget <= 0) return Arm64Stop.Budget;
            }
        }
    }

    private Arm64Stop RunInner(ref int budget)
    {
        // At a block boundary (after a taken branch, an instruction the translator does not
        // handle, an exception entry, or the instruction a region left to the interpreter)
        // translated code may take over.
        bool jit = JitThreshold >= 0;
        bool boundary = jit, afterRegion = false;
        while (budget > 0)
        {
            if (AnyLineUp && TryTakeInterrupt()) { budget--; boundary = jit; continue; }
            if (boundary && TryRunRegion(ref budget))
            {
                afterRegion = true;
                continue;
            }
            ulong pc = _pc;
            _instrPc = pc;
            ref A64Inst inst = ref Fetch(pc);
            _pc = pc + 4;
            Execute(ref inst);
            budget--;
            InstructionsRetired++;
            if (_stopAfterInstruction)
            {
                _stopAfterInstruction = false;
                if (_mmioUsed) { _mmioUsed = false; _mmioReady = false; }
                return _stop;
            }
            if (_mmioUsed) { _mmioUsed = false; _mmioReady = false; }
            boundary = jit && (afterRegion || IsBlockBoundary(ref inst, pc, _pc));
            afterRegion = false;
        }
        return Arm64Stop.Budget;
    }

    /// <summary>Completes the current instruction, then stops Run with <paramref name="stop"/>.</summary>
    private void StopAfter(Arm64Stop stop)
    {
        _stop = stop;
        _stopAfterInstruction = true;
    }

    // ---- Decode cache

    private const int CacheBits = 16;
    private const int CacheSize = 1 << CacheBits;

    private struct CacheEntry
    {
        public ulong Physical;
        public A64Inst Inst;
    }

    private CacheEntry[] _cache = [];
    private ulong _fetchTag = ulong.MaxValue;
    private byte* _fetchHost;
    private ulong _fetchPhysPage;

    private void InitDecodeCache()
    {
        _cache = new CacheEntry[CacheSize];
        for (int i = 0; i < _cache.Length; i++) _cache[i].Physical = ulong.MaxValue;
    }

    private void InvalidateFetch() => _fetchTag = ulong.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref A64Inst Fetch(ulong pc)
    {
        if ((pc >> 12) != _fetchTag || (pc & 3) != 0) FetchPageMiss(pc);
        uint off = (uint)pc & 0xFFF;
        uint word = *(uint*)(_fetchHost + off);
        ulong pa = _fetchPhysPage | off;
        ref CacheEntry e = ref _cache[(int)((pa >> 2) & (CacheSize - 1))];
        if (e.Physical == pa && e.Inst.Raw == word) return ref e.Inst;
        return ref FetchMiss(ref e, pa, word);
    }

    private ref A64Inst FetchMiss(ref CacheEntry e, ulong pa, uint word)
    {
        A64Decoder.Decode(word, out e.Inst);
        e.Physical = pa;
        return ref e.Inst;
    }

    private void FetchPageMiss(ulong pc)
    {
        if ((pc & 3) != 0) throw PcAlignmentFault(pc);
        ref TlbEntry t = ref TranslateSlow(pc, Access.Fetch, _el == 0);
        if ((t.Perms & TlbRam) == 0) throw Unsupported($"instruction fetch from a non-RAM address (pc 0x{pc:x}, pa 0x{t.PhysPage:x})");
        _fetchTag = pc >> 12;
        _fetchHost = (byte*)t.Host;
        _fetchPhysPage = t.PhysPage;
    }
}
