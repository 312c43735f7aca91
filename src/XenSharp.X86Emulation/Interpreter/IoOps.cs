using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// IN/OUT/INS/OUTS. No I/O-permission checks beyond what is cheap: every port is allowed (no TSS I/O bitmap).
/// OUT completes and stops with the data; IN completes (RIP advanced) and the caller supplies the
/// value with <see cref="CompleteIoRead"/>. The string forms do one element per stop: OUTS reads its
/// element, advances RSI/RCX and stops; INS stops first (RIP on the instruction), and its
/// re-execution stores the value the caller supplied. RIP leaves a REP form when RCX reaches 0.
/// </summary>
public sealed partial class X86Interpreter
{
    private void RequestStop(InterpreterStop stop)
    {
        if (_stop is not null) throw new EmulationUnsupportedException("a second I/O or MMIO access in one instruction");
        _stop = stop;
    }

    private void IoExit(ushort port, int size, bool write, ulong data)
    {
        RequestStop(InterpreterStop.Io);
        _exit = default;
        _exit.Port = port;
        _exit.Size = size;
        _exit.IsWrite = write;
        _exit.Data = data;
    }

    private void In(in Instruction i)
    {
        int size = RegisterTable.Size[(int)i.Op0Register];
        ushort port = i.Op1Kind == OpKind.Register ? (ushort)_state.Registers.Rdx : i.Immediate8;
        IoExit(port, size, false, 0);
        _pendingInSize = size;
    }

    private void Out(in Instruction i)
    {
        int size = RegisterTable.Size[(int)i.Op1Register];
        ushort port = i.Op0Kind == OpKind.Register ? (ushort)_state.Registers.Rdx : i.Immediate8;
        IoExit(port, size, true, ReadReg(i.Op1Register));
    }

    private void Ins(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = i.MemorySize.GetSize();
        int addressSize = StringAddressSize(i);
        ulong amask = Flags.Mask(addressSize);
        bool rep = i.HasRepePrefix || i.HasRepnePrefix;
        ulong count = rep ? regs.Rcx & amask : 1;
        if (count == 0) { _insValueReady = false; return; }
        ulong linear = Linear(SegmentRegister.Es, regs.Rdi & amask, size, true);
        if (!_insValueReady)
        {
            // Check the destination first so a #PF does not swallow device data.
            ulong wrapped = Wrap(linear);
            if ((wrapped & 0xFFF) + (ulong)size <= 4096) Translate(wrapped, PageAccess.Write, _tlbWrite, out _);
            regs.Rip = CurrentRip;
            IoExit((ushort)regs.Rdx, size, false, 0);
            _awaitingIns = true;
            return;
        }
        _insValueReady = false;
        WriteLinear(linear, size, _insValue & Flags.Mask(size));
        ulong delta = (regs.Rflags & X86Flags.DF) != 0 ? (ulong)(-size) : (ulong)size;
        SetIndex(ref regs.Rdi, regs.Rdi + delta, addressSize);
        if (rep)
        {
            SetIndex(ref regs.Rcx, count - 1, addressSize);
            if (count - 1 != 0) regs.Rip = CurrentRip;
        }
    }

    private void Outs(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = i.MemorySize.GetSize();
        int addressSize = StringAddressSize(i);
        ulong amask = Flags.Mask(addressSize);
        bool rep = i.HasRepePrefix || i.HasRepnePrefix;
        ulong count = rep ? regs.Rcx & amask : 1;
        if (count == 0) return;
        ulong value = ReadLinear(Linear(OperandAccess.Segment(i.MemorySegment), regs.Rsi & amask, size, false), size);
        ulong delta = (regs.Rflags & X86Flags.DF) != 0 ? (ulong)(-size) : (ulong)size;
        SetIndex(ref regs.Rsi, regs.Rsi + delta, addressSize);
        if (rep)
        {
            SetIndex(ref regs.Rcx, count - 1, addressSize);
            if (count - 1 != 0) regs.Rip = CurrentRip;
        }
        IoExit((ushort)regs.Rdx, size, true, value);
    }
}
