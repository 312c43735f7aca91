using System.Net.Sockets;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Kvm;
using XenSharp.Toolstack.Host;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The long-lived process that owns the hypervisor: opens KVM, creates the hypervisor and the
/// domain manager, listens on the control socket and logs to its log file. Only one runs per
/// state directory. It keeps running when domains end; `xl daemon-stop` ends it (destroying
/// any domains left).
/// </summary>
public static class XenSharpDaemon
{
    /// <summary>
    /// Runs until asked to quit; returns the process exit code. <paramref name="commandLine"/>
    /// holds the hypervisor parameters given on `xl daemon -- NAME=VALUE ...` (after xensharpd.conf's).
    /// </summary>
    public static int Run(StatePaths paths, IReadOnlyList<string>? commandLine = null)
    {
        Directory.CreateDirectory(paths.RuntimeDirectory);
        Directory.CreateDirectory(paths.LogDirectory);
        using var log = new StreamWriter(new FileStream(paths.LogFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        void Log(string line) { lock (log) log.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {line}"); }

        if (ControlClient.TryConnect(paths) is { } existing)
        {
            existing.Dispose();
            Log("another daemon already serves " + paths.ControlSocket);
            System.Console.Error.WriteLine($"xensharpd: a daemon is already running on {paths.ControlSocket}");
            return 1;
        }

        DaemonParameters parameters;
        try
        {
            parameters = DaemonParameters.Load(paths.ParametersFile, commandLine);
        }
        catch (Exception e) when (e is XenSharp.Toolstack.Config.XlConfigException or XenSharp.Toolstack.Parameters.ParameterException)
        {
            Log(e.Message);
            System.Console.Error.WriteLine(e.Message);
            return 1;
        }

        var registry = parameters.CreateRegistry();
        IAccelerator accelerator;
        try
        {
            accelerator = AcceleratorChoice.Open(registry.Get<string>(XenSharp.Toolstack.Parameters.HypervisorParameters.Accelerator));
        }
        catch (KvmUnavailableException e)
        {
            Log(e.Message);
            System.Console.Error.WriteLine(e.Message);
            return 1;
        }

        using var hypervisor = new XenHypervisor(accelerator) { ArmAccelerator = new XenSharp.SoftArm64.SoftArm64Accelerator() };
        hypervisor.Log.LineWritten += Log;
        foreach (var line in hypervisor.Log.Read().Split('\n', StringSplitOptions.RemoveEmptyEntries)) Log(line);
        hypervisor.Log.Xen($"Accelerator: {accelerator.Name} (available: {AcceleratorChoice.Describe()})");
        if (registry.BootCommandLine.Length > 0) hypervisor.Log.Xen("Command line: " + registry.BootCommandLine);
        string sched = registry.Get<string>(XenSharp.Toolstack.Parameters.HypervisorParameters.Scheduler);
        int pcpus = registry.Get<int>(XenSharp.Toolstack.Parameters.HypervisorParameters.MaxCpus);
        if (sched != "none")
        {
            XenSharp.Toolstack.Parameters.HypervisorParameters.ConfigureCredit2(registry, pcpus);
            // The policy is the cpupool set: Pool-0 (all pCPUs at start) runs sched=; xl cpupool-* reshape it.
            hypervisor.Scheduler = new XenSharp.Hypervisor.Scheduling.VcpuScheduler(
                new XenSharp.Scheduling.Pools.CpuPoolSet(pool0Scheduler: sched), pcpus, hypervisor.Timers);
            hypervisor.Log.Xen($"Using scheduler: {sched} on {pcpus} pCPU(s)");
        }
        else hypervisor.Log.Xen("Scheduling: none (vCPU threads run as the host schedules them)");
        var xenstored = new XenSharp.XenStore.Xenstored() { Log = line => Log("xenstored: " + line) };
        string logLevel = registry.GetText(XenSharp.Toolstack.Parameters.HypervisorParameters.LogLevel);
        hypervisor.Log.Threshold = XenSharp.Toolstack.Parameters.HypervisorParameters.ThresholdOf(logLevel);
        registry.Bind(XenSharp.Toolstack.Parameters.HypervisorParameters.LogLevel, () => logLevel, value =>
        {
            logLevel = (string)value;
            hypervisor.Log.Threshold = XenSharp.Toolstack.Parameters.HypervisorParameters.ThresholdOf(logLevel);
        });
        registry.Bind(XenSharp.Toolstack.Parameters.HypervisorParameters.XenStoreQuota,
            () => xenstored.Quotas, value => xenstored.Quotas = (XenSharp.XenStore.XenStoreQuotas)value);
        using var xenstoreSocket = new XenSharp.Toolstack.XenStore.XenStoreSocketServer(xenstored, paths.XenStoreSocket);
        using var manager = new DomainManager(hypervisor, xenstored) { DumpDirectory = paths.DumpDirectory };
        using var quit = new CancellationTokenSource();

        File.Delete(paths.ControlSocket);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(paths.ControlSocket));
        listener.Listen(64);
        File.WriteAllText(paths.PidFile, Environment.ProcessId + "\n");
        Log($"xensharpd {Environment.ProcessId} listening on {paths.ControlSocket}; xenstored on {paths.XenStoreSocket}");

        var server = new ControlServer(manager, new HostInfo(paths, xenstored, registry), registry, () => quit.Cancel());
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; quit.Cancel(); });
        server.ServeAsync(listener, quit.Token).GetAwaiter().GetResult();

        Log("xensharpd stopping: destroying remaining domains");
        manager.Dispose();
        File.Delete(paths.ControlSocket);
        File.Delete(paths.PidFile);
        (accelerator as IDisposable)?.Dispose();
        return 0;
    }
}
