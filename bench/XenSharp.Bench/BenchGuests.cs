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
    /// <summary>GNTTABOP_copy operations per grant_table_op call in <see cref="GrantCopyLoop"/>.</summary>
    public const int GrantCopyBatch = 16;

    /// <summary>
    /// The grant copy loop: finds its own domain id (CPUID leaf 0x40000004, ECX), places grant
    /// frame 0 (XENMEM_add_to_physmap, XENMAPSPACE_grant_table), grants itself 16 source pages
    /// (grant_entry_v1, refs 0..15, GTF_permit_access) and builds a batch of 16 gnttab_copy ops,
    /// each copying a whole 4 KiB page from a grant ref (GNTCOPY_source_gref, the numeric own
    /// id) to one of 16 destination pages named by gmfn (DOMID_SELF). Writes 'S' to port 0xE9,
    /// makes <paramref name="iterations"/> grant_table_op(GNTTABOP_copy, ops, 16) calls, checks
    /// every call returned 0, op 0's status is GNTST_okay and the first and last destination
    /// pages hold their source's marker, then writes 'E' (or 'F' on any failure) and halts.
    /// </summary>
    public static byte[] GrantCopyLoop(int iterations)
    {
        const uint args = 0x105000, grantFrame = 0x110000, ops = 0x111000, src = 0x120000, dst = 0x130000;
        const uint domidSelf = 0x7FF0, marker = 0xC0DE0000;
        const int opSize = 24; // struct gnttab_copy, 32-bit layout (source @0, dest @8, len @16, flags @18, status @20)
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        var fail = a.CreateLabel();
        var hang = a.CreateLabel();
        a.mov(esp, 0x180000);
        a.mov(ecx, 0x40000000);
        a.mov(eax, HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        // Own domain id: CPUID 0x40000004 sub-leaf 0, ECX, valid if EAX has XEN_HVM_CPUID_DOMID_PRESENT.
        a.mov(eax, 0x40000004);
        a.xor(ecx, ecx);
        a.cpuid();
        a.test(eax, 1 << 4);
        a.jz(fail);
        a.mov(edi, ecx);
        // Grant frame 0 at grantFrame: xen_add_to_physmap {domid DOMID_SELF, size 0, space 1, idx 0, gpfn}.
        a.mov(__dword_ptr[args], domidSelf); a.mov(__dword_ptr[args + 4], 1u);
        a.mov(__dword_ptr[args + 8], 0u); a.mov(__dword_ptr[args + 12], grantFrame >> 12);
        a.mov(ebx, 7u); a.mov(ecx, args); a.call(HypercallPage + 12 * 32);
        a.test(eax, eax);
        a.jnz(fail);
        // grant_entry_v1 {u16 flags; u16 domid; u32 frame}: frame first, then flags|domid (activates it).
        a.mov(eax, edi);
        a.shl(eax, 16);
        a.or(eax, 1); // GTF_permit_access
        for (uint i = 0; i < GrantCopyBatch; i++)
        {
            uint page = src + i * 4096;
            a.mov(__dword_ptr[page], marker + i);
            a.mov(__dword_ptr[grantFrame + i * 8 + 4], (page >> 12));
            a.mov(__dword_ptr[grantFrame + i * 8], eax);
            uint op = ops + i * opSize;
            a.mov(__dword_ptr[op], i);                               // source.u.ref
            a.mov(__dword_ptr[op + 4], edi);                         // source.domid = own id, offset 0
            a.mov(__dword_ptr[op + 8], (dst + i * 4096) >> 12);      // dest.u.gmfn
            a.mov(__dword_ptr[op + 12], domidSelf);                  // dest.domid, offset 0
            a.mov(__dword_ptr[op + 16], 0x0001_1000u);               // len 4096, flags GNTCOPY_source_gref
            a.mov(__dword_ptr[op + 20], 0xFFFFu);                    // status (poisoned), pad
        }
        a.mov(al, (byte)'S');
        a.@out(0xE9, al);
        a.mov(esi, (uint)iterations);
        a.Label(ref loop);
        a.mov(ebx, 5u);               // GNTTABOP_copy
        a.mov(ecx, ops);
        a.mov(edx, (uint)GrantCopyBatch);
        a.call(HypercallPage + 20 * 32);
        a.test(eax, eax);
        a.jnz(fail);
        a.dec(esi);
        a.jnz(loop);
        a.cmp(__word_ptr[ops + 20], 0);
        a.jne(fail);
        a.cmp(__dword_ptr[dst], marker);
        a.jne(fail);
        a.cmp(__dword_ptr[dst + (GrantCopyBatch - 1) * 4096], marker + GrantCopyBatch - 1);
        a.jne(fail);
        a.mov(al, (byte)'E');
        a.@out(0xE9, al);
        a.jmp(hang);
        a.Label(ref fail);
        a.mov(al, (byte)'F');
        a.@out(0xE9, al);
        a.Label(ref hang);
        a.cli();
        a.hlt();
        a.jmp(hang);
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), Load);
        return new PvhElfWriter { Image = s.ToArray(), LoadAddress = Load, EntryAddress = Load, BssSize = 0x80000 }.Build();
    }
}
