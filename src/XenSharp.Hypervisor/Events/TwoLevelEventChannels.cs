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
/// (<see cref="Domain.SharedInfoIs32Bit"/>, latched like Xen from the guest's mode).
/// </summary>
public static class TwoLevelEventChannels
{
    private const int PendingOffset = SharedInfoPage.MaxLegacyVcpus * SharedInfoPage.VcpuInfoSize; // 2048

    private static int WordBits(Domain d) => d.SharedInfoIs32Bit ? 32 : 64;
    private static int MaskOffset(Domain d) => PendingOffset + WordBits(d) * WordBits(d) / 8;
    private static int SelectorOffset(Domain d) => d.SharedInfoIs32Bit ? 4 : 8;

    /// <summary>Marks <paramref name="port"/> pending for vCPU <paramref name="vcpu"/>; false when the guest has no shared_info yet.</summary>
    public static bool SetPending(Domain d, int port, int vcpu)
    {
        if (d.SharedInfoAddress == 0 || (uint)vcpu >= (uint)d.Vcpus.Count) return false;
        int bits = WordBits(d);
        int word = port / bits, bit = port % bits;
        if (word >= bits) return false;
        if (TestAndSet(d, d.SharedInfoAddress + (ulong)(PendingOffset + word * bits / 8), bit, bits)) return true;
        if (Test(d, d.SharedInfoAddress + (ulong)(MaskOffset(d) + word * bits / 8), bit, bits)) return true;
        RaiseSelector(d, d.Vcpus[vcpu], word);
        return true;
    }

    /// <summary>EVTCHNOP_unmask: clears the mask bit and re-raises the port if it is pending.</summary>
    public static void Unmask(Domain d, int port, int vcpu)
    {
        if (d.SharedInfoAddress == 0) return;
        int bits = WordBits(d);
        int word = port / bits, bit = port % bits;
        if (word >= bits) return;
        Clear(d, d.SharedInfoAddress + (ulong)(MaskOffset(d) + word * bits / 8), bit, bits);
        if (Test(d, d.SharedInfoAddress + (ulong)(PendingOffset + word * bits / 8), bit, bits) && (uint)vcpu < (uint)d.Vcpus.Count)
            RaiseSelector(d, d.Vcpus[vcpu], word);
    }

    private static void RaiseSelector(Domain d, Vcpu v, int word)
    {
        ulong info = v.VcpuInfoGuestAddress;
        if (info == 0) return;
        if (TestAndSet(d, info + (ulong)SelectorOffset(d), word, WordBits(d))) return;
        d.Memory.TryWrite(info + SharedInfoPage.UpcallPendingOffset, (byte)1);
        v.NotifyEvent();
    }

    /// <summary>Whether the vCPU's vcpu_info says an upcall is pending.</summary>
    public static bool UpcallPending(Vcpu v) =>
        v.VcpuInfoGuestAddress is var a and not 0 && v.Domain.Memory.TryRead(a + SharedInfoPage.UpcallPendingOffset, out byte p) && p != 0;

    private static bool TestAndSet(Domain d, ulong gpa, int bit, int bits)
    {
        if (bits == 32)
        {
            if (!d.Memory.TryGetSpan(gpa, 4, out var s) || gpa % 4 != 0) return true;
            int mask = 1 << bit;
            return (Interlocked.Or(ref MemoryMarshal.Cast<byte, int>(s)[0], mask) & mask) != 0;
        }
        if (!d.Memory.TryGetSpan(gpa, 8, out var s8) || gpa % 8 != 0) return true;
        long m = 1L << bit;
        return (Interlocked.Or(ref MemoryMarshal.Cast<byte, long>(s8)[0], m) & m) != 0;
    }

    private static bool Test(Domain d, ulong gpa, int bit, int bits) =>
        bits == 32
            ? d.Memory.TryRead(gpa, out uint w) && (w & (1u << bit)) != 0
            : d.Memory.TryRead(gpa, out ulong w64) && (w64 & (1UL << bit)) != 0;

    private static void Clear(Domain d, ulong gpa, int bit, int bits)
    {
        if (bits == 32)
        {
            if (d.Memory.TryGetSpan(gpa, 4, out var s) && gpa % 4 == 0)
                Interlocked.And(ref MemoryMarshal.Cast<byte, int>(s)[0], ~(1 << bit));
        }
        else if (d.Memory.TryGetSpan(gpa, 8, out var s8) && gpa % 8 == 0)
            Interlocked.And(ref MemoryMarshal.Cast<byte, long>(s8)[0], ~(1L << bit));
    }
}
