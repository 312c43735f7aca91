using XenSharp.Devices.Block;
using XenSharp.Devices.Console;
using XenSharp.Devices.XenStore;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Domains;

/// <summary>A domain as the toolstack keeps it: the hypervisor's domain, its config and its backends.</summary>
public sealed class ManagedDomain(Domain domain, DomainConfig config, PvConsoleBackend console, XenStoreRingBackend store)
{
    /// <summary>The domain's XenStore ring, served as its xenstored connection.</summary>
    public XenStoreRingBackend Store { get; } = store;

    public Domain Domain { get; } = domain;
    /// <summary>The domain's configuration (its name follows `xl rename`; restarts use it).</summary>
    public DomainConfig Config { get; set; } = config;
    /// <summary>The PV console ring's backend (every domain has one).</summary>
    public PvConsoleBackend Console { get; } = console;

    /// <summary>The emulated SBSA UART's console of an ARM domain with <c>vuart = "sbsa_uart"</c>, else null.</summary>
    public VuartConsoleBackend? Vuart { get; init; }

    /// <summary>
    /// The console `xl console` and `xl create -c` attach to when no type is named: the vUART when
    /// the domain has one (where an ARM guest's early output goes), else the PV console.
    /// </summary>
    public IConsoleBackend PrimaryConsole => Vuart is not null ? Vuart : Console;

    /// <summary>The console of type <paramref name="type"/> ("pv", "serial" or "vuart"; null: the primary one), or null when the domain has none of that type.</summary>
    public IConsoleBackend? ConsoleOfType(string? type) => type switch
    {
        null => PrimaryConsole,
        "pv" => Console,
        "serial" or "vuart" => Vuart,
        _ => null,
    };
    /// <summary>The domain's virtual block devices (xl.cfg disk), in config order.</summary>
    public IReadOnlyList<VbdBackend> Disks { get; init; } = [];
    public int Id => Domain.Id;
    public string Name => Domain.Name;

    /// <summary>The directory relative paths in the config were given against (for restarts).</summary>
    public string WorkingDirectory { get; set; } = "/";

    /// <summary>How the domain ended, once it has (for console clients and `xl create -c`).</summary>
    public DomainEnd? End { get; set; }
}

/// <summary>How a domain's life ended: the guest's reason and what the toolstack did.</summary>
public sealed record DomainEnd(string Reason, string Action, int? RestartedAs, string? Detail);
