using System.Runtime.CompilerServices;
using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>Operands: general-purpose registers, immediates, memory operands and the stack.</summary>
public sealed partial class X86Interpreter
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong Slot(Register r) => ref Unsafe.Add(ref _state.Registers.Rax, RegisterTable.Slot[(int)r]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadReg(Register r)
    {
        ulong v = Slot(r);
        switch (RegisterTable.Kind[(int)r])
        {
            case RegisterTable.Low8: return (byte)v;
            case RegisterTable.High8: return (byte)(v >> 8);
            case RegisterTable.Word: return (ushort)v;
            case RegisterTable.Dword: return (uint)v;
            case RegisterTable.Qword: return v;
            default: throw new EmulationUnsupportedException($"register {r} is not a general-purpose register");
        }
    }

    /// <summary>x86 register write rules: 8/16-bit merge, 32-bit zero-extends, 64-bit replaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteReg(Register r, ulong value)
    {
        ref ulong cell = ref Slot(r);
        switch (RegisterTable.Kind[(int)r])
        {
            case RegisterTable.Low8: cell = (cell & ~0xFFUL) | (value & 0xFF); break;
            case RegisterTable.High8: cell = (cell & ~0xFF00UL) | ((value & 0xFF) << 8); break;
            case RegisterTable.Word: cell = (cell & ~0xFFFFUL) | (value & 0xFFFF); break;
            case RegisterTable.Dword: cell = (uint)value; break;
            case RegisterTable.Qword: cell = value; break;
            default: throw new EmulationUnsupportedException($"register {r} is not a general-purpose register");
        }
    }

    /// <summary>The address-size mask of the memory operand (from its base/index/displacement sizes).</summary>
    private ulong AddressMask(in Instruction i)
    {
        int size = i.MemoryBase != Register.None ? RegisterTable.Size[(int)i.MemoryBase]
            : i.MemoryIndex != Register.None ? RegisterTable.Size[(int)i.MemoryIndex]
            : i.MemoryDisplSize;
        if (size == 0) size = _bitness / 8;
        return size switch { 2 => 0xFFFF, 4 => 0xFFFF_FFFF, _ => ulong.MaxValue };
    }

    /// <summary>Effective address (offset) of the memory operand, plus <paramref name="extra"/> bytes, wrapped to the address size.</summary>
    private ulong EffectiveAddress(in Instruction i, ulong extra = 0)
    {
        ulong ea;
        if (i.IsIPRelativeMemoryOperand)
        {
            ea = i.IPRelativeMemoryAddress;
        }
        else
        {
            ea = i.MemoryDisplacement64;
            Register b = i.MemoryBase, x = i.MemoryIndex;
            if (b != Register.None) ea += ReadReg(b);
            if (x != Register.None) ea += ReadReg(x) * (ulong)i.MemoryIndexScale;
        }
        return (ea + extra) & AddressMask(i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong MemoryLinear(in Instruction i, int size, bool write, ulong extra = 0) =>
        Linear(OperandAccess.Segment(i.MemorySegment), EffectiveAddress(i, extra), size, write);

    /// <summary>Operand size in bytes of operand <paramref name="n"/> (register or memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OperandSize(in Instruction i, int n) =>
        i.GetOpKind(n) == OpKind.Register ? RegisterTable.Size[(int)i.GetOpRegister(n)] : i.MemorySize.GetSize();

    /// <summary>Reads a register, memory or immediate operand (immediates sign/zero-extended as Iced defines, truncated to <paramref name="size"/>).</summary>
    internal ulong ReadOperand(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register: return ReadReg(i.GetOpRegister(n));
            case OpKind.Memory: return ReadLinear(MemoryLinear(i, size, false), size);
            default: return i.GetImmediate(n) & Flags.Mask(size);
        }
    }

    internal void WriteOperand(in Instruction i, int n, int size, ulong value)
    {
        if (i.GetOpKind(n) == OpKind.Register) WriteReg(i.GetOpRegister(n), value);
        else WriteLinear(MemoryLinear(i, size, true), size, value);
    }

    // ----- Stack -----

    /// <summary>Stack address size: 8 in 64-bit mode, else 4 or 2 by SS.B (2 in real/virtual-8086 mode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int StackAddressSize() => _stackSize;

    private ulong StackLinear(ulong sp, int size, bool write)
    {
        if (_is64)
        {
            if (!IsCanonical(sp) || !IsCanonical(sp + (ulong)(size - 1))) throw GuestFaultException.Ss(0);
            return sp;
        }
        return Linear(SegmentRegister.Ss, sp, size, write);
    }

    internal void Push(ulong value, int size)
    {
        ref var regs = ref _state.Registers;
        int ss = StackAddressSize();
        ulong mask = Flags.Mask(ss);
        ulong sp = (regs.Rsp - (ulong)size) & mask;
        WriteLinear(StackLinear(sp, size, true), size, value);
        regs.Rsp = (regs.Rsp & ~mask) | sp;
    }

    internal ulong Pop(int size)
    {
        ref var regs = ref _state.Registers;
        int ss = StackAddressSize();
        ulong mask = Flags.Mask(ss);
        ulong sp = regs.Rsp & mask;
        ulong value = ReadLinear(StackLinear(sp, size, false), size);
        regs.Rsp = (regs.Rsp & ~mask) | ((sp + (ulong)size) & mask);
        return value;
    }

    /// <summary>Reads the stack at RSP + <paramref name="offset"/> without popping.</summary>
    private ulong PeekStack(ulong offset, int size)
    {
        ulong mask = Flags.Mask(StackAddressSize());
        ulong sp = (_state.Registers.Rsp + offset) & mask;
        return ReadLinear(StackLinear(sp, size, false), size);
    }
}
