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
}
