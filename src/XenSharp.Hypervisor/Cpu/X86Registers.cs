using System.Runtime.InteropServices;

namespace XenSharp.Hypervisor.Cpu;

/// <summary>
/// General-purpose registers of an x86 vCPU. The layout equals Linux's struct kvm_regs so the
/// KVM accelerator can hand out the shared kvm_run copy without converting.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct X86Registers
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;

    public const int Size = 144;

    /// <summary>RFLAGS.VM: virtual-8086 mode.</summary>
    public const ulong RflagsVm = 1UL << 17;
}

/// <summary>A segment register's visible and hidden parts (layout of struct kvm_segment).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct X86Segment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;

    /// <summary>A flat 4 GiB segment (code when <paramref name="type"/> has bit 3 set).</summary>
    public static X86Segment Flat(ushort selector, byte type, bool is64BitCode = false) => new()
    {
        Base = 0, Limit = 0xFFFFFFFF, Selector = selector, Type = type, Present = 1, Dpl = 0,
        Db = is64BitCode ? (byte)0 : (byte)1, S = 1, L = is64BitCode ? (byte)1 : (byte)0, G = 1,
    };
}

/// <summary>A descriptor-table register (layout of struct kvm_dtable).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct X86DescriptorTable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}

/// <summary>Segment, control and system registers (layout of struct kvm_sregs, 312 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct X86SpecialRegisters
{
    public X86Segment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public X86DescriptorTable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    public InterruptBitmap PendingInterrupts;

    [System.Runtime.CompilerServices.InlineArray(4)]
    public struct InterruptBitmap { private ulong _element; }

    public const int Size = 312;

    public const ulong Cr0Pe = 1, Cr0Et = 1 << 4, Cr0Pg = 1UL << 31;
    public const ulong EferLma = 1 << 10;

    /// <summary>Whether the vCPU executes 64-bit code (long mode with a 64-bit code segment).</summary>
    public readonly bool Is64BitMode => (Efer & EferLma) != 0 && Cs.L != 0;
}
