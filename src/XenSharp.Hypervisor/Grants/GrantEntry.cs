using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// A snapshot of one grant entry, read once from the shared frame, so that every decision is
/// made on values the guest can no longer change underneath (the guest writes its table
/// concurrently). v1: { u16 flags; domid_t domid; u32 frame; }. v2: the 16-byte union whose
/// header is the same; <see cref="Frame"/> is full_page/sub_page.frame, <see cref="PageOff"/>
/// and <see cref="Length"/> are sub_page's, <see cref="TransDomId"/>/<see cref="TransRef"/>
/// transitive's. Each field group is one aligned load; the 32-bit header word (flags+domid)
/// is what the reading/writing flags are compare-exchanged against in v1.
/// </summary>
internal readonly struct GrantEntry
{
    public readonly int Header;
    public readonly ulong Frame;
    public readonly ushort PageOff;
    public readonly ushort Length;
    public readonly ushort TransDomId;
    public readonly uint TransRef;

    private GrantEntry(int header, ulong frame, uint middle)
    {
        Header = header;
        Frame = frame;
        PageOff = (ushort)middle;
        Length = (ushort)(middle >> 16);
        TransDomId = (ushort)middle;
        TransRef = (uint)frame;
    }

    public ushort Flags => (ushort)Header;
    public ushort DomId => (ushort)((uint)Header >> 16);
    public int Type => Flags & GrantEntryFlags.TypeMask;

    /// <summary>Reads a v1 entry (8 bytes at the start of <paramref name="entry"/>).</summary>
    public static GrantEntry ReadV1(Span<byte> entry) =>
        new(Volatile.Read(ref HeaderWord(entry)),
            Volatile.Read(ref Unsafe.As<byte, uint>(ref entry[GrantTableLayout.EntryV1Frame])), 0);

    /// <summary>Reads a v2 entry (16 bytes at the start of <paramref name="entry"/>).</summary>
    public static GrantEntry ReadV2(Span<byte> entry) =>
        new(Volatile.Read(ref HeaderWord(entry)),
            Volatile.Read(ref Unsafe.As<byte, ulong>(ref entry[GrantTableLayout.EntryV2Frame])),
            Volatile.Read(ref Unsafe.As<byte, uint>(ref entry[4])));

    /// <summary>The aligned 32-bit word holding flags (low half) and domid (high half).</summary>
    public static ref int HeaderWord(Span<byte> entry) => ref Unsafe.As<byte, int>(ref MemoryMarshal.GetReference(entry));

    /// <summary>Atomically sets bits of the u16 at <paramref name="offset"/> (2-aligned) of a frame, leaving its neighbour alone.</summary>
    public static void SetBits(Span<byte> frame, int offset, ushort bits)
    {
        ref int word = ref Unsafe.As<byte, int>(ref frame[offset & ~3]);
        Interlocked.Or(ref word, bits << ((offset & 2) * 8));
    }

    /// <summary>Atomically clears bits of the u16 at <paramref name="offset"/> (2-aligned) of a frame (Xen's lock andw).</summary>
    public static void ClearBits(Span<byte> frame, int offset, ushort bits)
    {
        ref int word = ref Unsafe.As<byte, int>(ref frame[offset & ~3]);
        Interlocked.And(ref word, ~(bits << ((offset & 2) * 8)));
    }

    /// <summary>Reads the u16 at <paramref name="offset"/> of a frame once.</summary>
    public static ushort ReadU16(Span<byte> frame, int offset) => Volatile.Read(ref Unsafe.As<byte, ushort>(ref frame[offset]));
}
