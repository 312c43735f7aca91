using System.Diagnostics;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// One guest's view of its domain for event-channel tests: hypercalls made as one of its vCPUs,
/// the EVTCHNOP_* structures of event_channel.h laid out in its RAM, and what it reads back from
/// its 64-bit shared_info (pending/mask bitmaps) and vcpu_info (evtchn_upcall_pending,
/// evtchn_upcall_mask, evtchn_pending_sel).
/// </summary>
internal sealed class EventGuest(Domain domain)
{
    /// <summary>Where hypercall argument structures go.</summary>
    public const ulong Arg = TestDomain.Arg;
    /// <summary>Guest frame 0x30: where shared_info is placed.</summary>
    public const ulong SharedInfo = 0x30000;
    /// <summary>struct shared_info (x86_64): vcpu_info[32] of 64 bytes, then evtchn_pending[64], evtchn_mask[64] (u64 words).</summary>
    public const ulong PendingOffset = 2048, MaskOffset = 2048 + 512;
    /// <summary>Port numbers a 64-bit guest's 2-level bitmaps address.</summary>
    public const int Ports64 = 64 * 64;

    public Domain Domain { get; } = domain;
    public GuestMemory Memory => Domain.Memory;
    public int Id => Domain.Id;

    public long Call(HypercallNumber number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, bool is64 = true, int vcpu = 0) =>
        HypercallDispatcher.Invoke((uint)number, new HypercallContext(Domain.Vcpus[vcpu], is64, a1, a2, a3, 0, 0));

    public void Poke<T>(ulong gpa, T value) where T : unmanaged => Assert.True(Memory.TryWrite(gpa, value));

    public T Peek<T>(ulong gpa) where T : unmanaged
    {
        Assert.True(Memory.TryRead(gpa, out T value));
        return value;
    }

    // ------------------------------------------------------------------ shared_info / vcpu_info

    /// <summary>XENMEM_add_to_physmap(XENMAPSPACE_shared_info) at frame 0x30, as a 64-bit guest.</summary>
    public void PlaceSharedInfo()
    {
        Poke(Arg + 0x800, DomId.Self);
        Poke(Arg + 0x802, (ushort)0);
        Poke(Arg + 0x804, (uint)MemoryOp.MapSpaceSharedInfo);
        Poke(Arg + 0x808, 0UL);
        Poke(Arg + 0x810, SharedInfo >> 12);
        Assert.Equal(0, Call(HypercallNumber.MemoryOp, MemoryOp.AddToPhysmap, Arg + 0x800));
    }

    private static ulong WordOf(ulong bitmap, uint port) => SharedInfo + bitmap + port / 64 * 8;
    private static ulong BitOf(uint port) => 1UL << (int)(port % 64);

    public bool Pending(uint port) => (Peek<ulong>(WordOf(PendingOffset, port)) & BitOf(port)) != 0;
    public bool Masked(uint port) => (Peek<ulong>(WordOf(MaskOffset, port)) & BitOf(port)) != 0;

    public void ClearPending(uint port) => Poke(WordOf(PendingOffset, port), Peek<ulong>(WordOf(PendingOffset, port)) & ~BitOf(port));

    public void SetPending(uint port) => Poke(WordOf(PendingOffset, port), Peek<ulong>(WordOf(PendingOffset, port)) | BitOf(port));

    public void Mask(uint port) => Poke(WordOf(MaskOffset, port), Peek<ulong>(WordOf(MaskOffset, port)) | BitOf(port));

    /// <summary>Whether any port at all is pending in shared_info.</summary>
    public bool AnyPending()
    {
        for (ulong w = 0; w < 64; w++)
            if (Peek<ulong>(SharedInfo + PendingOffset + w * 8) != 0) return true;
        return false;
    }

    private static ulong VcpuInfo(int vcpu) => SharedInfo + (ulong)(vcpu * 64);

    public bool UpcallPending(int vcpu = 0) => Peek<byte>(VcpuInfo(vcpu)) != 0;

    /// <summary>evtchn_pending_sel of the vCPU (64-bit layout: at offset 8 of vcpu_info).</summary>
    public ulong Selector(int vcpu = 0) => Peek<ulong>(VcpuInfo(vcpu) + 8);

    public bool SelectorHas(uint port, int vcpu = 0) => (Selector(vcpu) & (1UL << (int)(port / 64))) != 0;

    public void SetUpcallPending(int vcpu, bool pending) => Poke(VcpuInfo(vcpu), (byte)(pending ? 1 : 0));

    public void SetUpcallMask(int vcpu, bool masked) => Poke(VcpuInfo(vcpu) + 1, (byte)(masked ? 1 : 0));

    /// <summary>What a guest does after handling its events: clears the port's bit, the selector and evtchn_upcall_pending.</summary>
    public void Acknowledge(uint port, int vcpu = 0)
    {
        ClearPending(port);
        Poke(VcpuInfo(vcpu) + 8, 0UL);
        SetUpcallPending(vcpu, false);
    }

    /// <summary>Clears every pending bit, selector and upcall flag.</summary>
    public void AcknowledgeAll()
    {
        for (ulong w = 0; w < 64; w++) Poke(SharedInfo + PendingOffset + w * 8, 0UL);
        for (int v = 0; v < Domain.Vcpus.Count; v++)
        {
            Poke(VcpuInfo(v) + 8, 0UL);
            SetUpcallPending(v, false);
        }
    }

    // ------------------------------------------------------------------ EVTCHNOP_*

    private long Op(int cmd, ulong arg, bool is64 = true, int vcpu = 0) =>
        Call(HypercallNumber.EventChannelOp, (ulong)cmd, arg, is64: is64, vcpu: vcpu);

    /// <summary>struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port; }.</summary>
    public long AllocUnbound(ushort dom, ushort remoteDom, out uint port)
    {
        Poke(Arg, dom);
        Poke(Arg + 2, remoteDom);
        Poke(Arg + 4, 0xDEADBEEFu);
        long rc = Op(EventChannelOp.AllocUnbound, Arg);
        port = Peek<uint>(Arg + 4);
        return rc;
    }

    /// <summary>alloc_unbound for DOMID_SELF, offered to <paramref name="remoteDom"/>; asserts success.</summary>
    public uint Offer(int remoteDom)
    {
        Assert.Equal(0, AllocUnbound(DomId.Self, (ushort)remoteDom, out uint port));
        return port;
    }

    /// <summary>struct evtchn_bind_interdomain { domid_t remote_dom; evtchn_port_t remote_port; evtchn_port_t local_port; }.</summary>
    public long BindInterdomain(ushort remoteDom, uint remotePort, out uint localPort)
    {
        Poke(Arg, remoteDom);
        Poke(Arg + 4, remotePort);
        Poke(Arg + 8, 0xDEADBEEFu);
        long rc = Op(EventChannelOp.BindInterdomain, Arg);
        localPort = Peek<uint>(Arg + 8);
        return rc;
    }

    /// <summary>struct evtchn_bind_virq { u32 virq; u32 vcpu; evtchn_port_t port; }.</summary>
    public long BindVirq(uint virq, uint vcpu, out uint port)
    {
        Poke(Arg, virq);
        Poke(Arg + 4, vcpu);
        Poke(Arg + 8, 0xDEADBEEFu);
        long rc = Op(EventChannelOp.BindVirq, Arg);
        port = Peek<uint>(Arg + 8);
        return rc;
    }

    /// <summary>struct evtchn_bind_ipi { u32 vcpu; evtchn_port_t port; }.</summary>
    public long BindIpi(uint vcpu, out uint port, bool is64 = true)
    {
        Poke(Arg, vcpu);
        Poke(Arg + 4, 0xDEADBEEFu);
        long rc = Op(EventChannelOp.BindIpi, Arg, is64);
        port = Peek<uint>(Arg + 4);
        return rc;
    }

    /// <summary>struct evtchn_bind_vcpu { evtchn_port_t port; u32 vcpu; }.</summary>
    public long BindVcpu(uint port, uint vcpu)
    {
        Poke(Arg, port);
        Poke(Arg + 4, vcpu);
        return Op(EventChannelOp.BindVcpu, Arg);
    }

    public long Close(uint port)
    {
        Poke(Arg, port);
        return Op(EventChannelOp.Close, Arg);
    }

    /// <summary>EVTCHNOP_send; <paramref name="arg"/> lets a test thread send while another thread uses <see cref="Arg"/>.</summary>
    public long Send(uint port, ulong arg = Arg + 0x400, int vcpu = 0)
    {
        Poke(arg, port);
        return Op(EventChannelOp.Send, arg, vcpu: vcpu);
    }

    public long Unmask(uint port)
    {
        Poke(Arg, port);
        return Op(EventChannelOp.Unmask, Arg);
    }

    /// <summary>struct evtchn_reset { domid_t dom; }.</summary>
    public long Reset(ushort dom = DomId.Self)
    {
        Poke(Arg, dom);
        return Op(EventChannelOp.Reset, Arg);
    }

    /// <summary>What EVTCHNOP_status wrote: status, vcpu, and the union read as unbound/interdomain dom (u16 @16), interdomain port (u32 @20), virq (u32 @16).</summary>
    public readonly record struct StatusOut(uint Status, uint Vcpu, ushort Dom, uint Port, uint Virq);

    /// <summary>struct evtchn_status { domid_t dom; evtchn_port_t port; u32 status; u32 vcpu; union u @16; }.</summary>
    public long Status(ushort dom, uint port, out StatusOut status)
    {
        Poke(Arg, dom);
        Poke(Arg + 4, port);
        Poke(Arg + 8, 0xEEEEEEEEu);
        Poke(Arg + 12, 0xEEEEEEEEu);
        Poke(Arg + 16, 0xEEEEEEEEEEEEEEEEUL);
        long rc = Op(EventChannelOp.Status, Arg);
        status = new StatusOut(Peek<uint>(Arg + 8), Peek<uint>(Arg + 12), Peek<ushort>(Arg + 16), Peek<uint>(Arg + 20), Peek<uint>(Arg + 16));
        return rc;
    }

    /// <summary>EVTCHNOP_status of one of this domain's ports; asserts success.</summary>
    public StatusOut Status(uint port)
    {
        Assert.Equal(0, Status(DomId.Self, port, out var s));
        return s;
    }

    /// <summary>Polls <paramref name="condition"/> every millisecond for up to <paramref name="timeoutMs"/>.</summary>
    public static bool WaitFor(Func<bool> condition, int timeoutMs = 10_000)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs) return false;
            Thread.Sleep(1);
        }
        return true;
    }
}

/// <summary>
/// Two domains in one hypervisor on the fake accelerator (A: the <see cref="TestDomain"/>, B: a
/// second 2 MiB domain), each with its shared_info placed as a 64-bit guest.
/// </summary>
internal sealed class TwoDomains : IDisposable
{
    public TestDomain T { get; }
    public EventGuest A { get; }
    public EventGuest B { get; }

    public TwoDomains(int vcpusA = 2, int vcpusB = 2, bool sharedInfo = true)
    {
        T = new TestDomain(vcpus: vcpusA);
        A = new EventGuest(T.Domain);
        B = new EventGuest(CreateDomain("b", vcpusB));
        if (sharedInfo)
        {
            A.PlaceSharedInfo();
            B.PlaceSharedInfo();
        }
    }

    /// <summary>Another domain in the same hypervisor.</summary>
    public Domain CreateDomain(string name, int vcpus = 1) =>
        T.Hv.CreateDomain(name, Guid.NewGuid(), GuestMemory.Allocate([(0UL, TestDomain.RamSize)]), vcpus, 512, 1024);

    /// <summary>A offers a port to B and B binds it: (A's port, B's port). Pending state is cleared afterwards.</summary>
    public (uint PortA, uint PortB) Connect()
    {
        uint pa = A.Offer(B.Id);
        Assert.Equal(0, B.BindInterdomain((ushort)A.Id, pa, out uint pb));
        A.AcknowledgeAll();
        B.AcknowledgeAll();
        return (pa, pb);
    }

    public void Dispose() => T.Dispose();
}
