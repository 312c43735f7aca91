using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.X86Emulation.Tests;

/// <summary>
/// A synthetic vCPU: 4 MiB of guest memory with a GDT, IDT, TSS, stacks and (for long mode)
/// identity page tables, plus helpers to put the vCPU in real, protected or long mode.
/// </summary>
internal sealed class TestMachine : IDisposable
{
    public const ulong GdtBase = 0x1000, IdtBase = 0x2000, TssBase = 0x3000, Ist1Top = 0x7000, KernelStackTop = 0x9000,
        UserStackTop = 0xB000, CodeBase = 0x10000, PageTables = 0x20000;

    // GDT selectors.
    public const ushort Code32K = 0x08, DataK = 0x10, Code32U = 0x1B, DataU = 0x23, Code64K = 0x28, Code64U = 0x33,
        CodeNotPresent = 0x38, Tss = 0x40, Code16K = 0x50, Code32Conforming = 0x58;

    public GuestMemory Memory { get; } = GuestMemory.Allocate([(0UL, 4UL << 20)], "x86emu-test");
    public X86EmulationState State { get; }
    public X86InstructionEmulator Emulator { get; } = new();

    public TestMachine()
    {
        State = new X86EmulationState(Memory);
        SetGdt(Code32K, SegmentDescriptor.Encode(0, 0xFFFFF, 0xB, true, 0));
        SetGdt(DataK, SegmentDescriptor.Encode(0, 0xFFFFF, 0x3, true, 0));
        SetGdt(Code32U, SegmentDescriptor.Encode(0, 0xFFFFF, 0xB, true, 3));
        SetGdt(DataU, SegmentDescriptor.Encode(0, 0xFFFFF, 0x3, true, 3));
        SetGdt(Code64K, SegmentDescriptor.Encode(0, 0xFFFFF, 0xB, true, 0, l: true, db: false));
        SetGdt(Code64U, SegmentDescriptor.Encode(0, 0xFFFFF, 0xB, true, 3, l: true, db: false));
        SetGdt(CodeNotPresent, SegmentDescriptor.Encode(0, 0xFFFFF, 0xB, true, 0, present: false));
        SetGdt(Code16K, SegmentDescriptor.Encode(0, 0xFFFF, 0xB, true, 0, db: false, g: false));
        SetGdt(Code32Conforming, SegmentDescriptor.Encode(0, 0xFFFFF, 0xF, true, 0));
    }

    public void SetGdt(ushort selector, ulong descriptor) => Memory.Write(GdtBase + (ulong)(selector & ~7), BitConverter.GetBytes(descriptor));
    public ulong GetGdt(ushort selector) { Memory.TryRead(GdtBase + (ulong)(selector & ~7), out ulong v); return v; }

    public void Write64(ulong address, ulong value) => Memory.Write(address, BitConverter.GetBytes(value));
    public void Write32(ulong address, uint value) => Memory.Write(address, BitConverter.GetBytes(value));
    public void Write16(ulong address, ushort value) => Memory.Write(address, BitConverter.GetBytes(value));
    public ulong Read64(ulong address) { Memory.TryRead(address, out ulong v); return v; }
    public uint Read32(ulong address) { Memory.TryRead(address, out uint v); return v; }
    public ushort Read16(ulong address) { Memory.TryRead(address, out ushort v); return v; }

    public X86Segment Seg(ushort selector)
    {
        var s = new SegmentDescriptor(GetGdt(selector)).ToSegment(selector);
        s.Type |= 1;
        return s;
    }

    /// <summary>32-bit protected mode, paging off, at CPL <paramref name="cpl"/>.</summary>
    public void Protected32(int cpl = 0)
    {
        ref var sr = ref State.Special;
        sr.Cr0 = X86Flags.Cr0Pe | 0x10;
        sr.Cr4 = 0; sr.Efer = 0;
        sr.Cs = Seg(cpl == 0 ? Code32K : Code32U);
        var data = Seg(cpl == 0 ? DataK : DataU);
        sr.Ss = data; sr.Ds = data; sr.Es = data; sr.Fs = data; sr.Gs = data;
        sr.Gdt = new X86DescriptorTable { Base = GdtBase, Limit = 0xFFF };
        sr.Idt = new X86DescriptorTable { Base = IdtBase, Limit = 256 * 8 - 1 };
        sr.Tr = new X86Segment { Base = TssBase, Limit = 0x67, Selector = Tss, Type = 0xB, Present = 1 };
        Write32(TssBase + 4, (uint)KernelStackTop);
        Write32(TssBase + 8, DataK);
        State.Registers = default;
        State.Registers.Rflags = X86Flags.Fixed1;
        State.Registers.Rip = CodeBase;
        State.Registers.Rsp = cpl == 0 ? KernelStackTop - 0x100 : UserStackTop - 0x100;
    }

    /// <summary>64-bit mode with an identity 2 MiB user+writable page at 0, at CPL <paramref name="cpl"/>.</summary>
    public void Long64(int cpl = 0)
    {
        ref var sr = ref State.Special;
        sr.Cr0 = X86Flags.Cr0Pe | X86Flags.Cr0Pg | X86Flags.Cr0Wp | 0x10;
        sr.Cr4 = X86Flags.Cr4Pae;
        sr.Efer = X86Flags.EferLme | X86Flags.EferLma | X86Flags.EferNxe;
        sr.Cr3 = PageTables;
        Write64(PageTables, (PageTables + 0x1000) | 7);
        Write64(PageTables + 0x1000, (PageTables + 0x2000) | 7);
        Write64(PageTables + 0x2000, 0x0 | 0x87);
        sr.Cs = Seg(cpl == 0 ? Code64K : Code64U);
        var data = Seg(cpl == 0 ? DataK : DataU);
        sr.Ss = data; sr.Ds = data; sr.Es = data; sr.Fs = data; sr.Gs = data;
        sr.Gdt = new X86DescriptorTable { Base = GdtBase, Limit = 0xFFF };
        sr.Idt = new X86DescriptorTable { Base = IdtBase, Limit = 256 * 16 - 1 };
        sr.Tr = new X86Segment { Base = TssBase, Limit = 0x67, Selector = Tss, Type = 0xB, Present = 1 };
        Write64(TssBase + 4, KernelStackTop);      // RSP0
        Write64(TssBase + 36, Ist1Top);            // IST1
        State.Registers = default;
        State.Registers.Rflags = X86Flags.Fixed1;
        State.Registers.Rip = CodeBase;
        State.Registers.Rsp = cpl == 0 ? KernelStackTop - 0x100 : UserStackTop - 0x100;
    }

    /// <summary>Real mode, CS:IP = 0x1000:0, SS:SP = 0:0x8000.</summary>
    public void Real()
    {
        ref var sr = ref State.Special;
        sr = default;
        sr.Cr0 = 0x10;
        sr.Cs = new X86Segment { Selector = 0x1000, Base = 0x10000, Limit = 0xFFFF, Type = 0xB, S = 1, Present = 1 };
        var d = new X86Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, S = 1, Present = 1 };
        sr.Ss = d; sr.Ds = d; sr.Es = d; sr.Fs = d; sr.Gs = d;
        sr.Idt = new X86DescriptorTable { Base = 0, Limit = 0x3FF };
        State.Registers = default;
        State.Registers.Rflags = X86Flags.Fixed1;
        State.Registers.Rsp = 0x8000;
    }

    public void SetIdt32(byte vector, uint offset, ushort selector, byte type, int dpl, bool present = true)
    {
        var (low, _) = SegmentDescriptor.EncodeGate(offset, selector, type, dpl, present);
        Write64(IdtBase + vector * 8UL, low);
    }

    public void SetIdt64(byte vector, ulong offset, ushort selector, byte type, int dpl, int ist = 0, bool present = true)
    {
        var (low, high) = SegmentDescriptor.EncodeGate(offset, selector, type, dpl, present, ist);
        Write64(IdtBase + vector * 16UL, low);
        Write64(IdtBase + vector * 16UL + 8, high);
    }

    public EmulationResult Run(params byte[] bytes) => Emulator.Emulate(State, bytes);

    public void Dispose() => Memory.Dispose();
}
