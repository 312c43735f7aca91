using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>MOV (all forms), MOVZX/MOVSX/MOVSXD, LEA, XCHG, PUSH/POP (+A/F), LAHF/SAHF, CBW…CQO, BSWAP, XLAT, LDS…LSS, CMOVcc.</summary>
public sealed partial class X86Interpreter
{
    private static readonly Register[] s_pushAll16 = [Register.AX, Register.CX, Register.DX, Register.BX, Register.SP, Register.BP, Register.SI, Register.DI];
    private static readonly Register[] s_pushAll32 = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESP, Register.EBP, Register.ESI, Register.EDI];

    private void Mov(in Instruction i)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            Register dst = i.Op0Register;
            if (RegisterTable.Kind[(int)dst] == RegisterTable.None)
            {
                if (dst.IsSegmentRegister())
                {
                    ushort selector = (ushort)ReadOperand(i, 1, 2);
                    SegmentRegister seg = OperandAccess.Segment(dst);
                    if (seg == SegmentRegister.Cs) throw GuestFaultException.Ud();
                    LoadSegment(seg, selector);
                    if (seg == SegmentRegister.Ss) _state.InterruptShadow = true;
                    return;
                }
                if (dst.IsCR()) { WriteControlRegister(dst, ReadReg(i.Op1Register)); return; }
                if (dst.IsDR()) { RequireCpl0(); return; }
                throw NotImplemented(i);
            }
            if (i.Op1Kind == OpKind.Register)
            {
                Register src = i.Op1Register;
                if (RegisterTable.Kind[(int)src] == RegisterTable.None)
                {
                    if (src.IsSegmentRegister()) { WriteReg(dst, _state.Special.Get(OperandAccess.Segment(src)).Selector); return; }
                    if (src.IsCR()) { WriteReg(dst, ReadControlRegister(src)); return; }
                    if (src.IsDR())
                    {
                        RequireCpl0();
                        int n = src - Register.DR0;
                        WriteReg(dst, n is 6 or 4 ? 0xFFFF_0FF0UL : n is 7 or 5 ? 0x400UL : 0);
                        return;
                    }
                    throw NotImplemented(i);
                }
                WriteReg(dst, ReadReg(src));
                return;
            }
            int size = RegisterTable.Size[(int)dst];
            WriteReg(dst, ReadOperand(i, 1, size));
            return;
        }
        // Memory destination.
        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister())
        {
            WriteLinear(MemoryLinear(i, 2, true), 2, _state.Special.Get(OperandAccess.Segment(i.Op1Register)).Selector);
            return;
        }
        int memSize = i.MemorySize.GetSize();
        ulong value = ReadOperand(i, 1, memSize);
        WriteLinear(MemoryLinear(i, memSize, true), memSize, value);
    }

    private void Extend(in Instruction i, bool signed)
    {
        int dstSize = RegisterTable.Size[(int)i.Op0Register];
        int srcSize = OperandSize(i, 1);
        ulong v = ReadOperand(i, 1, srcSize);
        if (signed) v = Flags.SignExtend(v, srcSize) & Flags.Mask(dstSize);
        WriteReg(i.Op0Register, v);
    }

    private void Lea(in Instruction i) => WriteReg(i.Op0Register, EffectiveAddress(i));

    private void Xchg(in Instruction i)
    {
        if (i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Register)
        {
            ulong a = ReadReg(i.Op0Register), b = ReadReg(i.Op1Register);
            WriteReg(i.Op0Register, b);
            WriteReg(i.Op1Register, a);
            return;
        }
        // XCHG with memory is always locked.
        int memoryOperand = i.Op0Kind == OpKind.Memory ? 0 : 1;
        Register reg = i.GetOpRegister(1 - memoryOperand);
        int size = RegisterTable.Size[(int)reg];
        ulong linear = MemoryLinear(i, size, true);
        ulong value = ReadReg(reg);
        ulong old;
        nint host = AtomicHost(linear, size);
        if (host != 0)
        {
            old = ExchangeHost(host, size, value);
        }
        else
        {
            lock (s_atomicFallback)
            {
                old = ReadLinear(linear, size, forWrite: true);
                WriteLinear(linear, size, value);
            }
        }
        WriteReg(reg, old);
    }

    private void PushInstruction(in Instruction i)
    {
        int size = -i.StackPointerIncrement;
        ulong value;
        switch (i.Op0Kind)
        {
            case OpKind.Register:
                Register r = i.Op0Register;
                value = r.IsSegmentRegister() ? _state.Special.Get(OperandAccess.Segment(r)).Selector : ReadReg(r);
                break;
            case OpKind.Memory:
                value = ReadLinear(MemoryLinear(i, size, false), size);
                break;
            default:
                value = i.GetImmediate(0) & Flags.Mask(size);
                break;
        }
        Push(value, size);
    }

    private void PopInstruction(in Instruction i)
    {
        int size = i.StackPointerIncrement;
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            if (r.IsSegmentRegister())
            {
                SegmentRegister seg = OperandAccess.Segment(r);
                if (seg == SegmentRegister.Cs) throw GuestFaultException.Ud();
                ushort selector = (ushort)Pop(size);
                LoadSegment(seg, selector);
                if (seg == SegmentRegister.Ss) _state.InterruptShadow = true;
                return;
            }
            WriteReg(r, Pop(size));
            return;
        }
        // The effective address uses RSP after the pop (SDM "POP").
        ulong value = Pop(size);
        WriteLinear(MemoryLinear(i, size, true), size, value);
    }

    private void PushAll(int size)
    {
        var regs = size == 2 ? s_pushAll16 : s_pushAll32;
        ulong sp = ReadReg(regs[4]);
        foreach (var r in regs) Push(r == regs[4] ? sp : ReadReg(r), size);
    }

    private void PopAll(int size)
    {
        var regs = size == 2 ? s_pushAll16 : s_pushAll32;
        for (int k = 7; k >= 0; k--)
        {
            ulong v = Pop(size);
            if (k != 4) WriteReg(regs[k], v);
        }
    }

    private bool Vm86 => (_state.Registers.Rflags & X86Flags.VM) != 0 && (_state.Special.Cr0 & X86Flags.Cr0Pe) != 0 && !_longMode;

    private void PushFlags(int size)
    {
        if (Vm86 && X86Flags.Iopl(_state.Registers.Rflags) < 3) throw GuestFaultException.Gp(0);
        Push(_state.Registers.Rflags & ~(X86Flags.VM | X86Flags.RF) & Flags.Mask(size), size);
    }

    /// <summary>
    /// POPF: status flags, DF, TF, NT always (AC, ID with 32/64-bit operands); IF only when CPL ≤ IOPL
    /// (always in real mode); IOPL only at CPL 0; VM, VIF, VIP unchanged; RF cleared.
    /// Virtual-8086 mode with IOPL &lt; 3 → #GP(0) (no VME).
    /// </summary>
    private void PopFlags(int size)
    {
        ref var regs = ref _state.Registers;
        bool vm86 = Vm86;
        int iopl = X86Flags.Iopl(regs.Rflags);
        if (vm86 && iopl < 3) throw GuestFaultException.Gp(0);
        ulong image = Pop(size);
        ulong changeable = X86Flags.Status | X86Flags.NT;
        if (size >= 4) changeable |= X86Flags.AC | X86Flags.ID;
        bool pe = (_state.Special.Cr0 & X86Flags.Cr0Pe) != 0;
        if (!pe || _cpl <= iopl) changeable |= X86Flags.IF;
        if (!pe || (_cpl == 0 && !vm86)) changeable |= X86Flags.IOPL;
        if (size == 2) changeable &= 0xFFFF;
        regs.Rflags = ((regs.Rflags & ~changeable) | (image & changeable) | X86Flags.Fixed1) & ~X86Flags.RF;
    }

    private const ulong LahfMask = X86Flags.SF | X86Flags.ZF | X86Flags.AF | X86Flags.PF | X86Flags.CF;

    private void Lahf()
    {
        ref var regs = ref _state.Registers;
        regs.Rax = (regs.Rax & ~0xFF00UL) | (((regs.Rflags & LahfMask) | X86Flags.Fixed1) << 8);
    }

    private void Sahf()
    {
        ref var regs = ref _state.Registers;
        regs.Rflags = (regs.Rflags & ~LahfMask) | ((regs.Rax >> 8) & LahfMask) | X86Flags.Fixed1;
    }

    private void ConvertAccumulator(int fromSize)
    {
        ref var regs = ref _state.Registers;
        ulong v = Flags.SignExtend(regs.Rax & Flags.Mask(fromSize), fromSize);
        switch (fromSize)
        {
            case 1: regs.Rax = (regs.Rax & ~0xFFFFUL) | (v & 0xFFFF); break;
            case 2: regs.Rax = v & 0xFFFF_FFFF; break;
            default: regs.Rax = v; break;
        }
    }

    private void ConvertToDx(int size)
    {
        ref var regs = ref _state.Registers;
        bool negative = (regs.Rax & Flags.Sign(size)) != 0;
        ulong fill = negative ? Flags.Mask(size) : 0;
        switch (size)
        {
            case 2: regs.Rdx = (regs.Rdx & ~0xFFFFUL) | fill; break;
            default: regs.Rdx = fill; break;
        }
    }

    private void Bswap(in Instruction i)
    {
        Register r = i.Op0Register;
        ulong v = ReadReg(r);
        ulong result = RegisterTable.Size[(int)r] switch
        {
            8 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
            4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
            _ => 0, // 16-bit BSWAP is undefined; Intel and AMD produce 0.
        };
        WriteReg(r, result);
    }

    private void Xlat(in Instruction i) => WriteReg(Register.AL, ReadLinear(MemoryLinear(i, 1, false), 1));

    private void LoadFarPointer(in Instruction i, SegmentRegister seg)
    {
        int size = RegisterTable.Size[(int)i.Op0Register];
        ulong linear = MemoryLinear(i, size + 2, false);
        ulong offset = ReadLinear(linear, size);
        ushort selector = (ushort)ReadLinear(linear + (ulong)size, 2);
        LoadSegment(seg, selector);
        WriteReg(i.Op0Register, offset);
    }

    private void Cmov(in Instruction i)
    {
        int size = RegisterTable.Size[(int)i.Op0Register];
        ulong src = ReadOperand(i, 1, size);
        if (Flags.Condition(i.ConditionCode, _state.Registers.Rflags)) WriteReg(i.Op0Register, src);
        else if (size == 4) WriteReg(i.Op0Register, ReadReg(i.Op0Register)); // 32-bit destinations are zero-extended either way
    }
}
