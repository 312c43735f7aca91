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
/// <item><c>Arm64Cpu.Memory.cs</c>: MMU walk, software TLB caching host pointers, MMIO stops.</item>
/// <item><c>Arm64Cpu.Exceptions.cs</c>: exception entry (vectors at VBAR_EL1), ERET, interrupts.</item>
/// <item><c>Arm64Cpu.Integer.cs</c>, <c>.LoadStore.cs</c>, <c>.System.cs</c>, <c>.Simd.cs</c>: instruction semantics.</item>
/// </list>
/// Faults inside an instruction unwind through one preallocated exception object
/// (<see cref="CpuAbort"/>): handlers do every memory access before writing registers, so an
/// aborted instruction leaves the registers unchanged.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private readonly GuestMemory _memory;
    private readonly IArm64SystemRegisterHost? _host;

    // ---- General-purpose state
    /// <summary>X0–X30; index 31 is kept zero so reads of XZR need no branch.</summary>
    private readonly ulong[] _x = new ulong[32];
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
    private volatile bool _irqLine, _fiqLine, _serrorPending;
    private volatile bool _interruptLines;

    public Arm64Cpu(GuestMemory memory, IArm64SystemRegisterHost? host = null, ulong mpidr = 0x8000_0000)
    {
        _memory = memory;
        _host = host;
        Mpidr = mpidr;
        InitDecodeCache();
        FlushTlb();
        Reset();
    }

    /// <summary>Reset state: EL1h, DAIF masked, MMU off, PC 0.</summary>
    public void Reset()
    {
        Array.Clear(_x);
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

    /// <summary>Level of the IRQ input (the GIC drives it). Safe from another thread; taken at the next instruction boundary.</summary>
    public void SetIrqLine(bool level) { _irqLine = level; UpdateLines(); }
    public void SetFiqLine(bool level) { _fiqLine = level; UpdateLines(); }
    /// <summary>Makes an SError pending (taken when PSTATE.A is clear).</summary>
    public void RaiseSError() { _serrorPending = true; UpdateLines(); }
    private void UpdateLines() => _interruptLines = _irqLine | _fiqLine | _serrorPending;

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
    /// Pending interrupts are checked at every instruction boundary.
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
        while (budget > 0)
        {
            if (_interruptLines && TryTakeInterrupt()) { budget--; continue; }
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
