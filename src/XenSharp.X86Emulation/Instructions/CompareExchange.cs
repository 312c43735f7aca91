using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// CMPXCHG8B m64 / CMPXCHG16B m128 (Intel SDM vol. 2 "CMPXCHG8B/CMPXCHG16B").
/// Compares EDX:EAX (RDX:RAX) with the memory operand; equal → ZF = 1 and ECX:EBX (RCX:RBX) is
/// stored; different → ZF = 0 and the operand is loaded into EDX:EAX (RDX:RAX; in 64-bit mode the
/// 32-bit forms zero-extend). Only ZF changes. The destination is always accessed as a write (the
/// processor writes the old value back on failure), so it is translated for write (#PF W, Dirty set).
/// CMPXCHG16B on an address that is not 16-byte aligned → #GP(0).
///
/// Atomicity: the 8-byte form uses Interlocked.CompareExchange on the guest page when the operand
/// is 8-byte aligned. The 16-byte form (and a misaligned or page-crossing 8-byte operand) uses a
/// process-wide lock around read-compare-write: atomic against other emulated accesses only, not
/// against other vCPUs running natively on the same memory (.NET has no 128-bit compare-exchange).
/// The LOCK prefix is thus honoured as far as this limit allows; without it the same path is used.
/// </summary>
internal static class CompareExchange
{
    private static readonly Lock Wide = new();

    public static void Execute(X86EmulationState state, ulong linear, int size)
    {
        ref var regs = ref state.Registers;
        if (size == 16 && (linear & 15) != 0) throw GuestFaultException.Gp(0);
        PageAccess access = LinearMemory.ForCpl(state.Cpl, PageAccess.Write);
        ulong expectedLow = size == 8 ? (uint)regs.Rax | (regs.Rdx << 32) : regs.Rax;
        ulong expectedHigh = regs.Rdx;
        ulong newLow = size == 8 ? (uint)regs.Rbx | (regs.Rcx << 32) : regs.Rbx;
        ulong newHigh = regs.Rcx;
        bool equal;
        ulong oldLow, oldHigh = 0;

        if (size == 8 && (linear & 7) == 0 && LinearMemory.TryGetWritableSpan(state, linear, 8, access, out var span))
        {
            ref long cell = ref Unsafe.As<byte, long>(ref MemoryMarshal.GetReference(span));
            oldLow = (ulong)Interlocked.CompareExchange(ref cell, (long)newLow, (long)expectedLow);
            equal = oldLow == expectedLow;
        }
        else
        {
            Span<byte> buffer = stackalloc byte[16];
            var data = buffer[..size];
            lock (Wide)
            {
                // Translate for write first so a read-only page faults as a write.
                LinearMemory.Write(state, linear, ReadOnlySpan<byte>.Empty, access);
                LinearMemory.Read(state, linear, data, access);
                oldLow = BinaryPrimitives.ReadUInt64LittleEndian(data);
                if (size == 16) oldHigh = BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);
                equal = oldLow == expectedLow && (size == 8 || oldHigh == expectedHigh);
                if (equal)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(data, newLow);
                    if (size == 16) BinaryPrimitives.WriteUInt64LittleEndian(data[8..], newHigh);
                }
                LinearMemory.Write(state, linear, data, access);
            }
        }

        if (equal)
        {
            regs.Rflags |= X86Flags.ZF;
        }
        else
        {
            regs.Rflags &= ~X86Flags.ZF;
            if (size == 8)
            {
                regs.Rax = SetLow32(regs.Rax, (uint)oldLow, state.Is64BitMode);
                regs.Rdx = SetLow32(regs.Rdx, (uint)(oldLow >> 32), state.Is64BitMode);
            }
            else
            {
                regs.Rax = oldLow;
                regs.Rdx = oldHigh;
            }
        }
    }

    private static ulong SetLow32(ulong register, uint value, bool zeroExtend) =>
        zeroExtend ? value : (register & 0xFFFF_FFFF_0000_0000UL) | value;
}
