namespace XenSharp.Xl.Commands;

/// <summary>One xl subcommand: its name, one-line summary (`xl help`), usage and option text (`xl help CMD`, `xl CMD -h`).</summary>
public sealed record XlCommand(string Name, string Summary, string Usage, string Details, Func<string[], int> Run);

/// <summary>Every xl subcommand, in `xl help` order.</summary>
public static class CommandTable
{
    public static IReadOnlyList<XlCommand> All { get; } =
    [
        new("create", "Create a domain from config file <filename>",
            "xl create [-c] [-p] [-n] [-q] [-F] <ConfigFile> [key=value ...]",
            """
            -c          Connect to the console (interactive, as `xl console`; Ctrl-] detaches).
            -p          Leave the domain paused after it is created.
            -n          Dry run: parse and check the config, print it as JSON, create nothing.
            -q          Quiet.
            -F          Stay in the foreground until the domain is gone (exit 2 if it crashed).
            key=value   Override or add an xl.cfg setting.
            """, CreateCommand.Run),
        new("list", "List information about all/some domains",
            "xl list [-l] [-v] [Domain...]",
            """
            -l          Print the domains and their configs as JSON.
            -v          Verbose: add the UUID and the shutdown reason.
            """, ListCommand.Run),
        new("destroy", "Terminate a domain immediately", "xl destroy <Domain>", "", DestroyCommand.Run),
        new("shutdown", "Issue a shutdown signal to a domain", "xl shutdown [-w] <-a|Domain>",
            """
            -a          Shut down all guest domains.
            -w          Wait for the domain(s) to complete shutdown before returning.
            """, args => ShutdownCommand.Run(args, "poweroff")),
        new("reboot", "Issue a reboot signal to a domain", "xl reboot [-w] <-a|Domain>",
            """
            -a          Reboot all guest domains.
            -w          Wait for the domain(s) to complete shutdown before returning.
            """, args => ShutdownCommand.Run(args, "reboot")),
        new("pause", "Pause execution of a domain", "xl pause <Domain>", "", PauseCommand.Run),
        new("unpause", "Unpause a paused domain", "xl unpause <Domain>", "", UnpauseCommand.Run),
        new("console", "Attach to domain's console", ConsoleCommand.Usage,
            """
            Shows what the guest printed while nobody was attached (the newest 64 KiB), then
            its live output; stdin goes to the guest (on a terminal in raw mode: every key,
            Ctrl-C included). Ctrl-] detaches.
            -t pv       The console type: XenSharp guests have the PV console only.
            -n 0        The console number: XenSharp guests have one.
            --detach-on-eof
                        When stdin is not a terminal, detach at its end (by default the
                        console stays attached until the domain ends, Ctrl-] or a signal).
            """, ConsoleCommand.Run),
        new("domid", "Convert a domain name to domain id", "xl domid <DomainName>", "", DomIdCommand.DomId),
        new("domname", "Convert a domain id to domain name", "xl domname <DomainId>", "", DomIdCommand.DomName),
        new("rename", "Rename a domain", "xl rename <Domain> <NewDomainName>", "", RenameCommand.Run),
        new("uptime", "Print uptime for all/some domains", "xl uptime [-s] [Domain...]",
            """
            -s          Short form: seconds, name and id.
            """, UptimeCommand.Run),
        new("dump-core", "Core dump a domain", DumpCoreCommand.Usage,
            """
            Writes an ELF core file of the domain's memory and vCPU registers (see
            docs/control-protocol.md); without Filename, NAME-DATE-TIME.core in the daemon's
            dump directory. The domain is paused while it is written and then runs on.
            """, DumpCoreCommand.Run),
        new("mem-set", "Set the current memory usage for a domain", MemoryCommands.MemSetUsage,
            """
            Mem         A size: digits then b, k, m, g or t (MiB without a suffix).
                        Writes the balloon target memory/target (KiB) in XenStore; a PV
                        balloon driver in the guest follows it. At most the domain's maximum.
            """, MemoryCommands.MemSet),
        new("mem-max", "Set the maximum amount reservation for a domain", MemoryCommands.MemMaxUsage,
            """
            Mem         A size as for mem-set. Sets the domain's maximum (what
                        XENMEM_maximum_reservation answers) and memory/static-max;
                        not below the current target.
            """, MemoryCommands.MemMax),
        new("top", "Monitor a host and the domains in real time", TopCommand.Usage,
            """
            -b          Batch mode: print plain iterations (no screen control).
            -i N        Stop after N iterations (default: until q or Ctrl-C).
            -d SEC      Seconds between iterations (default 3).
            """, TopCommand.Run),
        new("vcpu-set", "Set the number of active VCPUs allowed for the domain", VcpuSetCommand.Usage,
            """
            Writes cpu/K/availability = online for K < vCPUs and offline up to maxvcpus
            in XenStore; the guest brings vCPUs up or down on its watch. 1..maxvcpus.
            """, VcpuSetCommand.Run),
        new("vcpu-list", "List the VCPUs for all/some domains", "xl vcpu-list [Domain...]", "", VcpuListCommand.Run),
        new("vcpu-pin", "Set which CPUs a VCPU can use", VcpuPinCommand.Usage,
            """
            -f, --force Accepted for compatibility (pinning is always permanent here).
            VCPU        A vCPU number or "all".
            Hard, Soft  CPU lists such as "0-3,^2" or "all"; "-" keeps that affinity as it is.
                        The hard affinity must name a pCPU of the domain's cpupool.
            """, VcpuPinCommand.Run),
        new("sched-credit", "Get/set credit scheduler parameters", SchedCommand.CreditUsage,
            """
            -d DOMAIN   Domain to show or modify.
            -w WEIGHT   Weight, 1..65535 (default 256).
            -c CAP      Cap in percent of one pCPU, 0..100 x vCPUs (0 = no cap).
            -s          Show or set the cpupool's scheduler parameters.
            -p POOL     The cpupool (default Pool-0).
            -t TSLICE   Timeslice in ms.
            -r RLIMIT   Rate limit in us (0 = off, else 100..500000).
            """, SchedCommand.Credit),
        new("sched-credit2", "Get/set credit2 scheduler parameters", SchedCommand.Credit2Usage,
            """
            -d DOMAIN   Domain to show or modify.
            -w WEIGHT   Weight, 1..65535 (default 256).
            -c CAP      Cap in percent of one pCPU, 0..100 x vCPUs (0 = no cap).
            -s          Show or set the cpupool's scheduler parameters.
            -p POOL     The cpupool (default Pool-0).
            -r RLIMIT   Rate limit in us (0 = off, else 100..500000).
            """, SchedCommand.Credit2),
        new("sched-null", "List domains in null-scheduler cpupools", SchedCommand.NullUsage,
            """
            -d DOMAIN   Show one domain.
            -p POOL     Only this cpupool.
            """, SchedCommand.Null),
        new("sched-sim", "Preview a scheduling scenario in the simulator", SchedSimCommand.Usage,
            SchedSimCommand.Details, SchedSimCommand.Run),
        new("cpupool-create", "Create a new CPU pool", CpupoolCommands.CreateUsage,
            """
            -n, --dryrun  Parse the configuration, create nothing.
            ConfigFile    xl.cfg syntax with keys name, sched (credit2, credit, null) and
                          cpus ("1-2" or [1, 2]); key=value arguments add or override keys.
            """, CpupoolCommands.Create),
        new("cpupool-list", "List CPU pools on host", "xl cpupool-list [-c|--cpus] [CpuPool]",
            """
            -c, --cpus  Print the CPUs of each pool instead of the summary.
            """, CpupoolCommands.List),
        new("cpupool-destroy", "Deactivate a CPU pool", "xl cpupool-destroy <CpuPool>", "", CpupoolCommands.Destroy),
        new("cpupool-cpu-add", "Adds a CPU to a CPU pool", "xl cpupool-cpu-add <CpuPool> <CPUs>", "", CpupoolCommands.CpuAdd),
        new("cpupool-cpu-remove", "Removes a CPU from a CPU pool", "xl cpupool-cpu-remove <CpuPool> <CPUs>", "", CpupoolCommands.CpuRemove),
        new("cpupool-migrate", "Moves a domain into a CPU pool", "xl cpupool-migrate <Domain> <CpuPool>", "", CpupoolCommands.Migrate),
        new("dmesg", "Read and/or clear dmesg buffer", "xl dmesg [-c]",
            """
            -c          Clear dmesg buffer as well as printing it.
            """, DmesgCommand.Run),
        new("info", "Get information about Xen host", "xl info [-p]",
            """
            -p          Print the hypervisor parameters: current value, whether
                        `xl set-parameters` can change it (live) or only the daemon's
                        command line (boot), and what is accepted.
            """, InfoCommand.Run),
        new("set-parameters", "Set hypervisor parameters", "xl set-parameters <Params>",
            """
            Params is "NAME=VALUE [NAME=VALUE ...]", applied all or nothing: an unknown
            name, a bad value or a boot-only parameter changes nothing. `xl info -p`
            lists the parameters and their values.
            """, SetParametersCommand.Run),
        new("debug-keys", "Send debug keys to Xen", "xl debug-keys <Keys>",
            """
            Runs each key's handler; the output goes to the hypervisor log (`xl dmesg`).
            Keys: h (list the keys), q (domains and vCPUs), e (event channels),
            g (grant tables), r (run queues), t (clocks).
            """, DebugKeysCommand.Run),
        new("daemon", "Run the XenSharp daemon in the foreground (xl starts it when needed)",
            "xl daemon [--] [NAME=VALUE ...]",
            """
            NAME=VALUE  A hypervisor parameter (after those of xensharpd.conf); see `xl info -p`.
            """, DaemonCommand.Run),
        new("daemon-stop", "Stop the daemon, destroying its domains", "xl daemon-stop", "", DaemonCommand.Stop),
        new("help", "Print this help, or the usage of one command", "xl help [Command]", "", HelpCommand.Run),
    ];

    public static XlCommand? Find(string name) => All.FirstOrDefault(c => c.Name == name);
}
