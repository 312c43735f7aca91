using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE and DF both ways, 16/32/64-bit addressing.
/// A repeated instruction runs up to <see cref="StringElementsPerStep"/> elements (or, on the fast
/// path, <see cref="StringBytesPerStep"/> bytes) per step and then leaves RIP on itself so that
/// interrupts and the budget are honoured; after every element RSI/RDI/RCX (and RAX/RFLAGS) are
/// committed, so a fault, an MMIO stop or an interrupt resumes exactly where it left off.
/// Fast path: REP MOVS/STOS going up (DF = 0) with flat or 64-bit segments on guest RAM copy or
/// fill a page-sized chunk at a time (overlapping MOVS keeps the element-by-element semantics).
/// </summary>
public sealed unsafe partial class X86Interpreter
{
    private const int StringElementsPerStep = 4096;
    private const int StringBytesPerStep = 1 << 20;

    private static int StringAddressSize(in Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.MemorySegSI: case OpKind.MemorySegDI: case OpKind.MemoryESDI: return 2;
                case OpKind.MemorySegESI: case OpKind.MemorySegEDI: case OpKind.MemoryESEDI: return 4;
                case OpKind.MemorySegRSI: case OpKind.MemorySegRDI: case OpKind.MemoryESRDI: return 8;
            }
        }
        return 8;
    }

    private static void SetIndex(ref ulong register, ulong value, int addressSize)
    {
        register = addressSize switch
        {
            2 => (register & ~0xFFFFUL) | (value & 0xFFFF),
            4 => value & 0xFFFF_FFFF,
            _ => value,
        };
    }

    private static Register Accumulator(int size) => size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };

    private void CommitStringProgress()
    {
        ref var regs = ref _state.Registers;
        _saved.Rsi = regs.Rsi;
        _saved.Rdi = regs.Rdi;
        _saved.Rcx = regs.Rcx;
        _saved.Rax = regs.Rax;
        _saved.Rflags = regs.Rflags;
    }

    private void StringInstruction(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        Mnemonic m = i.Mnemonic;
        int size = i.MemorySize.GetSize();
        int addressSize = StringAddressSize(i);
        ulong amask = Flags.Mask(addressSize);
        bool rep = i.HasRepePrefix || i.HasRepnePrefix;
        bool down = (regs.Rflags & X86Flags.DF) != 0;
        ulong delta = down ? (ulong)(-size) : (ulong)size;
        SegmentRegister source = OperandAccess.Segment(i.MemorySegment);
        ulong count = rep ? regs.Rcx & amask : 1;
        if (count == 0) return;

        bool isMovs = m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq;
        bool isStos = m is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq;
        bool isLods = m is Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq;
        bool isCmps = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq;

        if (rep && !down && (isMovs || isStos) && addressSize >= 4)
        {
            if (FastRepeat(isMovs, size, addressSize, source, ref count)) return;
        }

        int elements = 0;
        while (true)
        {
            if (isMovs)
            {
                ulong v = ReadLinear(Linear(source, regs.Rsi & amask, size, false), size);
                WriteLinear(Linear(SegmentRegister.Es, regs.Rdi & amask, size, true), size, v);
                SetIndex(ref regs.Rsi, regs.Rsi + delta, addressSize);
                SetIndex(ref regs.Rdi, regs.Rdi + delta, addressSize);
            }
            else if (isStos)
            {
                WriteLinear(Linear(SegmentRegister.Es, regs.Rdi & amask, size, true), size, regs.Rax & Flags.Mask(size));
                SetIndex(ref regs.Rdi, regs.Rdi + delta, addressSize);
            }
            else if (isLods)
            {
                WriteReg(Accumulator(size), ReadLinear(Linear(source, regs.Rsi & amask, size, false), size));
                SetIndex(ref regs.Rsi, regs.Rsi + delta, addressSize);
            }
            else if (isCmps)
            {
                ulong a = ReadLinear(Linear(source, regs.Rsi & amask, size, false), size);
                ulong b = ReadLinear(Linear(SegmentRegister.Es, regs.Rdi & amask, size, false), size);
                regs.Rflags = Flags.Sub(a, b, 0, size, regs.Rflags, out _);
                SetIndex(ref regs.Rsi, regs.Rsi + delta, addressSize);
                SetIndex(ref regs.Rdi, regs.Rdi + delta, addressSize);
            }
            else // SCAS
            {
                ulong b = ReadLinear(Linear(SegmentRegister.Es, regs.Rdi & amask, size, false), size);
                regs.Rflags = Flags.Sub(regs.Rax & Flags.Mask(size), b, 0, size, regs.Rflags, out _);
                SetIndex(ref regs.Rdi, regs.Rdi + delta, addressSize);
            }
            if (!rep) return;
            count--;
            SetIndex(ref regs.Rcx, count, addressSize);
            CommitStringProgress();
            if (count == 0) return;
            if (!isMovs && !isStos && !isLods)
            {
                bool zf = (regs.Rflags & X86Flags.ZF) != 0;
                if (i.HasRepePrefix ? !zf : zf) return;
            }
            if (_stop is not null || ++elements >= StringElementsPerStep)
            {
                regs.Rip = CurrentRip;
                return;
            }
        }
    }

    /// <summary>Offset → linear for a chunk of a fast string operation; false when the segment is not flat (or 64-bit) or the address wraps.</summary>
    private bool TryFlatLinear(SegmentRegister seg, ulong offset, bool write, out ulong linear)
    {
        if (_is64)
        {
            linear = offset + (seg == SegmentRegister.Fs ? _state.Special.Fs.Base : seg == SegmentRegister.Gs ? _state.Special.Gs.Base : 0);
            return IsCanonical(linear) && IsCanonical(linear | 0xFFF);
        }
        ref var s = ref _state.Special.Get(seg);
        linear = offset;
        return s.Base == 0 && s.Limit == 0xFFFF_FFFF && s.Unusable == 0 && s.Present != 0 && s.S != 0
               && (write ? (s.Type & 0xE) == 2 : (s.Type & 0xC) == 0);
    }

    /// <summary>REP MOVS/STOS upwards, a page chunk at a time. Returns true when the instruction is done for this step.</summary>
    private bool FastRepeat(bool movs, int size, int addressSize, SegmentRegister source, ref ulong count)
    {
        ref var regs = ref _state.Registers;
        ulong amask = Flags.Mask(addressSize);
        long total = 0;
        while (count > 0)
        {
            ulong di = regs.Rdi & amask;
            if (!TryFlatLinear(SegmentRegister.Es, di, true, out ulong dstLinear)) return false;
            dstLinear = Wrap(dstLinear);
            ulong n = Math.Min(count, (4096 - (dstLinear & 0xFFF)) / (ulong)size);
            if (addressSize == 4) n = Math.Min(n, (0x1_0000_0000UL - di) / (ulong)size);
            ulong srcLinear = 0, si = 0;
            if (movs)
            {
                si = regs.Rsi & amask;
                if (!TryFlatLinear(source, si, false, out srcLinear)) return false;
                srcLinear = Wrap(srcLinear);
                n = Math.Min(n, (4096 - (srcLinear & 0xFFF)) / (ulong)size);
                if (addressSize == 4) n = Math.Min(n, (0x1_0000_0000UL - si) / (ulong)size);
            }
            if (n == 0) return false;
            nint src = movs ? Translate(srcLinear, PageAccess.Read, _tlbRead, out _) : 0;
            nint dst = Translate(dstLinear, PageAccess.Write, _tlbWrite, out _);
            if (dst == 0 || (movs && src == 0)) return false;
            long bytes = (long)n * size;
            if (movs)
            {
                long distance = (long)(dst - src);
                if (distance > 0 && distance < bytes)
                {
                    if (distance < size) return false; // element-wise semantics differ from a byte copy
                    for (long k = 0; k < bytes; k++) *((byte*)dst + k) = *((byte*)src + k);
                }
                else if (distance != 0)
                {
                    Buffer.MemoryCopy((void*)src, (void*)dst, bytes, bytes);
                }
                SetIndex(ref regs.Rsi, si + (ulong)bytes, addressSize);
            }
            else
            {
                ulong v = regs.Rax;
                switch (size)
                {
                    case 1: new Span<byte>((void*)dst, (int)n).Fill((byte)v); break;
                    case 2: new Span<ushort>((void*)dst, (int)n).Fill((ushort)v); break;
                    case 4: new Span<uint>((void*)dst, (int)n).Fill((uint)v); break;
                    default: new Span<ulong>((void*)dst, (int)n).Fill(v); break;
                }
            }
            SetIndex(ref regs.Rdi, di + (ulong)bytes, addressSize);
            count -= n;
            SetIndex(ref regs.Rcx, count, addressSize);
            CommitStringProgress();
            total += bytes;
            if (count != 0 && total >= StringBytesPerStep)
            {
                regs.Rip = CurrentRip;
                return true;
            }
        }
        return true;
    }
}
