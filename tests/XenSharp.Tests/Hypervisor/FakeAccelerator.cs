using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// A test-only accelerator that runs nothing: Run returns at once, registers live in fields,
/// and every call the hypervisor makes is counted so tests can see it. Its CPUID table is a
/// small hand-made "host" table that includes KVM's own hypervisor leaves.
/// </summary>
internal sealed class FakeAccelerator(CpuidEntry[]? supportedCpuid = null) : IAccelerator
{
    private readonly CpuidEntry[] _cpuid = supportedCpuid ?? HostCpuid(umip: true);

    public string Name => "fake";
    public ReadOnlySpan<CpuidEntry> SupportedCpuid => _cpuid;
    public List<FakeVirtualMachine> Machines { get; } = new();

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory)
    {
        var vm = new FakeVirtualMachine(memory);
        lock (Machines) Machines.Add(vm);
        return vm;
    }

    /// <summary>APIC id the host table's leaf 1 reports (the policy must replace it).</summary>
    public const uint HostApicId = 7;
    /// <summary>Leaf 1 ECX of the host table: SSE3…AVX, hypervisor bit (31) clear.</summary>
    public const uint HostLeaf1Ecx = 0x7FFAFBBF;
    /// <summary>Leaf 1 EBX of the host table: APIC id 7, 16 logical CPUs, CLFLUSH size 8.</summary>
    public const uint HostLeaf1Ebx = (HostApicId << 24) | 0x00100800;
    /// <summary>Leaf 7 ECX bits other than UMIP (bit 30: SGX_LC, arbitrary but non-zero).</summary>
    public const uint HostLeaf7EcxOther = 0x40000000;

    /// <summary>A small Intel-like host table, with or without UMIP, plus KVM's 0x40000000 leaves.</summary>
    public static CpuidEntry[] HostCpuid(bool umip) =>
    [
        new(0x0, 0, 0x16, 0x756E6547, 0x6C65746E, 0x49656E69),                       // "GenuineIntel"
        new(0x1, 0, 0x000906EA, HostLeaf1Ebx, HostLeaf1Ecx, 0xBFEBFBFF),
        new(0x7, 0, 0, 0x029C67AF, HostLeaf7EcxOther | (umip ? 1u << 2 : 0), 0xBC000400, indexed: true),
        new(0xB, 0, 1, 2, 0x100, HostApicId, indexed: true),
        new(0xB, 1, 4, 12, 0x201, HostApicId, indexed: true),
        new(0x40000000, 0, 0x40000001, 0x4B4D564B, 0x564B4D56, 0x0000004D),          // "KVMKVMKVM\0\0\0"
        new(0x40000001, 0, 0x01007AFB, 0, 0, 0),                                      // KVM paravirt features
        new(0x80000000, 0, 0x80000008, 0, 0, 0),
        new(0x80000001, 0, 0, 0, 0x121, 0x2C100800),
    ];
}

internal sealed class FakeVirtualMachine(GuestMemory memory) : IX86VirtualMachine
{
    public GuestMemory Memory { get; } = memory;
    public List<FakeVcpu> Vcpus { get; } = new();
    public bool Disposed { get; private set; }

    public IVcpu CreateVcpu(int index, ReadOnlySpan<CpuidEntry> cpuid)
    {
        var v = new FakeVcpu(index, cpuid.ToArray());
        lock (Vcpus) Vcpus.Add(v);
        return v;
    }

    public void Dispose() => Disposed = true;
}

internal sealed class FakeVcpu(int index, CpuidEntry[] cpuid) : IVcpu
{
    private VcpuExit _exit;
    private X86Registers _registers;
    private X86SpecialRegisters _specialRegisters;
    private int _kicks;

    public int Index { get; } = index;
    /// <summary>The CPUID table the hypervisor gave this vCPU.</summary>
    public CpuidEntry[] Cpuid { get; } = cpuid;
    public int RunCount { get; private set; }
    public int DirtyCount { get; private set; }
    public int KickCount => Volatile.Read(ref _kicks);
    public bool Disposed { get; private set; }

    public void Run() => RunCount++;
    public ref VcpuExit Exit => ref _exit;
    public ref X86Registers Registers => ref _registers;
    public ref readonly X86SpecialRegisters SpecialRegisters => ref _specialRegisters;
    public void MarkRegistersDirty() => DirtyCount++;
    public void SetSpecialRegisters(in X86SpecialRegisters sregs) => _specialRegisters = sregs;
    public void SetRegisters(in X86Registers regs) => _registers = regs;
    public void CompleteMsrRead(ulong value, bool fault) { }
    public void CompleteMsrWrite(bool fault) { }
    public void CompleteIoRead(ulong value) { }
    /// <summary>The value of the last CompleteMmioRead.</summary>
    public ulong? MmioReadValue { get; private set; }
    public void CompleteMmioRead(ulong value) => MmioReadValue = value;
    public void Kick() => Interlocked.Increment(ref _kicks);

    private X86VcpuEvents _events;
    public int? QueuedVector { get; private set; }
    public (byte Vector, uint? ErrorCode)? InjectedException { get; private set; }
    public void QueueInterrupt(byte vector) => QueuedVector = vector;
    public bool InterruptQueued => QueuedVector is not null;
    public void CancelQueuedInterrupt() => QueuedVector = null;
    public void InjectException(byte vector, uint? errorCode) => InjectedException = (vector, errorCode);
    public ref readonly X86VcpuEvents Events => ref _events;
    public void SetEvents(in X86VcpuEvents events) => _events = events;
    public void Dispose() => Disposed = true;
}
