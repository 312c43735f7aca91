using System.Numerics;
using System.Reflection;
using System.Reflection.Emit;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

public sealed unsafe partial class Arm64Cpu
{
    /// <summary>
    /// Compiles a region of guest code to a .NET method (DynamicMethod IL, then the .NET JIT).
    ///
    /// Discovery: from the entry, follow fall-through and direct branches (B, B.cond, CBZ/CBNZ,
    /// TBZ/TBNZ, and BL to a loop-free callee or to the entry itself — whose return site is explored
    /// too; a callee with a loop gets a region of its own, so hot loops stay in small methods) that stay inside the
    /// entry's 4 KiB page, stopping at instructions that are not translated (system instructions, SIMD&amp;FP,
    /// exclusives, atomics, exception generation…), at BR/BLR/RET and after
    /// <see cref="MaxInstructions"/> instructions. Basic blocks start at the entry, at branch
    /// targets, after conditional branches and at return sites; a RET whose target is one of the
    /// region's return sites stays in the region; every other edge leaving it (to an instruction
    /// not translated, another page or a register target) returns to the run loop.
    ///
    /// Generated code: a static method (budget, hot block) returning the budget left. Guest
    /// registers live in IL locals (loaded from the hot block on entry, stored back on exit); NZCV
    /// lazily as (kind, operand, operand): in locals within a block, in hot slots between blocks
    /// (see <c>Arm64Cpu.Jit.cs</c>); everything else the code touches — the fast TLB, interrupt
    /// lines, exit PC — is at a constant offset from the hot block, the one pointer it keeps. Before
    /// each block: stop when the budget cannot hold the block or an unmasked interrupt is pending
    /// (so an interrupt waits at most one block), then validate the block's instruction words once
    /// per invocation (skipped on edges from blocks the target dominates, which ran — and so were
    /// validated — first). Loads and stores look the fast TLB up inline (one compare); on a miss
    /// (TLB refill, MMIO, page crossing, fault) the region returns before the instruction and the
    /// interpreter runs it, so translated code never calls out and never faults, and the .NET JIT
    /// can keep guest registers in host registers. A store hitting the region's own code ends the
    /// invocation after it.
    ///
    /// Emission runs twice: a first pass into a scratch method learns which registers the region
    /// reads and writes (what the prologue loads and the exit stores), the second emits the code.
    /// </summary>
    private sealed class RegionCompiler
    {
        private const int MaxInstructions = 384;
        private const int LoopScanLimit = 256;
        private const int PageWords = 1024;

        private static readonly Type[] Params = [typeof(int), typeof(ulong*)];
        private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

        private static MethodInfo M(string name) => typeof(Arm64Cpu).GetMethod(name, Any) ?? throw new MissingMethodException(name);

        private static readonly MethodInfo MJitCond = M(nameof(JitCond)),
            MCondHolds = M(nameof(CondHolds)), MJitCarry = M(nameof(JitCarry)), MNzcvAdc = M(nameof(NzcvAdc)),
            MSDiv64 = M(nameof(SDiv64)), MSDiv32 = M(nameof(SDiv32)), MUDiv64 = M(nameof(UDiv64)), MUDiv32 = M(nameof(UDiv32)),
            MSMulHigh = M(nameof(SMulHigh)), MUMulHigh = M(nameof(UMulHigh)), MCls64 = M(nameof(Cls64)), MCls32 = M(nameof(Cls32)),
            MRbit64 = M(nameof(Rbit64)), MRbit32 = M(nameof(Rbit32)), MRev16 = M(nameof(Rev16)), MRev32 = M(nameof(Rev32));
        private static readonly MethodInfo MRor64 = typeof(BitOperations).GetMethod(nameof(BitOperations.RotateRight), [typeof(ulong), typeof(int)])!,
            MRor32 = typeof(BitOperations).GetMethod(nameof(BitOperations.RotateRight), [typeof(uint), typeof(int)])!,
            MClz64 = typeof(BitOperations).GetMethod(nameof(BitOperations.LeadingZeroCount), [typeof(ulong)])!,
            MClz32 = typeof(BitOperations).GetMethod(nameof(BitOperations.LeadingZeroCount), [typeof(uint)])!,
            MBswap64 = typeof(System.Buffers.Binary.BinaryPrimitives).GetMethod(nameof(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness), [typeof(ulong)])!,
            MBarrier = typeof(Interlocked).GetMethod(nameof(Interlocked.MemoryBarrier), Type.EmptyTypes)!;

        /// <summary>Whether the translator handles <paramref name="d"/> (else a region ends before it).</summary>
        public static bool IsTranslatable(ref A64Inst d)
        {
            switch (d.Kind)
            {
                case A64Kind.Adr: case A64Kind.Adrp: case A64Kind.AddSubImm: case A64Kind.LogicalImm: case A64Kind.MoveWide:
                case A64Kind.Bitfield: case A64Kind.Extr: case A64Kind.B: case A64Kind.Bl: case A64Kind.BCond: case A64Kind.Cbz:
                case A64Kind.Tbz: case A64Kind.Br: case A64Kind.Blr: case A64Kind.Ret: case A64Kind.LogicalReg:
                case A64Kind.AddSubShifted: case A64Kind.AddSubExtended: case A64Kind.AdcSbc: case A64Kind.CondCompare:
                case A64Kind.CondSelect: case A64Kind.DataProc1: case A64Kind.DataProc2: case A64Kind.DataProc3:
                    return true;
                case A64Kind.Hint:
                    return ((d.Raw >> 5) & 0x7F) != 3; // all but WFI
                case A64Kind.Barrier:
                    return ((d.Raw >> 5) & 7) is 4 or 5; // DSB, DMB (not ISB: it ends translated code)
                case A64Kind.LdStUnsignedImm: case A64Kind.LdStImm9: case A64Kind.LdStRegOffset: case A64Kind.LdrLiteral:
                    return (d.Op & A64Decoder.LsVector) == 0;
                case A64Kind.LdStPair:
                    return (d.Imm2 & 8) == 0;
                default:
                    return false;
            }
        }

        private static bool EndsBlock(A64Kind k) => k is A64Kind.B or A64Kind.Bl or A64Kind.BCond or A64Kind.Cbz or A64Kind.Tbz
            or A64Kind.Br or A64Kind.Blr or A64Kind.Ret;

        private sealed class Block
        {
            public int Start, Count, Index;
            /// <summary>Successor word offsets in the page (a target past the page is PageWords or more, or negative).</summary>
            public readonly List<int> Succ = [];
            public readonly List<int> Preds = [];
            public bool[] Dom = [];
            public Label Check, CheckNV, Body, ExitAt, Invalid;
            public bool NeedsCheckNV;
        }

        /// <summary>Byte offsets from the hot block (argument 1) of the fast-TLB views translated code uses.</summary>
        private readonly int _tlbOffset, _tlb0Offset;
        private readonly ulong _pageVa;
        /// <summary>Where the page is in host memory (validation and self-modification checks use it at run time).</summary>
        private readonly byte* _pageHost;
        /// <summary>The page's contents when compilation was requested: compilation reads only this copy.</summary>
        private readonly byte[] _page;
        private readonly int _mode;
        private readonly A64Inst[] _inst = new A64Inst[PageWords];
        private readonly bool[] _explored = new bool[PageWords], _leader = new bool[PageWords];
        private readonly int[] _blockAt = new int[PageWords];
        private readonly List<Block> _blocks = [];
        /// <summary>Words after the region's BLs to targets in the page: where its RETs may come back to.</summary>
        private readonly List<int> _returnSites = [];
        private int _entry, _codeLo, _codeHi;

        // Usage (collected by the first emission pass, used by the second).
        private readonly bool[] _regUsed = new bool[32], _regWritten = new bool[32];
        private bool _spUsed, _spWritten;
        private readonly bool[] _finalWritten = new bool[32];
        private bool _finalSpWritten;
        private bool _final;

        // Emission state.
        private ILGenerator _il = null!;
        private readonly LocalBuilder?[] _reg = new LocalBuilder?[32];
        private LocalBuilder? _sp, _fk, _fa, _fb;
        private LocalBuilder _left = null!, _exitPc = null!;
        private readonly List<LocalBuilder> _temps = [];
        private int _tempNext;
        private Label _exit;
        /// <summary>
        /// Where the lazy flags are at this point of the block: <see cref="FlagsInSlots"/> (the hot
        /// slots; nothing set them in this block yet), <see cref="FlagsInLocals"/> (locals fk/fa/fb,
        /// kind known only at run time), or a kind (locals fa/fb, the kind known here).
        /// </summary>
        private int _flagKind;
        private const int FlagsInSlots = -1, FlagsInLocals = -2;
        private Block _block = null!;
        private int _index; // of the instruction in its block
        private ulong _ipc;  // its virtual address

        private RegionCompiler(ulong pageVa, byte* pageHost, byte[] page, int mode)
        {
            _page = page;
            _tlb0Offset = HotTlb * 8;
            _tlbOffset = mode == 0 ? _tlb0Offset : _tlb0Offset + TlbSize * sizeof(FastTlbEntry);
            _pageVa = pageVa;
            _pageHost = pageHost;
            _mode = mode;
        }

        /// <param name="page">A copy of the 4 KiB page holding <paramref name="pc"/>, which is at <paramref name="pageHost"/>.</param>
        public static Region? Compile(ulong pc, byte* pageHost, byte[] page, int mode)
        {
            var c = new RegionCompiler(pc & ~0xFFFUL, pageHost, page, mode);
            return c.Build((int)((pc & 0xFFF) >> 2));
        }

        private Region? Build(int entry)
        {
            _entry = entry;
            Explore(entry);
            if (!_explored[entry]) return null;
            FormBlocks();
            ComputeDominators();

            var scan = new DynamicMethod("a64_scan", typeof(int), Params, typeof(Arm64Cpu), skipVisibility: true);
            EmitAll(scan.GetILGenerator());
            Array.Copy(_regWritten, _finalWritten, 32);
            _finalSpWritten = _spWritten;
            _final = true;
            var dm = new DynamicMethod($"a64_{_pageVa + (ulong)entry * 4:x}", typeof(int), Params, typeof(Arm64Cpu), skipVisibility: true);
            EmitAll(dm.GetILGenerator());
            var code = (RegionCode)dm.CreateDelegate(typeof(RegionCode));
            return new Region(code, _blocks[_blockAt[entry]].Count);
        }

        // ---- Discovery

        private bool Decode(int i)
        {
            A64Decoder.Decode(BitConverter.ToUInt32(_page, 4 * i), out _inst[i]);
            return IsTranslatable(ref _inst[i]);
        }

        private static int BranchTarget(int i, ref A64Inst d) => i + (int)(d.Imm >> 2);

        private void Explore(int entry)
        {
            var work = new Stack<int>();
            work.Push(entry);
            _leader[entry] = true;
            int left = MaxInstructions;
            while (work.Count > 0)
            {
                int i = work.Pop();
                while (i >= 0 && i < PageWords)
                {
                    if (_explored[i]) { _leader[i] = true; break; }
                    if (left == 0 || !Decode(i)) break;
                    _explored[i] = true;
                    left--;
                    ref A64Inst d = ref _inst[i];
                    if (d.Kind is A64Kind.B or A64Kind.BCond or A64Kind.Cbz or A64Kind.Tbz)
                    {
                        int t = BranchTarget(i, ref d);
                        if (t >= 0 && t < PageWords) { _leader[t] = true; work.Push(t); }
                        if (d.Kind == A64Kind.B) break;
                        if (i + 1 < PageWords) _leader[i + 1] = true;
                    }
                    else if (d.Kind == A64Kind.Bl)
                    {
                        // A call inside the page: the callee and the return site join the region.
                        int t = BranchTarget(i, ref d);
                        if (t >= 0 && t < PageWords && i + 1 < PageWords && (t == entry || IsLoopFree(t)))
                        {
                            _leader[t] = true; work.Push(t);
                            _leader[i + 1] = true; work.Push(i + 1);
                            _returnSites.Add(i + 1);
                        }
                        break;
                    }
                    else if (EndsBlock(d.Kind)) break;
                    i++;
                }
            }
        }

        /// <summary>
        /// Whether the code from <paramref name="start"/> (up to its RETs, not into its calls) has no
        /// backward branch within <see cref="LoopScanLimit"/> instructions.
        /// </summary>
        private bool IsLoopFree(int start)
        {
            var seen = new HashSet<int>();
            var work = new Stack<int>();
            work.Push(start);
            while (work.Count > 0)
            {
                for (int i = work.Pop(); i >= 0 && i < PageWords && seen.Add(i); i++)
                {
                    if (seen.Count > LoopScanLimit) return false;
                    A64Decoder.Decode(BitConverter.ToUInt32(_page, 4 * i), out var d);
                    if (d.Kind is A64Kind.B or A64Kind.BCond or A64Kind.Cbz or A64Kind.Tbz)
                    {
                        int t = BranchTarget(i, ref d);
                        if (t <= i) return false;
                        if (t < PageWords) work.Push(t);
                        if (d.Kind == A64Kind.B) break;
                    }
                    else if (d.Kind is A64Kind.Br or A64Kind.Blr or A64Kind.Ret or A64Kind.Eret or A64Kind.Undefined) break;
                }
            }
            return true;
        }

        private void FormBlocks()
        {
            Array.Fill(_blockAt, -1);
            _codeLo = PageWords; _codeHi = 0;
            for (int i = 0; i < PageWords; i++)
            {
                if (!_explored[i]) continue;
                _codeLo = Math.Min(_codeLo, i);
                _codeHi = Math.Max(_codeHi, i + 1);
                if (!_leader[i]) continue;
                var b = new Block { Start = i, Index = _blocks.Count };
                int j = i;
                while (true)
                {
                    ref A64Inst d = ref _inst[j];
                    b.Count++;
                    if (EndsBlock(d.Kind))
                    {
                        if (d.Kind is A64Kind.B or A64Kind.BCond or A64Kind.Cbz or A64Kind.Tbz or A64Kind.Bl) b.Succ.Add(BranchTarget(j, ref d));
                        if (d.Kind is A64Kind.BCond or A64Kind.Cbz or A64Kind.Tbz) b.Succ.Add(j + 1);
                        // For dominance, a RET may reach every return site (a superset of the real edges).
                        if (d.Kind == A64Kind.Ret) b.Succ.AddRange(_returnSites);
                        break;
                    }
                    j++;
                    if (j >= PageWords || !_explored[j] || _leader[j]) { b.Succ.Add(j); break; }
                }
                _blocks.Add(b);
                _blockAt[i] = b.Index;
            }
            foreach (var b in _blocks)
                foreach (int s in b.Succ)
                    if (BlockAt(s) is { } t) t.Preds.Add(b.Index);
        }

        private Block? BlockAt(int word) => word >= 0 && word < PageWords && _blockAt[word] >= 0 ? _blocks[_blockAt[word]] : null;

        private void ComputeDominators()
        {
            int n = _blocks.Count;
            int entry = _blockAt[_entry];
            foreach (var b in _blocks)
            {
                b.Dom = new bool[n];
                if (b.Index == entry) b.Dom[entry] = true;
                else Array.Fill(b.Dom, true);
            }
            bool changed = true;
            var next = new bool[n];
            while (changed)
            {
                changed = false;
                foreach (var b in _blocks)
                {
                    if (b.Index == entry) continue;
                    Array.Fill(next, b.Preds.Count > 0);
                    foreach (int p in b.Preds)
                        for (int k = 0; k < n; k++) next[k] &= _blocks[p].Dom[k];
                    next[b.Index] = true;
                    for (int k = 0; k < n; k++)
                        if (next[k] != b.Dom[k]) { changed = true; b.Dom[k] = next[k]; }
                }
            }
        }

        // ---- IL helpers

        private void Op(OpCode op) => _il.Emit(op);
        private void I4(int v) => _il.Emit(OpCodes.Ldc_I4, v);
        private void I8(long v) => _il.Emit(OpCodes.Ldc_I8, v);
        private void I8(ulong v) => _il.Emit(OpCodes.Ldc_I8, (long)v);
        private void Ld(LocalBuilder l) => _il.Emit(OpCodes.Ldloc, l);
        private void St(LocalBuilder l) => _il.Emit(OpCodes.Stloc, l);
        private void Br(OpCode op, Label l) => _il.Emit(op, l);
        private void Call(MethodInfo m) => _il.Emit(OpCodes.Call, m);
        /// <summary>Pushes the address of hot slot <paramref name="slot"/> (native int).</summary>
        private void HotSlot(int slot) { _il.Emit(OpCodes.Ldarg_1); if (slot != 0) { I4(8 * slot); Op(OpCodes.Add); } }
        private void LoadHot(int slot) { HotSlot(slot); Op(OpCodes.Ldind_I8); }
        /// <summary>Stores the int64 <paramref name="push"/> pushes into hot slot <paramref name="slot"/>.</summary>
        private void StoreHot(int slot, Action push) { HotSlot(slot); push(); Op(OpCodes.Stind_I8); }
        private Label NewLabel() => _il.DefineLabel();
        private void Mark(Label l) => _il.MarkLabel(l);

        private LocalBuilder Temp()
        {
            if (_tempNext == _temps.Count) _temps.Add(_il.DeclareLocal(typeof(long)));
            return _temps[_tempNext++];
        }

        private LocalBuilder Reg(int r)
        {
            _regUsed[r] = true;
            return _reg[r] ??= _il.DeclareLocal(typeof(long));
        }

        private LocalBuilder Sp()
        {
            _spUsed = true;
            return _sp ??= _il.DeclareLocal(typeof(long));
        }


        /// <summary>Pushes Xr (int64); 31 is XZR.</summary>
        private void LdX(int r) { if (r == 31) I8(0L); else Ld(Reg(r)); }
        /// <summary>Pushes Wr (int32).</summary>
        private void LdW(int r) { if (r == 31) I4(0); else { Ld(Reg(r)); Op(OpCodes.Conv_U4); } }
        /// <summary>Pushes Xr, 31 being SP.</summary>
        private void LdXSp(int r) { if (r == 31) Ld(Sp()); else Ld(Reg(r)); }
        /// <summary>Pops an int64 into Xr; 31 (XZR) discards it.</summary>
        private void StX(int r)
        {
            if (r == 31) { Op(OpCodes.Pop); return; }
            _regWritten[r] = true;
            St(Reg(r));
        }
        private void StXSp(int r)
        {
            if (r != 31) { StX(r); return; }
            _spWritten = true;
            St(Sp());
        }

        /// <summary>Truncates the int64 on the stack to 32 bits and zero-extends it back.</summary>
        private void Zext32() { Op(OpCodes.Conv_U4); Op(OpCodes.Conv_U8); }

        private void FlagLocals()
        {
            _fk ??= _il.DeclareLocal(typeof(int));
            _fa ??= _il.DeclareLocal(typeof(long));
            _fb ??= _il.DeclareLocal(typeof(long));
        }

        /// <summary>Sets the lazy flags: pushes of the two operands, and the kind.</summary>
        private void SetFlags(int kind, Action a, Action? b)
        {
            FlagLocals();
            a(); St(_fa!);
            if (b is not null) { b(); St(_fb!); }
            _flagKind = kind;
        }

        /// <summary>Writes flags set in this block to the hot slots (before anything leaves the block).</summary>
        private void FlushFlags()
        {
            if (_flagKind == FlagsInSlots) return;
            if (_flagKind == FlagsInLocals) StoreHot(HotFk, () => { Ld(_fk!); Op(OpCodes.Conv_I8); });
            else StoreHot(HotFk, () => I8((long)_flagKind));
            StoreHot(HotFa, () => Ld(_fa!));
            if (_flagKind is FlagsInLocals or FkSub64 or FkSub32 or FkAdd64 or FkAdd32) StoreHot(HotFb, () => Ld(_fb!));
        }

        /// <summary>Pushes the lazy flags' kind (int32) and operands for the run-time helpers.</summary>
        private void PushFlagsRuntime()
        {
            switch (_flagKind)
            {
                case FlagsInSlots:
                    LoadHot(HotFk); Op(OpCodes.Conv_I4); LoadHot(HotFa); LoadHot(HotFb);
                    break;
                case FlagsInLocals:
                    Ld(_fk!); Ld(_fa!); Ld(_fb!);
                    break;
                default:
                    I4(_flagKind); Ld(_fa!);
                    if (_flagKind is FkSub64 or FkSub32 or FkAdd64 or FkAdd32) Ld(_fb!); else I8(0L);
                    break;
            }
        }

        // ---- Whole-method emission

        private void EmitAll(ILGenerator il)
        {
            _il = il;
            Array.Clear(_reg);
            _sp = _fk = _fa = _fb = null;
            _temps.Clear();
            _left = il.DeclareLocal(typeof(int));
            _exitPc = il.DeclareLocal(typeof(long));
            _exit = il.DefineLabel();
            foreach (var b in _blocks)
            {
                b.Check = il.DefineLabel(); b.CheckNV = il.DefineLabel(); b.Body = il.DefineLabel();
                b.ExitAt = il.DefineLabel(); b.Invalid = il.DefineLabel();
            }
            if (_final)
            {
                for (int r = 0; r < 31; r++) if (_regUsed[r]) Reg(r);
                if (_spUsed) Sp();
                EmitPrologue();
            }
            else
            {
                // The scan pass learns what the prologue loads; its code is thrown away.
                Br(OpCodes.Br, _blocks[_blockAt[_entry]].Check);
            }
            foreach (var b in _blocks) EmitBlock(b);
            EmitExit();
        }

        private void EmitPrologue()
        {
            _il.Emit(OpCodes.Ldarg_0); St(_left);
            for (int r = 0; r < 31; r++)
                if (_regUsed[r]) { LoadHot(r); St(_reg[r]!); }
            if (_spUsed) { LoadHot(HotSp); St(_sp!); }
            StoreHot(HotValidated, () => I8(0L));
            Br(OpCodes.Br, _blocks[_blockAt[_entry]].Check);
        }

        /// <summary>Leaving: registers and SP back to the hot slots, the exit PC, the count retired.</summary>
        private void EmitExit()
        {
            Mark(_exit);
            for (int r = 0; r < 31; r++)
                if (_final && _finalWritten[r]) StoreHot(r, () => Ld(_reg[r]!));
            if (_final && _finalSpWritten) StoreHot(HotSp, () => Ld(_sp!));
            StoreHot(HotExitPc, () => Ld(_exitPc));
            Ld(_left);
            Op(OpCodes.Ret);
        }

        private ulong Va(int word) => _pageVa + (ulong)word * 4;

        /// <summary>Leaves the region continuing at a constant address.</summary>
        private void ExitTo(ulong pc)
        {
            I8(pc); St(_exitPc);
            Br(OpCodes.Br, _exit);
        }

        /// <summary>Control flow to the instruction at page word <paramref name="word"/>.</summary>
        private void Edge(int word)
        {
            if (EdgeLabel(word) is { } target) Br(OpCodes.Br, target);
            else ExitTo(Va(word));
        }

        /// <summary>Where code jumps to reach the block at <paramref name="word"/> from the current block; null when it is not in the region.</summary>
        private Label? EdgeLabel(int word)
        {
            var t = BlockAt(word);
            if (t is null) return null;
            if (!_block.Dom[t.Index]) return t.Check;
            // The target dominates this block: it ran (and was validated) earlier in this invocation.
            t.NeedsCheckNV = true;
            return t.CheckNV;
        }

        private void EmitBudgetAndInterruptCheck(Block b)
        {
            // left -= count; stop (giving them back) when that goes negative.
            var fits = NewLabel();
            Ld(_left); I4(b.Count); Op(OpCodes.Sub); St(_left);
            Ld(_left); I4(0); Br(OpCodes.Bge, fits);
            Ld(_left); I4(b.Count); Op(OpCodes.Add); St(_left);
            Br(OpCodes.Br, b.ExitAt);
            Mark(fits);
            // A line is up (rare): leave when PSTATE does not mask it.
            var noIrq = NewLabel();
            HotSlot(HotLines); Op(OpCodes.Volatile); Op(OpCodes.Ldind_I8); Br(OpCodes.Brfalse, noIrq);
            HotSlot(HotLines); Op(OpCodes.Volatile); Op(OpCodes.Ldind_I8); LoadHot(HotUnmasked); Op(OpCodes.And);
            Br(OpCodes.Brfalse, noIrq);
            Ld(_left); I4(b.Count); Op(OpCodes.Add); St(_left);
            Br(OpCodes.Br, b.ExitAt);
            Mark(noIrq);
        }

        private void EmitBlock(Block b)
        {
            _block = b;
            if (b.NeedsCheckNV)
            {
                Mark(b.CheckNV);
                EmitBudgetAndInterruptCheck(b);
                Br(OpCodes.Br, b.Body);
            }
            Mark(b.Check);
            EmitBudgetAndInterruptCheck(b);
            var validated = NewLabel();
            if (b.Index < 64) { LoadHot(HotValidated); I8(1L << b.Index); Op(OpCodes.And); Br(OpCodes.Brtrue, validated); }
            for (int k = 0; k < b.Count; k += 2)
            {
                int w = b.Start + k;
                I8((long)(_pageHost + 4 * w)); Op(OpCodes.Conv_U);
                if (k + 1 < b.Count)
                {
                    Op(OpCodes.Ldind_I8);
                    I8((ulong)_inst[w].Raw | ((ulong)_inst[w + 1].Raw << 32));
                }
                else
                {
                    Op(OpCodes.Ldind_U4);
                    I4((int)_inst[w].Raw);
                }
                Br(OpCodes.Bne_Un, b.Invalid);
            }
            if (b.Index < 64) StoreHot(HotValidated, () => { LoadHot(HotValidated); I8(1L << b.Index); Op(OpCodes.Or); });
            Mark(validated);
            Mark(b.Body);
            _flagKind = FlagsInSlots;
            for (int k = 0; k < b.Count; k++)
            {
                _index = k;
                _ipc = Va(b.Start + k);
                _tempNext = 0;
                EmitInstruction(ref _inst[b.Start + k]);
            }
            ref A64Inst last = ref _inst[b.Start + b.Count - 1];
            if (!EndsBlock(last.Kind)) { FlushFlags(); Edge(b.Start + b.Count); }

            Mark(b.Invalid);
            StoreHot(HotInvalid, () => I8(1L));
            Ld(_left); I4(b.Count); Op(OpCodes.Add); St(_left);
            Mark(b.ExitAt);
            ExitTo(Va(b.Start));
        }

        /// <summary>Leaves the region before the current instruction (the interpreter will run it).</summary>
        private void ExitBeforeInstruction()
        {
            FlushFlags();
            Ld(_left); I4(_block.Count - _index); Op(OpCodes.Add); St(_left);
            ExitTo(_ipc);
        }

        /// <summary>Leaves the region after the current instruction.</summary>
        private void ExitAfterInstruction()
        {
            FlushFlags();
            int notRun = _block.Count - _index - 1;
            if (notRun != 0) { Ld(_left); I4(notRun); Op(OpCodes.Add); St(_left); }
            ExitTo(_ipc + 4);
        }

        // ---- Conditions

        /// <summary>Pushes 1 when condition <paramref name="cond"/> holds, else 0 (int32).</summary>
        private void EmitCondition(int cond)
        {
            if (cond >= 14) { I4(1); return; }
            int kind = _flagKind;
            int basis = cond >> 1;
            bool negate = (cond & 1) != 0;
            bool w = kind is FkSub32 or FkAdd32 or FkLogic32;
            void A() { Ld(_fa!); if (w) Op(OpCodes.Conv_U4); }
            void B() { Ld(_fb!); if (w) Op(OpCodes.Conv_U4); }
            void Zero() { if (w) I4(0); else I8(0L); }
            switch (kind)
            {
                case FkSub64 or FkSub32 when basis != 3:
                    switch (basis)
                    {
                        case 0: A(); B(); Op(OpCodes.Ceq); break;                                   // EQ
                        case 1: A(); B(); Op(OpCodes.Clt_Un); negate = !negate; break;               // CS: !(a <u b)
                        case 2: A(); B(); Op(OpCodes.Sub); Zero(); Op(OpCodes.Clt); break;           // MI
                        case 4: A(); B(); Op(OpCodes.Cgt_Un); break;                                 // HI
                        case 5: A(); B(); Op(OpCodes.Clt); negate = !negate; break;                  // GE
                        default: A(); B(); Op(OpCodes.Cgt); break;                                   // GT
                    }
                    break;
                case FkLogic64 or FkLogic32:
                    switch (basis)
                    {
                        case 0: A(); Zero(); Op(OpCodes.Ceq); break;                 // EQ
                        case 1: case 3: case 4: I4(0); break;                        // CS, VS, HI: C = V = 0
                        case 2: A(); Zero(); Op(OpCodes.Clt); break;                 // MI
                        case 5: A(); Zero(); Op(OpCodes.Clt); negate = !negate; break; // GE: N == 0
                        default: A(); Zero(); Op(OpCodes.Cgt); break;                // GT
                    }
                    break;
                case FkAdd64 or FkAdd32 when basis is 0 or 2:
                    A(); B(); Op(OpCodes.Add); Zero();
                    Op(basis == 0 ? OpCodes.Ceq : OpCodes.Clt);
                    break;
                case FkNzcv:
                    Ld(_fa!); Op(OpCodes.Conv_U4); I4(cond); Call(MCondHolds);
                    return;
                default:
                    PushFlagsRuntime(); I4(cond); Call(MJitCond);
                    return;
            }
            if (negate) { I4(0); Op(OpCodes.Ceq); }
        }

        // ---- Operands

        /// <summary>Pushes Rm shifted (LSL/LSR/ASR/ROR by a constant) as int64; 32-bit forms zero-extended.</summary>
        private void EmitShifted(int m, int type, int amount, bool is64)
        {
            if (is64)
            {
                LdX(m);
                if (amount != 0)
                {
                    I4(amount);
                    switch (type) { case 0: Op(OpCodes.Shl); break; case 1: Op(OpCodes.Shr_Un); break; case 2: Op(OpCodes.Shr); break; default: Call(MRor64); break; }
                }
            }
            else
            {
                LdW(m);
                if (amount != 0)
                {
                    I4(amount);
                    switch (type) { case 0: Op(OpCodes.Shl); break; case 1: Op(OpCodes.Shr_Un); break; case 2: Op(OpCodes.Shr); break; default: Call(MRor32); break; }
                }
                Op(OpCodes.Conv_U8);
            }
        }

        /// <summary>Pushes the extended register operand (UXTB…SXTX, then LSL #shift) as int64.</summary>
        private void EmitExtended(int m, int option, int shift)
        {
            LdX(m);
            switch (option)
            {
                case 0: Op(OpCodes.Conv_U1); Op(OpCodes.Conv_U8); break;
                case 1: Op(OpCodes.Conv_U2); Op(OpCodes.Conv_U8); break;
                case 2: Op(OpCodes.Conv_U4); Op(OpCodes.Conv_U8); break;
                case 4: Op(OpCodes.Conv_I1); Op(OpCodes.Conv_I8); break;
                case 5: Op(OpCodes.Conv_I2); Op(OpCodes.Conv_I8); break;
                case 6: Op(OpCodes.Conv_I4); Op(OpCodes.Conv_I8); break;
            }
            if (shift != 0) { I4(shift); Op(OpCodes.Shl); }
        }

        /// <summary>x ± y into Rd, with flags when <paramref name="setFlags"/>; x and y push int64 (32-bit forms: zero-extended).</summary>
        private void EmitAddSub(bool is64, bool sub, bool setFlags, Action x, Action y, int rd, bool rdIsSp)
        {
            if (setFlags)
            {
                SetFlags(sub ? (is64 ? FkSub64 : FkSub32) : (is64 ? FkAdd64 : FkAdd32), x, y);
                Ld(_fa!); Ld(_fb!);
            }
            else { x(); y(); }
            Op(sub ? OpCodes.Sub : OpCodes.Add);
            if (!is64) Zext32();
            if (rdIsSp && !setFlags) StXSp(rd); else StX(rd);
        }

        // ---- Instructions

        private void EmitInstruction(ref A64Inst d)
        {
            uint w = d.Raw;
            bool is64 = d.Size != 0;
            switch (d.Kind)
            {
                case A64Kind.Adr: I8(_ipc + (ulong)d.Imm); StX(d.Rd); break;
                case A64Kind.Adrp: I8((_ipc & ~0xFFFUL) + (ulong)d.Imm); StX(d.Rd); break;
                case A64Kind.AddSubImm:
                {
                    int rn = d.Rn; ulong imm = (ulong)d.Imm;
                    EmitAddSub(is64, ((w >> 30) & 1) != 0, ((w >> 29) & 1) != 0,
                        () => { LdXSp(rn); if (!is64) Zext32(); }, () => I8(imm), d.Rd, rdIsSp: true);
                    break;
                }
                case A64Kind.AddSubShifted:
                {
                    int rn = d.Rn, rm = d.Rm, type = (int)(w >> 22) & 3, amount = (int)d.Imm;
                    EmitAddSub(is64, ((w >> 30) & 1) != 0, ((w >> 29) & 1) != 0,
                        () => { LdX(rn); if (!is64) Zext32(); }, () => EmitShifted(rm, type, amount, is64), d.Rd, rdIsSp: false);
                    break;
                }
                case A64Kind.AddSubExtended:
                {
                    int rn = d.Rn, rm = d.Rm, option = (int)(w >> 13) & 7, shift = (int)d.Imm;
                    EmitAddSub(is64, ((w >> 30) & 1) != 0, ((w >> 29) & 1) != 0,
                        () => { LdXSp(rn); if (!is64) Zext32(); }, () => { EmitExtended(rm, option, shift); if (!is64) Zext32(); }, d.Rd, rdIsSp: true);
                    break;
                }
                case A64Kind.AdcSbc: EmitAdcSbc(ref d, is64); break;
                case A64Kind.LogicalImm:
                {
                    uint opc = (w >> 29) & 3;
                    LdX(d.Rn); I8(d.Imm);
                    Op(opc switch { 1 => OpCodes.Or, 2 => OpCodes.Xor, _ => OpCodes.And });
                    if (!is64) Zext32();
                    if (opc == 3) { var t = Temp(); St(t); SetFlags(is64 ? FkLogic64 : FkLogic32, () => Ld(t), null); Ld(t); StX(d.Rd); }
                    else StXSp(d.Rd);
                    break;
                }
                case A64Kind.LogicalReg:
                {
                    uint opc = (w >> 29) & 3;
                    LdX(d.Rn);
                    EmitShifted(d.Rm, (int)(w >> 22) & 3, (int)d.Imm, is64);
                    if (((w >> 21) & 1) != 0) Op(OpCodes.Not);
                    Op(opc switch { 1 => OpCodes.Or, 2 => OpCodes.Xor, _ => OpCodes.And });
                    if (!is64) Zext32();
                    if (opc == 3) { var t = Temp(); St(t); SetFlags(is64 ? FkLogic64 : FkLogic32, () => Ld(t), null); Ld(t); }
                    StX(d.Rd);
                    break;
                }
                case A64Kind.MoveWide:
                {
                    int shift = (int)d.Imm2;
                    ulong imm = (ulong)d.Imm << shift;
                    if (d.Op == 0) I8(is64 ? ~imm : (uint)~imm);
                    else if (d.Op == 2) I8(imm);
                    else
                    {
                        LdX(d.Rd); I8(~(0xFFFFUL << shift)); Op(OpCodes.And); I8(imm); Op(OpCodes.Or);
                        if (!is64) Zext32();
                    }
                    StX(d.Rd);
                    break;
                }
                case A64Kind.Bitfield: EmitBitfield(ref d, is64); break;
                case A64Kind.Extr:
                {
                    int lsb = (int)d.Imm;
                    if (is64)
                    {
                        LdX(d.Rm);
                        if (lsb != 0) { I4(lsb); Op(OpCodes.Shr_Un); LdX(d.Rn); I4(64 - lsb); Op(OpCodes.Shl); Op(OpCodes.Or); }
                    }
                    else
                    {
                        LdW(d.Rn); Op(OpCodes.Conv_U8); I4(32); Op(OpCodes.Shl); LdW(d.Rm); Op(OpCodes.Conv_U8); Op(OpCodes.Or);
                        I4(lsb); Op(OpCodes.Shr_Un); Zext32();
                    }
                    StX(d.Rd);
                    break;
                }
                case A64Kind.CondSelect:
                {
                    uint op = (w >> 30) & 1, o2 = (w >> 10) & 1;
                    var t = Temp();
                    Label other = NewLabel(), done = NewLabel();
                    EmitCondition((int)(w >> 12) & 15);
                    Br(OpCodes.Brfalse, other);
                    LdX(d.Rn); if (!is64) Zext32(); St(t); Br(OpCodes.Br, done);
                    Mark(other);
                    LdX(d.Rm);
                    if (op != 0) Op(OpCodes.Not);
                    if (o2 != 0) { I8(1L); Op(OpCodes.Add); }
                    if (!is64) Zext32();
                    St(t);
                    Mark(done);
                    Ld(t); StX(d.Rd);
                    break;
                }
                case A64Kind.CondCompare:
                {
                    bool sub = ((w >> 30) & 1) != 0, immForm = ((w >> 11) & 1) != 0;
                    int rn = d.Rn, rm = d.Rm;
                    Label other = NewLabel(), done = NewLabel();
                    EmitCondition((int)(w >> 12) & 15);
                    FlagLocals();
                    Br(OpCodes.Brfalse, other);
                    I4(sub ? (is64 ? FkSub64 : FkSub32) : (is64 ? FkAdd64 : FkAdd32)); St(_fk!);
                    LdX(rn); if (!is64) Zext32(); St(_fa!);
                    if (immForm) I8((long)rm); else { LdX(rm); if (!is64) Zext32(); }
                    St(_fb!);
                    Br(OpCodes.Br, done);
                    Mark(other);
                    I4(FkNzcv); St(_fk!);
                    I8((long)(w & 15) << 28); St(_fa!);
                    I8(0L); St(_fb!);
                    Mark(done);
                    _flagKind = FlagsInLocals;
                    break;
                }
                case A64Kind.DataProc1:
                {
                    LdX(d.Rn);
                    switch (d.Op)
                    {
                        case 0: Call(is64 ? MRbit64 : MRbit32); break;
                        case 1: Call(MRev16); break;
                        case 2: Call(MRev32); break;
                        case 3: Call(MBswap64); break;
                        case 4:
                            if (is64) Call(MClz64); else { Op(OpCodes.Conv_U4); Call(MClz32); }
                            Op(OpCodes.Conv_U8);
                            break;
                        default: Call(is64 ? MCls64 : MCls32); break;
                    }
                    if (!is64) Zext32();
                    StX(d.Rd);
                    break;
                }
                case A64Kind.DataProc2:
                {
                    if (d.Op is 2 or 3)
                    {
                        if (is64) { LdX(d.Rn); LdX(d.Rm); } else { LdW(d.Rn); LdW(d.Rm); }
                        Call(d.Op == 2 ? (is64 ? MUDiv64 : MUDiv32) : (is64 ? MSDiv64 : MSDiv32));
                    }
                    else if (is64)
                    {
                        LdX(d.Rn); LdX(d.Rm); Op(OpCodes.Conv_I4); I4(63); Op(OpCodes.And);
                        switch (d.Op) { case 8: Op(OpCodes.Shl); break; case 9: Op(OpCodes.Shr_Un); break; case 10: Op(OpCodes.Shr); break; default: Call(MRor64); break; }
                    }
                    else
                    {
                        LdW(d.Rn); LdX(d.Rm); Op(OpCodes.Conv_I4); I4(31); Op(OpCodes.And);
                        switch (d.Op) { case 8: Op(OpCodes.Shl); break; case 9: Op(OpCodes.Shr_Un); break; case 10: Op(OpCodes.Shr); break; default: Call(MRor32); break; }
                        Op(OpCodes.Conv_U8);
                    }
                    StX(d.Rd);
                    break;
                }
                case A64Kind.DataProc3:
                {
                    bool sub = (d.Op & 1) != 0;
                    switch (d.Op >> 1)
                    {
                        case 0:
                            LdX(d.Ra); LdX(d.Rn); LdX(d.Rm); Op(OpCodes.Mul); Op(sub ? OpCodes.Sub : OpCodes.Add);
                            if (!is64) Zext32();
                            break;
                        case 1:
                            LdX(d.Ra); LdW(d.Rn); Op(OpCodes.Conv_I8); LdW(d.Rm); Op(OpCodes.Conv_I8); Op(OpCodes.Mul); Op(sub ? OpCodes.Sub : OpCodes.Add);
                            break;
                        case 5:
                            LdX(d.Ra); LdW(d.Rn); Op(OpCodes.Conv_U8); LdW(d.Rm); Op(OpCodes.Conv_U8); Op(OpCodes.Mul); Op(sub ? OpCodes.Sub : OpCodes.Add);
                            break;
                        case 2: LdX(d.Rn); LdX(d.Rm); Call(MSMulHigh); break;
                        default: LdX(d.Rn); LdX(d.Rm); Call(MUMulHigh); break;
                    }
                    StX(d.Rd);
                    break;
                }
                case A64Kind.Hint: break;
                case A64Kind.Barrier: Call(MBarrier); break;
                case A64Kind.LdStUnsignedImm:
                case A64Kind.LdStImm9:
                case A64Kind.LdStRegOffset:
                case A64Kind.LdrLiteral:
                    EmitLoadStore(ref d);
                    break;
                case A64Kind.LdStPair: EmitPair(ref d); break;

                // ---- Branches (each ends its block)
                case A64Kind.B: FlushFlags(); Edge(BranchTarget(_block.Start + _index, ref d)); break;
                case A64Kind.Bl:
                {
                    FlushFlags();
                    I8(_ipc + 4); StX(30);
                    int here = _block.Start + _index;
                    if (_returnSites.Contains(here + 1)) Edge(BranchTarget(here, ref d));
                    else ExitTo(_ipc + (ulong)d.Imm);
                    break;
                }
                case A64Kind.BCond:
                {
                    int here = _block.Start + _index;
                    FlushFlags();
                    if (d.Op >= 14) { Edge(BranchTarget(here, ref d)); break; }
                    var taken = NewLabel();
                    EmitCondition(d.Op);
                    Br(OpCodes.Brtrue, taken);
                    Edge(here + 1);
                    Mark(taken);
                    Edge(BranchTarget(here, ref d));
                    break;
                }
                case A64Kind.Cbz:
                {
                    int here = _block.Start + _index;
                    FlushFlags();
                    var taken = NewLabel();
                    if (is64) LdX(d.Rd); else LdW(d.Rd);
                    Br(d.Op == 0 ? OpCodes.Brfalse : OpCodes.Brtrue, taken);
                    Edge(here + 1);
                    Mark(taken);
                    Edge(BranchTarget(here, ref d));
                    break;
                }
                case A64Kind.Tbz:
                {
                    int here = _block.Start + _index;
                    FlushFlags();
                    var taken = NewLabel();
                    LdX(d.Rd); I8(1L << (int)d.Imm2); Op(OpCodes.And);
                    Br(d.Op == 0 ? OpCodes.Brfalse : OpCodes.Brtrue, taken);
                    Edge(here + 1);
                    Mark(taken);
                    Edge(BranchTarget(here, ref d));
                    break;
                }
                case A64Kind.Br:
                    FlushFlags();
                    LdX(d.Rn); St(_exitPc); Br(OpCodes.Br, _exit);
                    break;
                case A64Kind.Ret:
                    FlushFlags();
                    LdX(d.Rn); St(_exitPc);
                    // Back to one of this region's return sites: stay; anywhere else: leave.
                    foreach (int site in _returnSites)
                    {
                        if (EdgeLabel(site) is not { } target) continue;
                        Ld(_exitPc); I8(Va(site)); Br(OpCodes.Beq, target);
                    }
                    Br(OpCodes.Br, _exit);
                    break;
                case A64Kind.Blr:
                    FlushFlags();
                    LdX(d.Rn); St(_exitPc);
                    I8(_ipc + 4); StX(30);
                    Br(OpCodes.Br, _exit);
                    break;
                default:
                    throw new InvalidOperationException($"untranslatable {d.Kind} in a region");
            }
        }

        private void EmitAdcSbc(ref A64Inst d, bool is64)
        {
            uint w = d.Raw;
            bool sub = ((w >> 30) & 1) != 0, s = ((w >> 29) & 1) != 0;
            LocalBuilder x = Temp(), y = Temp(), c = Temp();
            LdX(d.Rn); if (!is64) Zext32(); St(x);
            LdX(d.Rm); if (sub) Op(OpCodes.Not); if (!is64) Zext32(); St(y);
            PushFlagsRuntime(); Call(MJitCarry); St(c);
            Ld(x); Ld(y); Op(OpCodes.Add); Ld(c); Op(OpCodes.Add);
            if (!is64) Zext32();
            var r = Temp();
            St(r);
            if (s)
                SetFlags(FkNzcv, () => { Ld(x); Ld(y); Ld(c); I4(is64 ? 1 : 0); Call(MNzcvAdc); Op(OpCodes.Conv_U8); }, null);
            Ld(r); StX(d.Rd);
        }

        private void EmitBitfield(ref A64Inst d, bool is64)
        {
            int r = (int)(d.Raw >> 16) & 63, s = (int)(d.Raw >> 10) & 63;
            ulong wmask = (ulong)d.Imm, tmask = d.Imm2;
            int width = is64 ? 64 : 32, rn = d.Rn;
            void Src() { if (is64) LdX(rn); else LdW(rn); }
            void Mask(ulong m) { if (is64) I8(m); else I4((int)(uint)m); }
            void Ror() { if (r != 0) { I4(r); Call(is64 ? MRor64 : MRor32); } }
            switch (d.Op)
            {
                case 2: // UBFM: LSR, LSL, UBFX, UXTB/UXTH
                    if (s == width - 1) { Src(); I4(r); Op(OpCodes.Shr_Un); }
                    else if (s + 1 == r) { Src(); I4(width - 1 - s); Op(OpCodes.Shl); }
                    else { Src(); Ror(); Mask(wmask & tmask); Op(OpCodes.And); }
                    break;
                case 0: // SBFM: ASR, SXTB/SXTH/SXTW, SBFX, SBFIZ
                    if (s == width - 1) { Src(); I4(r); Op(OpCodes.Shr); }
                    else if (r == 0) { Src(); I4(width - 1 - s); Op(OpCodes.Shl); I4(width - 1 - s); Op(OpCodes.Shr); }
                    else
                    {
                        Src(); Ror(); Mask(wmask & tmask); Op(OpCodes.And);
                        Src(); I4(width - 1 - s); Op(OpCodes.Shl); I4(width - 1); Op(OpCodes.Shr); Mask(~tmask); Op(OpCodes.And);
                        Op(OpCodes.Or);
                    }
                    break;
                default: // BFM: BFI, BFXIL
                    if (is64) LdX(d.Rd); else LdW(d.Rd);
                    Mask(~tmask); Op(OpCodes.And);
                    if (is64) LdX(d.Rd); else LdW(d.Rd);
                    Mask(~wmask); Op(OpCodes.And);
                    Src(); Ror(); Mask(wmask); Op(OpCodes.And);
                    Op(OpCodes.Or);
                    Mask(tmask); Op(OpCodes.And);
                    Op(OpCodes.Or);
                    break;
            }
            if (!is64) Op(OpCodes.Conv_U8);
            StX(d.Rd);
        }

        // ---- Loads and stores

        /// <summary>e = the fast-TLB slot of the address in <paramref name="va"/>.</summary>
        private LocalBuilder SlotOf(LocalBuilder va, bool unpriv)
        {
            var e = Temp();
            _il.Emit(OpCodes.Ldarg_1); I4(unpriv ? _tlb0Offset : _tlbOffset); Op(OpCodes.Add);
            Ld(va); I4(12 - 5); Op(OpCodes.Shr_Un); I8((long)TlbMask << 5); Op(OpCodes.And); Op(OpCodes.Conv_U); Op(OpCodes.Add);
            St(e);
            return e;
        }

        /// <summary>Branches to <paramref name="miss"/> unless the tag at <paramref name="tagOffset"/> matches an access of <paramref name="size"/> bytes.</summary>
        private void TagCheck(LocalBuilder e, int tagOffset, LocalBuilder va, int size, Label miss)
        {
            Ld(e); if (tagOffset != 0) { I4(tagOffset); Op(OpCodes.Add); } Op(OpCodes.Ldind_I8);
            Ld(va); if (size > 1) { I8((long)(size - 1)); Op(OpCodes.Add); } I4(12); Op(OpCodes.Shr_Un);
            Br(OpCodes.Bne_Un, miss);
        }

        /// <summary>Pushes the host address for <paramref name="va"/> (int64).</summary>
        private void HostAddress(LocalBuilder e, LocalBuilder va)
        {
            Ld(va); Ld(e); I4(16); Op(OpCodes.Add); Op(OpCodes.Ldind_I8); Op(OpCodes.Add);
        }

        /// <summary>
        /// Load indirect (pointer on the stack) of 1/2/4/8 bytes with the load's extension, pushing
        /// int64. Volatile: the .NET JIT must not hoist a guest load out of a loop (a spin-wait on a
        /// flag another vCPU or the hypervisor sets would not see it until the region ends).
        /// </summary>
        private void LoadIndirect(int size, byte op)
        {
            bool signed = op is A64Decoder.LsLoadSigned64 or A64Decoder.LsLoadSigned32;
            Op(OpCodes.Volatile);
            switch (size)
            {
                case 1: Op(signed ? OpCodes.Ldind_I1 : OpCodes.Ldind_U1); break;
                case 2: Op(signed ? OpCodes.Ldind_I2 : OpCodes.Ldind_U2); break;
                case 4: Op(signed ? OpCodes.Ldind_I4 : OpCodes.Ldind_U4); break;
                default: Op(OpCodes.Ldind_I8); return;
            }
            Op(op == A64Decoder.LsLoadSigned64 ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
        }

        /// <summary>Applies a load's extension to the raw (zero-extended) int64 on the stack.</summary>
        private void ExtendRaw(int size, byte op)
        {
            if (op is not (A64Decoder.LsLoadSigned64 or A64Decoder.LsLoadSigned32) || size == 8) return;
            Op(size == 1 ? OpCodes.Conv_I1 : size == 2 ? OpCodes.Conv_I2 : OpCodes.Conv_I4);
            Op(op == A64Decoder.LsLoadSigned64 ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
        }

        private void StoreIndirect(int size)
        {
            if (size < 8) Op(OpCodes.Conv_U4);
            Op(size switch { 1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, 4 => OpCodes.Stind_I4, _ => OpCodes.Stind_I8 });
        }

        /// <summary>Jumps to <paramref name="hit"/> when the host range [p, p + size) overlaps this region's code.</summary>
        private void SelfModifyCheck(LocalBuilder p, int size, Label hit)
        {
            long lo = (long)(_pageHost + 4 * _codeLo) - (size - 1);
            long len = 4L * (_codeHi - _codeLo) + (size - 1);
            Ld(p); I8(lo); Op(OpCodes.Sub); I8(len); Br(OpCodes.Blt_Un, hit);
        }

        /// <summary>
        /// Loads <paramref name="size"/> bytes at <paramref name="va"/> into a new temp (extended per
        /// <paramref name="op"/>). On a fast-TLB miss (not RAM, no permission, crossing a page, not in
        /// the TLB) the region ends before the instruction: the interpreter does it.
        /// </summary>
        private LocalBuilder EmitLoad(LocalBuilder va, int size, byte op, bool unpriv)
        {
            var v = Temp();
            Label miss = NewLabel(), done = NewLabel();
            var e = SlotOf(va, unpriv);
            TagCheck(e, 0, va, size, miss);
            HostAddress(e, va); Op(OpCodes.Conv_U); LoadIndirect(size, op); St(v);
            Br(OpCodes.Br, done);
            Mark(miss);
            ExitBeforeInstruction();
            Mark(done);
            return v;
        }

        /// <summary>
        /// Stores <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="va"/>, then
        /// <paramref name="rest"/> (writeback). A miss ends the region before the instruction; a store
        /// into this region's own code ends it after the instruction.
        /// </summary>
        private void EmitStore(LocalBuilder va, int size, LocalBuilder value, bool unpriv, Action rest)
        {
            Label miss = NewLabel(), leave = NewLabel(), done = NewLabel();
            var e = SlotOf(va, unpriv);
            TagCheck(e, 8, va, size, miss);
            var p = Temp();
            HostAddress(e, va); St(p);
            Ld(p); Op(OpCodes.Conv_U); Ld(value); StoreIndirect(size);
            SelfModifyCheck(p, size, leave);
            rest();
            Br(OpCodes.Br, done);
            Mark(miss);
            ExitBeforeInstruction();
            Mark(leave);
            rest();
            ExitAfterInstruction();
            Mark(done);
        }

        private void EmitLoadStore(ref A64Inst d)
        {
            int size = 1 << d.Size;
            byte op = d.Op;
            int rt = d.Rd, rn = d.Rn;
            var va = Temp();
            LocalBuilder? wbValue = null;
            bool unpriv = false;
            switch (d.Kind)
            {
                case A64Kind.LdrLiteral:
                    I8(_ipc + (ulong)d.Imm); St(va);
                    break;
                case A64Kind.LdStUnsignedImm:
                    LdXSp(rn); I8(d.Imm); Op(OpCodes.Add); St(va);
                    break;
                case A64Kind.LdStRegOffset:
                    LdXSp(rn); EmitExtended(d.Rm, (int)(d.Raw >> 13) & 7, (int)d.Imm2); Op(OpCodes.Add); St(va);
                    break;
                default: // LdStImm9: 0 unscaled, 1 post-index, 2 unprivileged, 3 pre-index
                    switch (d.Imm2)
                    {
                        case 1:
                            LdXSp(rn); St(va);
                            wbValue = Temp(); Ld(va); I8(d.Imm); Op(OpCodes.Add); St(wbValue);
                            break;
                        case 3:
                            LdXSp(rn); I8(d.Imm); Op(OpCodes.Add); St(va);
                            wbValue = va;
                            break;
                        default:
                            LdXSp(rn); I8(d.Imm); Op(OpCodes.Add); St(va);
                            unpriv = d.Imm2 == 2;
                            break;
                    }
                    break;
            }
            void Writeback() { if (wbValue is not null) { Ld(wbValue); StXSp(rn); } }
            if (op == A64Decoder.LsPrefetch) { Writeback(); return; }
            if (op == A64Decoder.LsStore)
            {
                var value = Temp();
                LdX(rt); St(value);
                EmitStore(va, size, value, unpriv, Writeback);
                return;
            }
            var v = EmitLoad(va, size, op, unpriv);
            Ld(v); StX(rt);
            Writeback();
        }

        private void EmitPair(ref A64Inst d)
        {
            int size = 1 << d.Size;
            int rt = d.Rd, rt2 = d.Ra, rn = d.Rn;
            bool load = (d.Imm2 & 1) != 0 || d.Imm2 == A64Decoder.LsLoadSigned64;
            bool signed = d.Imm2 == A64Decoder.LsLoadSigned64;
            int mode = d.Op; // 0/2 offset, 1 post-index, 3 pre-index
            long imm = d.Imm;
            var b = Temp(); LdXSp(rn); St(b);
            var va = Temp();
            Ld(b); if (mode != 1) { I8(imm); Op(OpCodes.Add); } St(va);
            void Writeback()
            {
                if (mode == 1) { Ld(b); I8(imm); Op(OpCodes.Add); StXSp(rn); }
                else if (mode == 3) { Ld(va); StXSp(rn); }
            }
            byte op = signed ? A64Decoder.LsLoadSigned64 : A64Decoder.LsLoad;
            if (load)
            {
                LocalBuilder v1 = Temp(), v2 = Temp();
                Label miss = NewLabel(), done = NewLabel();
                var e = SlotOf(va, false);
                TagCheck(e, 0, va, 2 * size, miss);
                var p = Temp();
                HostAddress(e, va); St(p);
                Ld(p); Op(OpCodes.Conv_U); LoadIndirect(size, op); St(v1);
                Ld(p); I8((long)size); Op(OpCodes.Add); Op(OpCodes.Conv_U); LoadIndirect(size, op); St(v2);
                Br(OpCodes.Br, done);
                Mark(miss);
                ExitBeforeInstruction();
                Mark(done);
                Ld(v1); StX(rt);
                Ld(v2); StX(rt2);
                Writeback();
            }
            else
            {
                LocalBuilder v1 = Temp(), v2 = Temp();
                LdX(rt); St(v1); LdX(rt2); St(v2);
                Label miss = NewLabel(), leave = NewLabel(), done = NewLabel();
                var e = SlotOf(va, false);
                TagCheck(e, 8, va, 2 * size, miss);
                var p = Temp();
                HostAddress(e, va); St(p);
                Ld(p); Op(OpCodes.Conv_U); Ld(v1); StoreIndirect(size);
                Ld(p); I8((long)size); Op(OpCodes.Add); Op(OpCodes.Conv_U); Ld(v2); StoreIndirect(size);
                SelfModifyCheck(p, 2 * size, leave);
                Writeback();
                Br(OpCodes.Br, done);
                Mark(miss);
                ExitBeforeInstruction();
                Mark(leave);
                Writeback();
                ExitAfterInstruction();
                Mark(done);
            }
        }
    }
}
