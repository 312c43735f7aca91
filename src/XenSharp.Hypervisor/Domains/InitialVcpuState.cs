using XenSharp.Hypervisor.Cpu;

namespace XenSharp.Hypervisor.Domains;

/// <summary>Registers a vCPU starts with (from the domain builder or VCPUOP_initialise).</summary>
public sealed record InitialVcpuState(X86Registers Registers, X86SpecialRegisters SpecialRegisters)
{
    /// <summary>
    /// The PVH boot ABI's state (docs/misc/pvh.pandoc): 32-bit flat protected mode, paging off,
    /// CR0 = PE|ET, CR4 = 0, interrupts off, EBX = start_info, flat CS/DS/ES/SS, a 32-bit TSS
    /// with base 0 and limit 0x67.
    /// </summary>
    public static InitialVcpuState Pvh32(ulong entry, ulong startInfo, in X86SpecialRegisters template)
    {
        var regs = new X86Registers { Rip = entry, Rbx = startInfo, Rflags = 0x2 };
        var s = template;
        s.Cs = X86Segment.Flat(0x10, 0xB);  // execute/read, accessed
        s.Ds = s.Es = s.Ss = X86Segment.Flat(0x18, 0x3); // read/write, accessed
        s.Fs = s.Gs = X86Segment.Flat(0x18, 0x3);
        s.Tr = new X86Segment { Base = 0, Limit = 0x67, Selector = 0x20, Type = 0xB, Present = 1, S = 0 };
        s.Ldt = new X86Segment { Selector = 0, Type = 0x2, Present = 1, Limit = 0xFFFF, Unusable = 1 };
        s.Gdt = default;
        s.Idt = default;
        s.Cr0 = X86SpecialRegisters.Cr0Pe | X86SpecialRegisters.Cr0Et;
        s.Cr2 = s.Cr3 = s.Cr4 = 0;
        s.Efer = 0;
        return new InitialVcpuState(regs, s);
    }
}
