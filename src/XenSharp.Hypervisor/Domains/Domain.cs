using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Console;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A Xen domain: its memory, vCPUs, HVM parameters, event channels and console, and its
/// life from creation to destruction. The domain reports a shutdown (poweroff, reboot, crash…)
/// once through <see cref="ShutdownRequested"/>; what happens next (destroy, restart,
/// preserve) is the toolstack's decision, as in Xen.
/// </summary>
public sealed class Domain : IDisposable
{
    private readonly IVirtualMachine _vm;
    private readonly Vcpu[] _vcpus;
    private readonly ulong[] _hvmParams = new ulong[HvmParam.Count];
    private readonly object _lock = new();
    private int _shutdownReported;
    private bool _started;

    public int Id { get; }
    public string Name { get; set; }
    /// <summary>The guest's instruction set (from the accelerator that runs it): it picks ABI layouts such as vcpu_info's size.</summary>
    public GuestArchitecture Architecture { get; }
    public Guid Uuid { get; }
    public GuestMemory Memory { get; }
    public XenHypervisor Hypervisor { get; }
    public DateTime CreatedAt { get; } = DateTime.UtcNow;
    /// <summary><see cref="Time.HostClock"/> when the domain was created: system time 0.</summary>
    public long CreatedNs { get; } = Time.HostClock.NowNs();
    /// <summary>The domain's system time: nanoseconds since it was created (monotonic).</summary>
    public long SystemTimeNs => Time.HostClock.NowNs() - CreatedNs;
    public DomainState State { get; private set; } = DomainState.Paused;
    public ShutdownReason? ShutdownReason { get; private set; }
    /// <summary>Why the domain crashed, when the hypervisor (not the guest) decided so.</summary>
    public string? CrashDetail { get; private set; }

    /// <summary>Pages of RAM the domain holds (XENMEM_current_reservation).</summary>
    public ulong CurrentPages { get; }
    /// <summary>The domain's memory ceiling in pages (XENMEM_maximum_reservation); `xl mem-max` changes it.</summary>
    public ulong MaxPages { get; set; }

    /// <summary>Guest-physical addresses at or above this are never backed (39 address bits, as CPUID says).</summary>
    public const ulong PhysicalAddressLimit = 1UL << 39;

    /// <summary>The interrupt controllers' MMIO window: never shadowed by a placed frame.</summary>
    private const ulong ApicWindowStart = 0xFEC0_0000, ApicWindowEnd = 0xFF00_0000;

    private int _framesOutsideRam;

    /// <summary>
    /// Makes sure guest frame <paramref name="gpa"/> has memory behind it before Xen places a page
    /// there (XENMEM_add_to_physmap of shared_info or a grant frame): a gfn in RAM already has;
    /// a gfn in a hole of the memory map gets a fresh page, as Xen maps its own page at any gfn
    /// the guest names. Bounded per domain (two per grant frame, a few more), so a hostile guest
    /// cannot make the host allocate without limit; the APIC window and addresses beyond the
    /// physical-address width are refused, and on ARM everything below the grant-table window (the
    /// GIC, ITS, UART and other device windows).
    /// </summary>
    public bool EnsureFrameBacked(ulong gpa)
    {
        if ((gpa & 0xFFF) != 0) return false;
        if (Memory.Contains(gpa, 4096)) return true;
        if (gpa >= PhysicalAddressLimit || (gpa < ApicWindowEnd && gpa + 4096 > ApicWindowStart)) return false;
        if (Architecture == GuestArchitecture.Arm64 && gpa < Abi.Arm.ArmGuestLayout.GrantTableBase) return false; // ARM's device windows
        int limit = 2 * Grants.MaxFrames + 8;
        if (Interlocked.Increment(ref _framesOutsideRam) > limit || !Memory.TryAddRegion(gpa, 4096, out _))
        {
            Interlocked.Decrement(ref _framesOutsideRam);
            return false;
        }
        return true;
    }

    /// <summary>The guest-physical memory map given to the guest (start_info and XENMEM_memory_map).</summary>
    public IReadOnlyList<MemoryMapEntry> MemoryMap { get; set; } = [];

    /// <summary>Guest-physical address of shared_info once the guest placed it (XENMAPSPACE_shared_info), else 0.</summary>
    public ulong SharedInfoAddress { get; set; }

    public EventChannelTable EventChannels { get; }

    /// <summary>The scheduler's view of the domain (weight, cap, pool), or null when the hypervisor runs without a scheduler.</summary>
    public XenSharp.Scheduling.SchedDomain? Sched { get; }

    /// <summary>
    /// Where pending/masked bits live: the 2-level ABI until the guest switches to FIFO
    /// (EVTCHNOP_init_control), and back to 2-level on EVTCHNOP_reset.
    /// </summary>
    public IEventChannelAbi EventAbi { get; set; }

    /// <summary>The domain's grant table (GNTTABOP_*, XENMAPSPACE_grant_table; host backends map grants through it).</summary>
    public Grants.GrantTable Grants { get; }

    private FifoEventChannels? _fifo;

    /// <summary>The domain's FIFO ABI state, created at the first EVTCHNOP_init_control.</summary>
    public FifoEventChannels FifoAbi => _fifo ??= new FifoEventChannels(this);

    /// <summary>EVTCHNOP_reset: back to the 2-level ABI; FIFO control blocks and array pages are forgotten.</summary>
    public void ResetEventAbi()
    {
        EventAbi = TwoLevelAbi;
        _fifo = null;
    }

    /// <summary>The 2-level ABI object of this domain (the default <see cref="EventAbi"/>).</summary>
    public TwoLevelEventChannels TwoLevelAbi { get; }

    /// <summary>
    /// Whether shared_info uses the 32-bit layout (xen_ulong_t of 32 bits). Latched, as Xen
    /// does for HVM guests, from the guest's mode when it places shared_info or sets its
    /// event callback.
    /// </summary>
    public bool SharedInfoIs32Bit { get; set; } = true;

    /// <summary>HVM_PARAM_CALLBACK_IRQ's vector when it is of the vector type (2 in bits 63:56), else null.</summary>
    public byte? CallbackVector
    {
        get
        {
            ulong v = _hvmParams[Abi.Hypercalls.HvmParam.CallbackIrq];
            return (v >> 56) == 2 ? (byte)v : null;
        }
    }

    /// <summary>console_io and port 0xE9 output, collected into "(dN)" lines of the hypervisor log.</summary>
    public GuestConsoleLineBuffer ConsoleIo { get; }

    /// <summary>Sees each byte written to port 0xE9 (benchmarks time the first one).</summary>
    public Action<byte>? DebugPortObserver { get; set; }

    /// <summary>Raised once, on a thread pool thread, when the domain shuts down for any reason.</summary>
    public event Action<Domain, ShutdownReason>? ShutdownRequested;

    internal Domain(XenHypervisor hypervisor, int id, string name, Guid uuid, GuestMemory memory,
                    IVirtualMachine vm, int vcpuCount, ulong currentPages, ulong maxPages)
    {
        Hypervisor = hypervisor;
        Id = id;
        Name = name;
        Uuid = uuid;
        Memory = memory;
        _vm = vm;
        CurrentPages = currentPages;
        MaxPages = maxPages;
        ConsoleIo = new GuestConsoleLineBuffer(id, hypervisor.Log);
        if (hypervisor.Scheduler is not null) Sched = new XenSharp.Scheduling.SchedDomain(id, name);
        _vcpus = new Vcpu[vcpuCount];
        try
        {
            switch (vm)
            {
                case IX86VirtualMachine x86:
                    Architecture = GuestArchitecture.X86;
                    var accelerator = hypervisor.AcceleratorFor(GuestArchitecture.X86);
                    for (int i = 0; i < vcpuCount; i++)
                        _vcpus[i] = new Vcpu(this, i, x86.CreateVcpu(i, CpuidPolicy.ForVcpu(accelerator.SupportedCpuid, id, i)));
                    break;
                case IArmVirtualMachine arm:
                    Architecture = GuestArchitecture.Arm64;
                    var cpus = arm.CreateVcpus(vcpuCount);
                    for (int i = 0; i < vcpuCount; i++)
                        _vcpus[i] = new Vcpu(this, i, cpus[i]);
                    break;
                default:
                    throw new ArgumentException($"unknown kind of virtual machine {vm.GetType().Name}", nameof(vm));
            }
        }
        catch
        {
            foreach (var v in _vcpus) v?.Dispose();
            throw;
        }
        EventChannels = new EventChannelTable(this);
        TwoLevelAbi = new TwoLevelEventChannels(this);
        EventAbi = TwoLevelAbi;
        Grants = new Grants.GrantTable(this);
    }

    public IReadOnlyList<Vcpu> Vcpus => _vcpus;

    /// <summary>The accelerator's machine this domain runs on (ARM platform devices are attached to it).</summary>
    public IVirtualMachine Machine => _vm;

    /// <summary>Total guest CPU time of all vCPUs.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            var t = TimeSpan.Zero;
            foreach (var v in _vcpus) t += v.CpuTime;
            return t;
        }
    }

    /// <summary>An event became pending: vCPUs in SCHEDOP_poll look at their ports again.</summary>
    public void WakePollers()
    {
        foreach (var v in _vcpus)
            if (v.IsPolling) v.Wake();
    }

    public ulong GetHvmParam(int index) => _hvmParams[index];
    public void SetHvmParam(int index, ulong value) => _hvmParams[index] = value;

    /// <summary>
    /// Starts the boot vCPU (vCPU 0) of a domain created paused, or resumes the vCPUs of a
    /// domain paused by <see cref="Pause"/>. Does nothing unless the domain is paused.
    /// </summary>
    public void Unpause()
    {
        bool first;
        lock (_lock)
        {
            if (State != DomainState.Paused) return;
            State = DomainState.Running;
            first = !_started;
            _started = true;
            if (!first)
                foreach (var v in _vcpus) v.Resume();
        }
        if (first) _vcpus[0].Start();
    }

    /// <summary>
    /// Pauses a running domain (xl pause): every vCPU stops at its next exit and keeps its
    /// state; <see cref="Unpause"/> resumes them. False when the domain is not running (a
    /// domain already paused stays paused).
    /// </summary>
    public bool Pause()
    {
        lock (_lock)
        {
            if (State == DomainState.Paused) return true;
            if (State != DomainState.Running) return false;
            State = DomainState.Paused;
            foreach (var v in _vcpus) v.Pause();
        }
        return true;
    }

    /// <summary>Whether the domain was ever unpaused (its boot vCPU started).</summary>
    public bool Started => _started;

    /// <summary>The guest (or the hypervisor on its behalf) shuts the domain down.</summary>
    public void Shutdown(ShutdownReason reason)
    {
        lock (_lock)
        {
            if (State is DomainState.Shutdown or DomainState.Dying or DomainState.Destroyed) return;
            State = DomainState.Shutdown;
            ShutdownReason = reason;
        }
        Hypervisor.Log.Xen($"d{Id}: shutdown: {reason.ToString().ToLowerInvariant()}");
        foreach (var v in _vcpus) v.RequestStop();
        ConsoleIo.Flush();
        if (Interlocked.Exchange(ref _shutdownReported, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(_ => ShutdownRequested?.Invoke(this, reason), null);
    }

    /// <summary>The domain crashed for a reason the hypervisor saw (triple fault, emulation failure).</summary>
    public void Crash(string detail)
    {
        CrashDetail ??= detail;
        Hypervisor.Log.Xen($"d{Id}: crashed: {detail}", Console.ConsoleLog.Level.Error);
        Shutdown(Abi.Hypercalls.ShutdownReason.Crash);
    }

    private int _memoryUsers;
    private volatile bool _memoryClosing;

    /// <summary>
    /// Lets another domain or a host backend use this domain's memory (interdomain events,
    /// grant copies and mappings) without racing its destruction: true when the memory is
    /// alive, and then it stays alive until the matching <see cref="ExitMemory"/>.
    /// <see cref="Destroy"/> waits for every user to leave before unmapping it; keep the
    /// section short (one operation, no blocking).
    /// </summary>
    public bool TryEnterMemory()
    {
        Interlocked.Increment(ref _memoryUsers);
        if (!_memoryClosing) return true;
        Interlocked.Decrement(ref _memoryUsers);
        return false;
    }

    /// <summary>Ends a <see cref="TryEnterMemory"/> section.</summary>
    public void ExitMemory() => Interlocked.Decrement(ref _memoryUsers);

    private void CloseMemory()
    {
        _memoryClosing = true;
        var spin = new SpinWait();
        while (Volatile.Read(ref _memoryUsers) != 0) spin.SpinOnce();
        Memory.Dispose();
    }

    /// <summary>Raised while the domain is being destroyed, after its vCPUs stopped and before its memory goes (backends and peers let go).</summary>
    public event Action<Domain>? Destroying;

    /// <summary>Stops every vCPU and waits for their threads; the domain keeps its memory.</summary>
    public void Stop()
    {
        foreach (var v in _vcpus) v.Stop();
    }

    /// <summary>Stops every vCPU and releases the domain's memory and VM.</summary>
    public void Destroy()
    {
        lock (_lock)
        {
            if (State is DomainState.Dying or DomainState.Destroyed) return;
            State = DomainState.Dying;
        }
        foreach (var v in _vcpus) v.RequestStop();
        foreach (var v in _vcpus) v.Dispose();
        ConsoleIo.Flush();
        EventChannels.CloseAll();
        try { Destroying?.Invoke(this); }
        catch (Exception e) { Hypervisor.Log.Xen($"d{Id}: while tearing down: {e.Message}"); }
        _vm.Dispose();
        CloseMemory();
        lock (_lock) State = DomainState.Destroyed;
        Hypervisor.Remove(this);
    }

    public void Dispose() => Destroy();
}

/// <summary>One entry of a guest's memory map (e820 types: 1 RAM, 2 reserved, …).</summary>
public readonly record struct MemoryMapEntry(ulong Address, ulong Size, uint Type)
{
    public const uint Ram = 1, Reserved = 2;
}
