using System.Globalization;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// `xl debug-keys KEYS`: Xen's debug-key handlers (xen/common/keyhandler.c), each writing its
/// output to the hypervisor log that `xl dmesg` shows, one key after another. A key without a
/// handler is reported as such in the log (Xen ignores it silently).
/// </summary>
public static class DebugKeys
{
    private sealed record Handler(char Key, string Description, Action<XenHypervisor, Action<string>> Run);

    private static readonly Handler[] Handlers =
    [
        new('e', "dump evtchn info", DumpEventChannels),
        new('g', "print grant table usage", DumpGrantTables),
        new('h', "show this message", ShowHandlers),
        new('q', "dump domain (and guest debug) info", DumpDomains),
        new('r', "dump run queues", DumpRunQueues),
        new('t', "display multi-cpu clock info", ReadClocks),
    ];

    /// <summary>The keys with handlers, for usage text.</summary>
    public static string Keys => new(Handlers.Select(h => h.Key).ToArray());

    /// <summary>Runs the handler of each key in <paramref name="keys"/>, in order; output goes to the hypervisor log.</summary>
    public static void Run(XenHypervisor hv, string keys)
    {
        void Line(string text) => hv.Log.Xen(text);
        foreach (char key in keys)
        {
            if (Handlers.FirstOrDefault(h => h.Key == key) is not { } handler)
            {
                Line($"'{Printable(key)}' pressed -> unknown key (no handler; 'h' lists the keys)");
                continue;
            }
            handler.Run(hv, Line);
        }
    }

    private static string Printable(char c) => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString();

    private static void ShowHandlers(XenHypervisor hv, Action<string> line)
    {
        line("'h' pressed -> showing installed handlers");
        foreach (var h in Handlers)
            line($" key '{h.Key}' (ascii '{(int)h.Key:x2}') => {h.Description}");
    }

    private static void DumpDomains(XenHypervisor hv, Action<string> line)
    {
        line($"'q' pressed -> dumping domain info (up {(DateTime.UtcNow - hv.StartedAt).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s)");
        foreach (var d in hv.Domains)
        {
            line($"General information for domain {d.Id}:");
            line($"    name={d.Name} uuid={d.Uuid} state={d.State.ToString().ToLowerInvariant()}" +
                 (d.ShutdownReason is { } r ? $" shutdown_reason={r.ToString().ToLowerInvariant()}" : ""));
            line($"    nr_pages={d.CurrentPages} max_pages={d.MaxPages} memory={d.Memory.TotalSize >> 20} MiB" +
                 $" cpu_time={d.CpuTime.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)}s");
            line($"VCPU information and callbacks for domain {d.Id}:");
            foreach (var v in d.Vcpus)
            {
                string cpu = v.LastHostCpu >= 0 ? $"CPU{v.LastHostCpu}" : "CPU?";
                line($"    VCPU{v.Index}: {cpu} state={VcpuStateName(d, v)} upcall_pend={(v.UpcallPending ? 1 : 0)}" +
                     $" cpu_time={v.CpuTime.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)}s");
            }
        }
    }

    private static string VcpuStateName(Domain d, Vcpu v) =>
        v.State == VcpuState.Offline ? "offline"
        : d.State == DomainState.Paused || v.IsPaused ? "paused"
        : v.State == VcpuState.Running ? "running" : "blocked";

    private static void DumpEventChannels(XenHypervisor hv, Action<string> line)
    {
        line("'e' pressed -> dumping event-channel info");
        foreach (var d in hv.Domains) d.EventChannels.Dump(line);
    }

    private static void DumpGrantTables(XenHypervisor hv, Action<string> line)
    {
        line("'g' pressed -> dumping grant table info");
        foreach (var d in hv.Domains) d.Grants.Dump(line);
    }

    private static void DumpRunQueues(XenHypervisor hv, Action<string> line)
    {
        line("'r' pressed -> dumping run queues");
        line("    scheduler: none (one host thread per vCPU)");
        var byCpu = hv.Domains.SelectMany(d => d.Vcpus.Where(v => v.State == VcpuState.Running && d.State == DomainState.Running)
                .Select(v => (Cpu: v.LastHostCpu, Name: $"d{d.Id}v{v.Index}")))
            .GroupBy(x => x.Cpu).OrderBy(g => g.Key);
        foreach (var g in byCpu)
            line($"    CPU{(g.Key >= 0 ? g.Key.ToString(CultureInfo.InvariantCulture) : "?")}: runnable {string.Join(" ", g.Select(x => x.Name))}");
    }

    private static void ReadClocks(XenHypervisor hv, Action<string> line)
    {
        line($"'t' pressed -> host clock {Hypervisor.Time.HostClock.NowNs().ToString(CultureInfo.InvariantCulture)} ns, up {(DateTime.UtcNow - hv.StartedAt).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s");
        foreach (var d in hv.Domains)
            line($"    d{d.Id}: system time {d.SystemTimeNs.ToString(CultureInfo.InvariantCulture)} ns");
    }
}
