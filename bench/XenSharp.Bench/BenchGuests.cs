using Iced.Intel;
using XenSharp.Guests.Elf;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Bench;

/// <summary>Tiny PVH guests assembled for the benchmarks.</summary>
public static class BenchGuests
{
    public const uint Load = 0x100000;
    public const uint HypercallPage = 0x103000;

    /// <summary>
    /// Writes 'S' to port 0xE9, makes <paramref name="iterations"/> xen_version hypercalls
    /// through the hypercall page (the same loop as native/kvm_out_loop.c), writes 'E', halts.
    /// </summary>
    public static byte[] HypercallLoop(int iterations)
    {
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        a.mov(esp, 0x180000);
        a.mov(ecx, 0x40000000);
        a.mov(eax, HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(al, (byte)'S');
        a.@out(0xE9, al);
        a.mov(esi, (uint)iterations);
        a.Label(ref loop);
        a.xor(ebx, ebx);
        a.call(HypercallPage + 17 * 32);
        a.dec(esi);
        a.jnz(loop);
        a.mov(al, (byte)'E');
        a.@out(0xE9, al);
        var hang = a.CreateLabel();
        a.Label(ref hang);
        a.cli();
        a.hlt();
        a.jmp(hang);
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), Load);
        return new PvhElfWriter { Image = s.ToArray(), LoadAddress = Load, EntryAddress = Load, BssSize = 0x4000 }.Build();
    }

    /// <summary>
    /// The upcall round trip: sets up a GDT, an IDT with an interrupt gate on vector 0xF3,
    /// shared_info, the callback vector and an IPI event channel to itself; writes 'S' to port
    /// 0xE9, then <paramref name="iterations"/> times sends itself the event — XenSharp injects
    /// the callback vector, the handler clears the pending bits and IRETs (completed by
    /// XenSharp's emulator on this host) — then writes 'E' and halts.
    /// </summary>
    public static byte[] UpcallLoop(int iterations)
    {
        const uint gdt = 0x104000, idt = 0x104100, sharedInfo = 0x110000, args = 0x105000, port = 0x105100;
        const byte vector = 0xF3;
        var a = new Assembler(32);
        var handler = a.CreateLabel();
        var reload = a.CreateLabel();
        var loop = a.CreateLabel();
        var hang = a.CreateLabel();
        a.mov(esp, 0x180000);
        a.mov(ecx, 0x40000000);
        a.mov(eax, HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        // GDT: null, 0x08 flat code, 0x10 flat data; descriptor at gdt+0x20.
        a.mov(__dword_ptr[gdt], 0u); a.mov(__dword_ptr[gdt + 4], 0u);
        a.mov(__dword_ptr[gdt + 8], 0x0000FFFFu); a.mov(__dword_ptr[gdt + 12], 0x00CF9A00u);
        a.mov(__dword_ptr[gdt + 16], 0x0000FFFFu); a.mov(__dword_ptr[gdt + 20], 0x00CF9200u);
        a.mov(__word_ptr[gdt + 0x20], 23);
        a.mov(__dword_ptr[gdt + 0x22], gdt);
        a.lgdt(__[gdt + 0x20]);
        a.jmp(0x08, 0); // patched below: far jump to reload CS
        a.Label(ref reload);
        a.mov(eax, 0x10u);
        a.mov(ds, ax); a.mov(es, ax); a.mov(ss, ax);
        // IDT entry 0xF3: 32-bit interrupt gate to handler; descriptor at idt+0x800.
        a.mov(eax, 0xDEADBEEFu); // patched below: the handler's address
        a.mov(edx, eax);
        a.and(eax, 0xFFFF);
        a.or(eax, 0x00080000);
        a.mov(__dword_ptr[idt + vector * 8], eax);
        a.and(edx, 0xFFFF0000);
        a.or(edx, 0x8E00);
        a.mov(__dword_ptr[idt + vector * 8 + 4], edx);
        a.mov(__word_ptr[idt + 0x800], 0x7FF);
        a.mov(__dword_ptr[idt + 0x802], idt);
        a.lidt(__[idt + 0x800]);
        // shared_info at 0x110000: xen_add_to_physmap (32-bit layout).
        a.mov(__dword_ptr[args], 0x00007FF0u); a.mov(__dword_ptr[args + 4], 0u);
        a.mov(__dword_ptr[args + 8], 0u); a.mov(__dword_ptr[args + 12], sharedInfo >> 12);
        a.mov(ebx, 7u); a.mov(ecx, args); a.call(HypercallPage + 12 * 32);
        // HVM_PARAM_CALLBACK_IRQ = vector type | 0xF3.
        a.mov(__dword_ptr[args], 0x00007FF0u); a.mov(__dword_ptr[args + 4], 0u);
        a.mov(__dword_ptr[args + 8], (uint)vector); a.mov(__dword_ptr[args + 12], 0x02000000u);
        a.mov(ebx, 0u); a.mov(ecx, args); a.call(HypercallPage + 34 * 32);
        // EVTCHNOP_bind_ipi(vcpu 0) → port.
        a.mov(__dword_ptr[args], 0u);
        a.mov(ebx, 7u); a.mov(ecx, args); a.call(HypercallPage + 32 * 32);
        a.mov(eax, __dword_ptr[args + 4]);
        a.mov(__dword_ptr[port], eax);
        a.mov(__byte_ptr[sharedInfo + 1], 0); // unmask upcalls for vCPU 0
        a.sti();
        a.mov(al, (byte)'S');
        a.@out(0xE9, al);
        a.mov(esi, (uint)iterations);
        a.Label(ref loop);
        a.mov(ebx, 4u);            // EVTCHNOP_send
        a.mov(ecx, port);
        a.call(HypercallPage + 32 * 32);
        a.dec(esi);
        a.jnz(loop);
        a.mov(al, (byte)'E');
        a.@out(0xE9, al);
        a.Label(ref hang);
        a.cli();
        a.hlt();
        a.jmp(hang);
        // The upcall handler: clear upcall_pending, the selector and the port's pending bit; IRET.
        a.Label(ref handler);
        a.push(eax);
        a.inc(__dword_ptr[0x105200]);
        a.mov(__byte_ptr[sharedInfo], 0);
        a.mov(__dword_ptr[sharedInfo + 4], 0u);
        a.mov(eax, __dword_ptr[port]);
        a.btr(__dword_ptr[sharedInfo + 2048], eax);
        a.pop(eax);
        a.iretd();
        var s = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(s), Load, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var image = s.ToArray();
        // Patch the handler address (the imm32 of `mov eax, 0xDEADBEEF`).
        int imm = image.AsSpan().IndexOf(new byte[] { 0xEF, 0xBE, 0xAD, 0xDE });
        BitConverter.GetBytes((uint)result.GetLabelRIP(handler)).CopyTo(image, imm);
        // Patch the far jump (EA imm32 sel16) to land on `reload`.
        int far = Array.IndexOf(image, (byte)0xEA);
        ulong target = result.GetLabelRIP(reload);
        BitConverter.GetBytes((uint)target).CopyTo(image, far + 1);
        return new PvhElfWriter { Image = image, LoadAddress = Load, EntryAddress = Load, BssSize = 0x20000 }.Build();
    }
}
