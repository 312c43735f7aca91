using System.Diagnostics;
using XenSharp.Hypervisor;
using XenSharp.Toolstack.Host;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// What `xl info` reports about the host and the hypervisor, in xl's field names.
/// xen_commandline is the boot string of the hypervisor parameters (xensharpd.conf's
/// assignments, then `xl daemon -- ...`'s); their live values are `xl info -p` (get-parameters).
/// </summary>
public sealed class HostInfo(StatePaths paths, XenSharp.XenStore.Xenstored xenstored, XenSharp.Toolstack.Parameters.ParameterRegistry parameters)
{
    public IEnumerable<(string Key, string Value)> Describe(XenHypervisor hv)
    {
        yield return ("host", Environment.MachineName);
        yield return ("release", ReadProc("/proc/sys/kernel/osrelease"));
        yield return ("version", ReadProc("/proc/sys/kernel/version"));
        yield return ("machine", System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64 ? "x86_64" : System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant());
        yield return ("nr_cpus", (hv.Scheduler?.PcpuCount ?? Environment.ProcessorCount).ToString());
        yield return ("max_cpu_id", ((hv.Scheduler?.PcpuCount ?? Environment.ProcessorCount) - 1).ToString());
        yield return ("nr_nodes", "1");
        yield return ("total_memory", (HostMemory.Total >> 20).ToString());
        yield return ("free_memory", (HostMemory.Available >> 20).ToString());
        yield return ("xen_major", HypervisorVersion.Major.ToString());
        yield return ("xen_minor", HypervisorVersion.Minor.ToString());
        yield return ("xen_extra", HypervisorVersion.Extra);
        yield return ("xen_version", HypervisorVersion.Full);
        yield return ("xen_caps", HypervisorVersion.Capabilities);
        yield return ("xen_scheduler", hv.Scheduler?.Policy is XenSharp.Scheduling.Pools.CpuPoolSet pools
            ? pools.Pool0.Scheduler
            : hv.Scheduler?.Policy.Name ?? "none (one host thread per vCPU)");
        yield return ("xen_pagesize", "4096");
        yield return ("platform_params", "virt_start=0x0");
        yield return ("xen_changeset", HypervisorVersion.Changeset);
        yield return ("xen_commandline", parameters.BootCommandLine);
        yield return ("cc_compiler", ".NET " + Environment.Version);
        yield return ("accelerator", hv.Accelerator.Name);
        yield return ("accelerators", XenSharp.Toolstack.Host.AcceleratorChoice.Describe());
        if (hv.Accelerator is XenSharp.SoftX86.SoftX86Accelerator soft)
            yield return ("guest_insns", soft.InstructionsRetired.ToString());
        if (hv.ArmAccelerator is XenSharp.SoftArm64.SoftArm64Accelerator arm)
            yield return ("aarch64_guest_insns", arm.InstructionsRetired.ToString());
        var counters = hv.InstructionEmulator?.Counters;
        yield return ("emulated_insns", counters is null || counters.Count == 0 ? "none"
            : string.Join(" ", counters.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")));
        yield return ("daemon_pid", Environment.ProcessId.ToString());
        yield return ("xenstore_socket", paths.XenStoreSocket);
        yield return ("xenstore_quota", DaemonParameters.Describe(xenstored.Quotas));
        yield return ("parameters_file", paths.ParametersFile);
        yield return ("control_socket", paths.ControlSocket);
        yield return ("log_file", paths.LogFile);
        yield return ("uptime", ((int)(DateTime.UtcNow - hv.StartedAt).TotalSeconds).ToString());
        yield return ("xend_config_format", "4");
    }

    /// <summary>The daemon plays the control domain: its resident memory stands for Domain-0's.</summary>
    public long ControlDomainMemoryMiB() => Process.GetCurrentProcess().WorkingSet64 >> 20;

    public double ControlDomainCpuSeconds() => Math.Round(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, 1);

    private static string ReadProc(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return "unknown"; }
    }
}
