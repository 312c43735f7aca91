using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// The hypercall page XenSharp writes into a guest when it writes the page's address to the
/// MSR that CPUID leaf 0x40000002 names. Entry N (32 bytes at N*32) is XenSharp's own stub:
/// <code>
///   b8 NN NN NN NN   mov eax, N
///   e6 9e            out 0x9e, al      ; traps to the hypervisor as an I/O exit
///   c3               ret
///   cc …             int3 padding
/// </code>
/// The I/O exit carries no data the hypervisor needs: the number is in EAX and the arguments
/// in the guest's registers (32-bit: EBX ECX EDX ESI EDI; 64-bit: RDI RSI RDX R10 R8). The
/// result is written back to RAX before the guest resumes after the OUT. The same stubs work in
/// 32- and 64-bit code.
/// </summary>
public static class HypercallPage
{
    /// <summary>The I/O port the stubs write to.</summary>
    public const ushort Port = 0x9E;
    public const int EntrySize = 32;
    public const int Entries = 4096 / EntrySize;

    /// <summary>Writes the page's contents into <paramref name="destination"/> (4096 bytes).</summary>
    public static void Build(Span<byte> destination)
    {
        destination[..4096].Fill(0xCC);
        for (int n = 0; n < Entries; n++)
        {
            var e = destination.Slice(n * EntrySize, EntrySize);
            e[0] = 0xB8;
            e[1] = (byte)n; e[2] = (byte)(n >> 8); e[3] = 0; e[4] = 0;
            e[5] = 0xE6; e[6] = (byte)Port;
            e[7] = 0xC3;
        }
    }

    /// <summary>Fills the guest page at <paramref name="gpa"/>; false if it is not guest RAM.</summary>
    public static bool Fill(GuestMemory memory, ulong gpa)
    {
        if (!memory.TryGetSpan(gpa, 4096, out var page)) return false;
        Build(page);
        return true;
    }
}
