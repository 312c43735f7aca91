using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.XenStore;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.Domains;

/// <summary>
/// The toolstack's domains and their lifecycle (libxl's role): create, destroy, and what
/// happens when a guest shuts down — the xl.cfg on_poweroff / on_reboot / on_crash /
/// on_watchdog action: destroy, restart (a new domain from the same config), preserve (keep
/// the shut-down domain until `xl destroy`). Coredump actions act like their non-dump
/// counterparts (XenSharp writes no core files yet) and say so in the log.
/// Consoles are drained on the guest's notifications and every 50 ms by one timer.
/// </summary>
public sealed class DomainManager : IDisposable
{
    private readonly XenHypervisor _hypervisor;
    private readonly DomainFactory _factory;
    private readonly Dictionary<int, ManagedDomain> _domains = new();
    private readonly Timer _consoleTimer;

    /// <summary>Raised after a domain ended (destroyed, restarted or preserved).</summary>
    public event Action<ManagedDomain, DomainEnd>? DomainEnded;

    public DomainManager(XenHypervisor hypervisor, Xenstored? xenstored = null)
    {
        _hypervisor = hypervisor;
        // Instructions this host's KVM refuses (IRET, INT n, CMPXCHG16B…) are completed here.
        _hypervisor.InstructionEmulator ??= new XenSharp.X86Emulation.VcpuInstructionCompleter();
        Xenstored = xenstored ?? new Xenstored();
        _factory = new DomainFactory(hypervisor, Xenstored);
        _consoleTimer = new Timer(_ => DrainConsoles(), null, 50, 50);
    }

    public XenHypervisor Hypervisor => _hypervisor;

    /// <summary>The store every domain's ring and the xenstored socket talk to.</summary>
    public Xenstored Xenstored { get; }

    /// <summary>
    /// `xl shutdown` / `xl reboot`: asks the guest through XenStore (control/shutdown), as
    /// Xen's toolstack does for guests with PV drivers; the guest acts on its watch.
    /// </summary>
    public void RequestShutdown(ManagedDomain d, string reason) =>
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/control/shutdown", reason);

    /// <summary>Creates and (unless <paramref name="paused"/>) starts a domain. <paramref name="beforeStart"/> runs before its first instruction.</summary>
    public ManagedDomain Create(DomainConfig config, string workingDirectory, bool paused = false, Action<ManagedDomain>? beforeStart = null)
    {
        lock (_domains)
        {
            if (config.Name == ControlDomainName || _domains.Values.Any(d => d.Name == config.Name))
                throw new ToolstackException($"domain with name \"{config.Name}\" already exists");
        }
        var managed = _factory.Create(config, workingDirectory);
        managed.WorkingDirectory = workingDirectory;
        lock (_domains) _domains.Add(managed.Id, managed);
        managed.Domain.ShutdownRequested += OnShutdown;
        beforeStart?.Invoke(managed);
        if (!paused) managed.Domain.Unpause();
        return managed;
    }

    /// <summary>Finds a domain by id or name, as xl accepts either.</summary>
    public ManagedDomain? Find(string idOrName)
    {
        lock (_domains)
        {
            if (int.TryParse(idOrName, out int id) && _domains.TryGetValue(id, out var byId)) return byId;
            return _domains.Values.FirstOrDefault(d => d.Name == idOrName);
        }
    }

    public IReadOnlyList<ManagedDomain> List()
    {
        lock (_domains) return _domains.Values.OrderBy(d => d.Id).ToList();
    }

    /// <summary>`xl destroy`: stops the domain at once and releases everything it held.</summary>
    public void Destroy(ManagedDomain d) => Finish(d, new DomainEnd("destroyed", "destroy", null, null));

    /// <summary>`xl unpause`: starts a domain created paused, or resumes one paused by <see cref="Pause"/>.</summary>
    public void Unpause(ManagedDomain d) => d.Domain.Unpause();

    /// <summary>The control domain's name (the daemon plays domain 0).</summary>
    public const string ControlDomainName = "Domain-0";

    /// <summary>`xl pause`: stops every vCPU of a running domain at its next exit, keeping its state.</summary>
    public void Pause(ManagedDomain d)
    {
        if (!d.Domain.Pause())
            throw new ToolstackException($"domain {d.Id} ({d.Name}) is not running: cannot pause it");
    }

    /// <summary>
    /// `xl rename`: gives a domain a new name (also in XenStore: /local/domain/N/name and
    /// /vm/UUID/name); refuses an invalid name or one another domain has.
    /// </summary>
    public void Rename(ManagedDomain d, string newName)
    {
        if (!DomainConfig.IsValidName(newName))
            throw new ToolstackException($"\"{newName}\" is not a valid domain name (not empty, no '/' or control characters, not only digits)");
        lock (_domains)
        {
            if (d.Name == newName) return;
            if (newName == ControlDomainName || _domains.Values.Any(o => o != d && o.Name == newName))
                throw new ToolstackException($"Domain with name \"{newName}\" already exists.");
            if (!_domains.ContainsKey(d.Id))
                throw new ToolstackException($"domain {d.Id} is gone");
            d.Domain.Name = newName;
            d.Config = d.Config with { Name = newName };
        }
        Xenstored.Write($"{DomainXenStoreNodes.DomainPath(d.Id)}/name", newName);
        Xenstored.Write($"{DomainXenStoreNodes.VmPath(d.Domain.Uuid)}/name", newName);
        _hypervisor.Log.Xen($"d{d.Id}: renamed to {newName}");
    }

    /// <summary>
    /// `xl create -n`: the checks <see cref="Create"/> makes before building anything (type,
    /// kernel and ramdisk files, memory), without creating a domain.
    /// </summary>
    public void Validate(DomainConfig config, string workingDirectory) => _factory.Validate(config, workingDirectory);

    private void OnShutdown(Domain domain, ShutdownReason reason)
    {
        ManagedDomain? d;
        lock (_domains) d = _domains.GetValueOrDefault(domain.Id);
        if (d is null) return;
        d.Console.Drain();

        var action = reason switch
        {
            ShutdownReason.Poweroff => d.Config.OnPoweroff,
            ShutdownReason.Reboot => d.Config.OnReboot,
            ShutdownReason.Crash => d.Config.OnCrash,
            ShutdownReason.Watchdog => d.Config.OnWatchdog,
            _ => ShutdownAction.Destroy,
        };
        string reasonText = reason.ToString().ToLowerInvariant();
        string actionText = ActionName(action);
        _hypervisor.Log.Xen($"d{domain.Id}: {reasonText}: on_{(reason == ShutdownReason.Poweroff ? "poweroff" : reasonText)} = {actionText}");
        if (action is ShutdownAction.CoredumpDestroy or ShutdownAction.CoredumpRestart)
            _hypervisor.Log.Xen($"d{domain.Id}: no core dump written (not supported yet)");

        switch (action)
        {
            case ShutdownAction.Preserve:
                d.End = new DomainEnd(reasonText, actionText, null, domain.CrashDetail);
                d.Console.Output.Close();
                DomainEnded?.Invoke(d, d.End);
                break;
            case ShutdownAction.Restart or ShutdownAction.RenameRestart or ShutdownAction.CoredumpRestart:
            {
                int? newId = null;
                Remove(d);
                try
                {
                    newId = Create(d.Config, d.WorkingDirectory).Id;
                }
                catch (Exception e)
                {
                    _hypervisor.Log.Xen($"d{domain.Id}: restart failed: {e.Message}");
                }
                Finish(d, new DomainEnd(reasonText, actionText, newId, domain.CrashDetail), alreadyRemoved: true);
                break;
            }
            default:
                Finish(d, new DomainEnd(reasonText, actionText, null, domain.CrashDetail));
                break;
        }
    }

    private static string ActionName(ShutdownAction a) => a switch
    {
        ShutdownAction.RenameRestart => "rename-restart",
        ShutdownAction.CoredumpDestroy => "coredump-destroy",
        ShutdownAction.CoredumpRestart => "coredump-restart",
        ShutdownAction.SoftReset => "soft-reset",
        _ => a.ToString().ToLowerInvariant(),
    };

    private void Remove(ManagedDomain d)
    {
        lock (_domains) _domains.Remove(d.Id);
    }

    private void Finish(ManagedDomain d, DomainEnd end, bool alreadyRemoved = false)
    {
        if (!alreadyRemoved) Remove(d);
        d.Domain.ShutdownRequested -= OnShutdown;
        d.End ??= end;
        d.Domain.Stop();
        d.Console.Drain();
        d.Console.Detach();
        d.Store.Detach();
        DomainXenStoreNodes.Remove(Xenstored, d.Id, d.Domain.Uuid);
        Xenstored.ReleaseDomain(d.Id);
        d.Domain.Destroy();
        d.Console.Output.Close();
        DomainEnded?.Invoke(d, d.End);
    }

    private void DrainConsoles()
    {
        foreach (var d in List())
        {
            if (d.Domain.State is DomainState.Running or DomainState.Shutdown)
            {
                d.Console.Drain();
                d.Store.Pump();
            }
        }
    }

    public void Dispose()
    {
        _consoleTimer.Dispose();
        foreach (var d in List()) Destroy(d);
    }
}
