using XenSharp.Abi.Arm;
using XenSharp.Devices.Arm;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.SoftArm64;

/// <summary>
/// One ARM guest's machine: its memory, vCPUs, and the platform at Xen's guest addresses — the
/// GICv3 distributor and redistributors (with LPIs, their tables in guest memory), the ITS, one
/// generic timer per vCPU on a system counter of <see cref="GenericTimer.DefaultFrequency"/>
/// that starts at 0 when the machine is made, and MMIO devices the toolstack attaches (the SBSA
/// UART). An access to an address outside RAM goes to the device whose window holds it; with
/// none, it leaves the accelerator as an MMIO exit.
/// </summary>
public sealed class SoftArm64VirtualMachine : IArmVirtualMachine
{
    /// <summary>SPIs the GIC offers (INTID 32..95): the SBSA UART's is 32 (GUEST_VPL011_SPI).</summary>
    public const int SpiCount = 64;

    /// <summary>Nanoseconds per system-counter tick at 62.5 MHz.</summary>
    internal const long NsPerTick = 16;

    private readonly SoftArm64Accelerator _accelerator;
    private readonly long _counterOriginNs = Hypervisor.Time.HostClock.NowNs();
    private IArmMmioDevice[] _devices = [];
    private SoftArm64Vcpu[] _vcpus = [];

    public GuestMemory Memory { get; }

    /// <summary>The interrupt controller (null until the vCPUs exist).</summary>
    public GicV3? Gic { get; private set; }

    /// <summary>The GICv3 ITS (null until the vCPUs exist).</summary>
    public GicV3Its? Its { get; private set; }

    internal SoftArm64VirtualMachine(SoftArm64Accelerator accelerator, GuestMemory memory)
    {
        _accelerator = accelerator;
        Memory = memory;
    }

    public IReadOnlyList<IArmVcpu> CreateVcpus(int count)
    {
        if (Gic is not null) throw new InvalidOperationException("the vCPUs of this machine already exist");
        var gic = new GicV3(count, SpiCount, Memory);
        Gic = gic;
        Its = new GicV3Its(gic, Memory);
        AddDevice(gic.Distributor);
        AddDevice(gic.Redistributors);
        AddDevice(Its);
        _vcpus = new SoftArm64Vcpu[count];
        for (int i = 0; i < count; i++) _vcpus[i] = new SoftArm64Vcpu(this, _accelerator, i);
        gic.InterruptStateChanged += v =>
        {
            if ((uint)v < (uint)_vcpus.Length) _vcpus[v].OnInterruptStateChanged();
        };
        return _vcpus;
    }

    /// <summary>
    /// Puts <paramref name="device"/> on the guest's physical address space. Its window must not
    /// overlap RAM or another device's.
    /// </summary>
    public void AddDevice(IArmMmioDevice device)
    {
        if (device.Size == 0 || Memory.Contains(device.BaseAddress, 1) || Memory.Contains(device.BaseAddress + device.Size - 1, 1))
            throw new ArgumentException($"device window 0x{device.BaseAddress:x}+0x{device.Size:x} is empty or in RAM", nameof(device));
        foreach (var d in _devices)
            if (device.BaseAddress < d.BaseAddress + d.Size && d.BaseAddress < device.BaseAddress + device.Size)
                throw new ArgumentException($"device window 0x{device.BaseAddress:x}+0x{device.Size:x} overlaps 0x{d.BaseAddress:x}+0x{d.Size:x}", nameof(device));
        _devices = [.. _devices, device]; // copy-on-write: vCPU threads read the array without a lock
    }

    /// <summary>The device whose window holds <paramref name="address"/>, or null.</summary>
    internal IArmMmioDevice? DeviceAt(ulong address)
    {
        foreach (var d in _devices)
            if (address - d.BaseAddress < d.Size) return d;
        return null;
    }

    /// <summary>The system counter: ticks of 62.5 MHz since the machine was made.</summary>
    internal ulong Counter() => (ulong)Math.Max(0, Hypervisor.Time.HostClock.NowNs() - _counterOriginNs) / NsPerTick;

    /// <summary>The host-clock time at which the counter reads <paramref name="ticks"/>.</summary>
    internal long CounterToHostNs(ulong ticks) =>
        ticks >= (ulong)(long.MaxValue / NsPerTick) - (ulong)Math.Max(0, _counterOriginNs / NsPerTick) ? long.MaxValue : _counterOriginNs + (long)ticks * NsPerTick;

    public void Dispose() { }
}
