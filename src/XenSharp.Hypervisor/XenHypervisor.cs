using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Console;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor;

/// <summary>
/// The hypervisor core: the accelerator, the domain table and the console log. Domain ids
/// are handed out from 1 upwards and not reused while the hypervisor lives (0 is the control
/// domain, which is the host side of XenSharp).
/// </summary>
public sealed class XenHypervisor : IDisposable
{
    private readonly Dictionary<int, Domain> _domains = new();
    private int _nextDomainId = 1;

    /// <summary>The accelerator that runs x86 guests (the one named at boot: KVM or soft-x86).</summary>
    public IAccelerator Accelerator { get; }

    /// <summary>The accelerator that runs AArch64 guests, when there is one.</summary>
    public IAccelerator? ArmAccelerator { get; init; }

    /// <summary>The accelerator for guests of <paramref name="arch"/>; throws when this hypervisor has none.</summary>
    public IAccelerator AcceleratorFor(GuestArchitecture arch) =>
        arch == Accelerator.Architecture ? Accelerator
        : arch == ArmAccelerator?.Architecture ? ArmAccelerator
        : throw new NotSupportedException($"no accelerator for {arch} guests");

    /// <summary>Completes instructions the accelerator refuses (null: such an instruction crashes the domain).</summary>
    public IInstructionEmulator? InstructionEmulator { get; set; }
    public ConsoleLog Log { get; } = new();
    public DateTime StartedAt { get; } = DateTime.UtcNow;

    /// <summary>
    /// Runs vCPUs on pCPUs as a policy decides (set before the first domain is created); null:
    /// every vCPU thread runs whenever the host lets it (no scheduling by XenSharp).
    /// </summary>
    public Scheduling.VcpuScheduler? Scheduler { get; set; }

    /// <summary>Every vCPU timer of every domain, on one thread.</summary>
    public Time.TimerQueue Timers { get; } = new();

    public XenHypervisor(IAccelerator accelerator)
    {
        Accelerator = accelerator;
        Log.Xen($"XenSharp {HypervisorVersion.Full} (Xen ABI {HypervisorVersion.Major}.{HypervisorVersion.Minor}) on {accelerator.Name}");
    }

    /// <summary>Creates a paused domain with its memory and vCPUs; the caller builds and unpauses it.</summary>
    public Domain CreateDomain(string name, Guid uuid, GuestMemory memory, int vcpus, ulong currentPages, ulong maxPages,
                               GuestArchitecture arch = GuestArchitecture.X86)
    {
        var accelerator = AcceleratorFor(arch);
        int id;
        lock (_domains) id = _nextDomainId++;
        var vm = accelerator.CreateVirtualMachine(memory);
        Domain d;
        try
        {
            d = new Domain(this, id, name, uuid, memory, vm, vcpus, currentPages, maxPages);
        }
        catch
        {
            vm.Dispose();
            throw;
        }
        lock (_domains) _domains.Add(id, d);
        Log.Xen($"d{id}: created \"{name}\"{(arch == GuestArchitecture.Arm64 ? " (AArch64)" : "")} with {vcpus} vCPU(s) and {memory.TotalSize >> 20} MiB");
        return d;
    }

    public Domain? Find(int id)
    {
        lock (_domains) return _domains.GetValueOrDefault(id);
    }

    /// <summary>
    /// Whether domain <paramref name="id"/> exists as a guest sees it: a running domain, or
    /// domain 0 — the control domain, which is the host side of XenSharp and has no
    /// <see cref="Domain"/> object. Permission checks answer -EPERM (not -ESRCH) for it, as Xen does.
    /// </summary>
    public bool Exists(int id) => id == 0 || Find(id) is not null;

    public IReadOnlyList<Domain> Domains
    {
        get { lock (_domains) return _domains.Values.OrderBy(d => d.Id).ToList(); }
    }

    internal void Remove(Domain d)
    {
        lock (_domains) _domains.Remove(d.Id);
        Log.Xen($"d{d.Id}: destroyed");
    }

    public void Dispose()
    {
        foreach (var d in Domains) d.Destroy();
        Scheduler?.Dispose();
        Timers.Dispose();
    }
}
