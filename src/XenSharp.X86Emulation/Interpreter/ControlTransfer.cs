using Iced.Intel;
using XenSharp.X86Emulation.Instructions;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Near JMP/CALL/RET/Jcc/LOOPcc/JrCXZ, ENTER/LEAVE; far forms go to <see cref="FarTransfer"/>.
/// A near target must be canonical in 64-bit mode and within the CS limit elsewhere (#GP(0)).
/// </summary>
public sealed partial class X86Interpreter
{
    /// <summary>Count-register size (2/4/8) of LOOPcc/JrCXZ by Iced code (from the code's name: _CX, _ECX, _RCX).</summary>
    private static readonly byte[] s_countSize = BuildCountSizes();

    private static byte[] BuildCountSizes()
    {
        var table = new byte[Enum.GetValues<Code>().Length + 16];
        foreach (Code c in Enum.GetValues<Code>())
        {
            string name = c.ToString();
            if ((int)c >= table.Length) continue;
            if (name.StartsWith("Loop", StringComparison.Ordinal))
                table[(int)c] = name.EndsWith("_RCX", StringComparison.Ordinal) ? (byte)8 : name.EndsWith("_ECX", StringComparison.Ordinal) ? (byte)4 : (byte)2;
        }
        return table;
    }

    private void Branch(ulong target)
    {
        if (_is64)
        {
            if (!IsCanonical(target)) throw GuestFaultException.Gp(0);
        }
        else if (target > _state.Special.Cs.Limit)
        {
            throw GuestFaultException.Gp(0);
        }
        _state.Registers.Rip = target;
    }

    private void Jmp(in Instruction i)
    {
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                Branch(i.NearBranchTarget);
                return;
            case OpKind.Register:
                Branch(ReadReg(i.Op0Register));
                return;
            case OpKind.Memory when !i.IsJmpFarIndirect:
            {
                int size = i.MemorySize.GetSize();
                Branch(ReadLinear(MemoryLinear(i, size, false), size));
                return;
            }
            default:
                if (!FarTransfer.TryExecute(_state, i, _state.Registers.Rip)) throw NotImplemented(i);
                return;
        }
    }

    private void Call(in Instruction i)
    {
        ulong next = _state.Registers.Rip;
        ulong target;
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                target = i.NearBranchTarget;
                break;
            case OpKind.Register:
                target = ReadReg(i.Op0Register);
                break;
            case OpKind.Memory when !i.IsCallFarIndirect:
            {
                int size = i.MemorySize.GetSize();
                target = ReadLinear(MemoryLinear(i, size, false), size);
                break;
            }
            default:
                if (!FarTransfer.TryExecute(_state, i, next)) throw NotImplemented(i);
                return;
        }
        Push(next, -i.StackPointerIncrement);
        Branch(target);
    }

    private void Ret(in Instruction i)
    {
        int size = i.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 => 2,
            Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        ulong target = Pop(size);
        if (i.Op0Kind == OpKind.Immediate16)
        {
            ulong mask = Flags.Mask(StackAddressSize());
            ref ulong rsp = ref _state.Registers.Rsp;
            rsp = (rsp & ~mask) | ((rsp + i.Immediate16) & mask);
        }
        Branch(target);
    }

    private void Loop(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = s_countSize[(int)i.Code];
        ulong mask = Flags.Mask(size);
        ulong count = (regs.Rcx - 1) & mask;
        regs.Rcx = size == 4 ? count : (regs.Rcx & ~mask) | count;
        bool zf = (regs.Rflags & X86Flags.ZF) != 0;
        bool take = count != 0 && i.Mnemonic switch
        {
            Mnemonic.Loope => zf,
            Mnemonic.Loopne => !zf,
            _ => true,
        };
        if (take) Branch(i.NearBranchTarget);
    }

    private void JumpIfCountZero(in Instruction i, int size)
    {
        if ((_state.Registers.Rcx & Flags.Mask(size)) == 0) Branch(i.NearBranchTarget);
    }

    /// <summary>ENTER imm16, imm8 (SDM "ENTER"): nesting level mod 32, display copied from the old frame.</summary>
    private void Enter(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = i.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, _ => 8 };
        ulong allocation = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        ulong stackMask = Flags.Mask(StackAddressSize());
        Push(regs.Rbp & Flags.Mask(size), size);
        ulong frame = regs.Rsp & stackMask;
        if (level > 0)
        {
            ulong bp = regs.Rbp;
            for (int k = 1; k < level; k++)
            {
                bp = (bp - (ulong)size) & stackMask;
                Push(ReadLinear(StackLinear(bp, size, false), size), size);
            }
            Push(frame, size);
        }
        WriteReg(size switch { 2 => Register.BP, 4 => Register.EBP, _ => Register.RBP }, frame);
        regs.Rsp = (regs.Rsp & ~stackMask) | ((regs.Rsp - allocation) & stackMask);
        // Touch the new top of stack as the processor does (faults if it is not writable).
        if (allocation != 0) StackLinear(regs.Rsp & stackMask, 1, true);
    }

    private void Leave(in Instruction i)
    {
        ref var regs = ref _state.Registers;
        int size = i.Code switch { Code.Leavew => 2, Code.Leaved => 4, _ => 8 };
        ulong stackMask = Flags.Mask(StackAddressSize());
        regs.Rsp = (regs.Rsp & ~stackMask) | (regs.Rbp & stackMask);
        ulong bp = Pop(size);
        WriteReg(size switch { 2 => Register.BP, 4 => Register.EBP, _ => Register.RBP }, bp);
    }
}
