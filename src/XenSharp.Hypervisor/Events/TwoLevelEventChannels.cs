using System.Runtime.InteropServices;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// Xen's 2-level event-channel ABI, in the guest's own memory:
/// <code>
///   shared_info.evtchn_pending[] / evtchn_mask[]   one bit per port, in xen_ulong_t words
///   vcpu_info.evtchn_pending_sel                   one bit per pending word
///   vcpu_info.evtchn_upcall_pending                "look at the selector"
/// </code>
/// Marking port P pending: set its pending bit; if it was clear and the port is not masked,
/// set the word's selector bit in the notified vCPU's vcpu_info; if that was clear, set
/// evtchn_upcall_pending and wake the vCPU, which takes the upcall (callback vector) when it
/// can. Unmasking re-raises a port that became pending while masked. All updates are atomic
/// read-modify-writes on guest memory, because the guest changes the same words concurrently.
/// The word size is the guest's: 32 bits for 32-bit guests, 64 for 64-bit ones
/// (<see cref="Domain.SharedInfoIs32Bit"/>, latched like Xen from the guest's mode), so the
/// ABI addresses 32×32 = 1024 or 64×64 = 4096 ports.
/// </summary>
public sealed class TwoLevelEventChannels(Domain domain) : IEventChannelAbi
{
    private int PendingOffset => SharedInfoPage.EventPendingOffset(domain.Architecture); // 2048 on x86, 1536 on ARM

    private int WordBits => domain.SharedInfoIs32Bit ? 32 : 64;
    private int MaskOffset => PendingOffset + WordBits * WordBits / 8;
    private int SelectorOffset => domain.SharedInfoIs32Bit ? 4 : 8;

    public int PortLimit => WordBits * WordBits;

    /// <summary>Guest address of the word holding <paramref name="port"/>'s bit in the bitmap at <paramref name="offset"/>, 0 when there is none.</summary>
    private ulong WordAddress(int offset, int port, out int bit)
    {
        int bits = WordBits;
        bit = port % bits;
        if (domain.SharedInfoAddress == 0 || (uint)port >= (uint)(bits * bits)) return 0;
        return domain.SharedInfoAddress + (ulong)(offset + port / bits * bits / 8);
    }

    public void SetPending(int port, int vcpu)
    {
        ulong pending = WordAddress(PendingOffset, port, out int bit);
        if (pending == 0 || TestAndSet(pending, bit)) return;
        if (Test(WordAddress(MaskOffset, port, out _), bit)) return;
        RaiseSelector(vcpu, port / WordBits);
    }

    public void ClearPending(int port)
    {
        ulong pending = WordAddress(PendingOffset, port, out int bit);
        if (pending != 0) Clear(pending, bit);
    }

    public bool IsPending(int port) => Test(WordAddress(PendingOffset, port, out int bit), bit);

    public bool IsMasked(int port) => Test(WordAddress(MaskOffset, port, out int bit), bit);

    public void Unmask(int port, int vcpu)
    {
        ulong mask = WordAddress(MaskOffset, port, out int bit);
        if (mask == 0) return;
        Clear(mask, bit);
        if (IsPending(port)) RaiseSelector(vcpu, port / WordBits);
    }

    private void RaiseSelector(int vcpu, int word)
    {
        if ((uint)vcpu >= (uint)domain.Vcpus.Count) return;
        var v = domain.Vcpus[vcpu];
        ulong info = v.VcpuInfoGuestAddress;
        if (info == 0 || TestAndSet(info + (ulong)SelectorOffset, word)) return;
        v.RaiseUpcall();
    }

    private bool TestAndSet(ulong gpa, int bit)
    {
        if (WordBits == 32)
        {
            if (gpa % 4 != 0 || !domain.Memory.TryGetSpan(gpa, 4, out var s)) return true;
            int mask = 1 << bit;
            return (Interlocked.Or(ref MemoryMarshal.Cast<byte, int>(s)[0], mask) & mask) != 0;
        }
        if (gpa % 8 != 0 || !domain.Memory.TryGetSpan(gpa, 8, out var s8)) return true;
        long m = 1L << bit;
        return (Interlocked.Or(ref MemoryMarshal.Cast<byte, long>(s8)[0], m) & m) != 0;
    }

    private bool Test(ulong gpa, int bit) =>
        gpa != 0 && (WordBits == 32
            ? domain.Memory.TryRead(gpa, out uint w) && (w & (1u << bit)) != 0
            : domain.Memory.TryRead(gpa, out ulong w64) && (w64 & (1UL << bit)) != 0);

    private void Clear(ulong gpa, int bit)
    {
        if (WordBits == 32)
        {
            if (gpa % 4 == 0 && domain.Memory.TryGetSpan(gpa, 4, out var s))
                Interlocked.And(ref MemoryMarshal.Cast<byte, int>(s)[0], ~(1 << bit));
        }
        else if (gpa % 8 == 0 && domain.Memory.TryGetSpan(gpa, 8, out var s8))
            Interlocked.And(ref MemoryMarshal.Cast<byte, long>(s8)[0], ~(1L << bit));
    }
}
