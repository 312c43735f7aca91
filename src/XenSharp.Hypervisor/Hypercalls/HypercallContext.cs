using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// One hypercall in flight: who made it and its five arguments, already taken from the
/// registers of the guest's calling convention (32-bit: EBX ECX EDX ESI EDI, zero-extended;
/// 64-bit: RDI RSI RDX R10 R8). <see cref="Is64"/> picks struct layouts that differ between
/// 32- and 64-bit guests (longs and handles).
/// </summary>
public readonly ref struct HypercallContext
{
    public readonly Vcpu Vcpu;
    public readonly ulong A1, A2, A3, A4, A5;
    public readonly bool Is64;

    public HypercallContext(Vcpu vcpu, bool is64, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        Vcpu = vcpu; Is64 = is64; A1 = a1; A2 = a2; A3 = a3; A4 = a4; A5 = a5;
    }

    public Domain Domain => Vcpu.Domain;
    public GuestMemory Memory => Vcpu.Domain.Memory;

    /// <summary>Size of a guest `unsigned long` / `xen_ulong_t` / guest handle.</summary>
    public int LongSize => Is64 ? 8 : 4;

    /// <summary>Reads a guest `unsigned long`-sized value (a handle or xen_pfn_t) at gpa.</summary>
    public bool TryReadLong(ulong gpa, out ulong value)
    {
        if (Is64) return Memory.TryRead(gpa, out value);
        bool ok = Memory.TryRead(gpa, out uint v32);
        value = v32;
        return ok;
    }

    /// <summary>Whether <paramref name="domid"/> names the calling domain (DOMID_SELF or its own id).</summary>
    public bool IsSelf(ushort domid) => domid == Abi.Hypercalls.DomId.Self || domid == Domain.Id;
}
