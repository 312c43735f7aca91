namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's control protocol (documented in docs/control-protocol.md): JSON objects, one
/// per line, over the Unix stream socket <see cref="StatePaths.ControlSocket"/>. Every request
/// carries <c>"v": 1</c> and a <c>"cmd"</c>; every reply has <c>"ok"</c> and either the
/// command's fields or <c>"error"</c>. Console streams follow a successful reply with
/// <c>{"console": BASE64}</c> lines and end with one <c>{"end": {...}}</c> line.
/// </summary>
public static class ControlProtocol
{
    public const int Version = 1;

    public const string Create = "create";
    public const string List = "list";
    public const string Destroy = "destroy";
    public const string Console = "console";
    public const string Dmesg = "dmesg";
    public const string Info = "info";
    public const string Unpause = "unpause";
    public const string Pause = "pause";
    public const string Rename = "rename";
    public const string VcpuList = "vcpu-list";
    public const string Shutdown = "shutdown";
    public const string Ping = "ping";
    public const string SetParameters = "set-parameters";
    public const string GetParameters = "get-parameters";
    public const string DebugKeys = "debug-keys";
    public const string Quit = "quit";
    public const string VcpuPin = "vcpu-pin";
    public const string SchedList = "sched-list";
    public const string SchedDomainSet = "sched-domain-set";
    public const string SchedPoolSet = "sched-pool-set";
    public const string CpupoolList = "cpupool-list";
    public const string CpupoolCreate = "cpupool-create";
    public const string CpupoolDestroy = "cpupool-destroy";
    public const string CpupoolCpuAdd = "cpupool-cpu-add";
    public const string CpupoolCpuRemove = "cpupool-cpu-remove";
    public const string CpupoolMigrate = "cpupool-migrate";
    public const string DumpCore = "dump-core";
    public const string MemSet = "mem-set";
    public const string MemMax = "mem-max";
    public const string VcpuSet = "vcpu-set";
}
