using XenSharp.XenStore;

namespace XenSharp.Toolstack.XenStore;

/// <summary>
/// The XenStore nodes the toolstack writes for a domain, as libxl lays them out
/// (docs/misc/xenstore-paths.pandoc), and removes at destroy:
/// <code>
///   /local/domain/N                 owner dom0; N may read            (read-only for the guest)
///     name, domid, vm = /vm/UUID
///     memory/static-max, memory/target          KiB
///     cpu/K/availability            online | offline
///     console/ring-ref, port, limit, type, output
///     store/ring-ref, store/port
///     control/shutdown              owner N: the guest watches it, the toolstack writes
///                                   "poweroff" / "reboot" for `xl shutdown` / `xl reboot`
///     control/platform-feature-xs_reset_watches = 1
///     data, drivers, attr, error    owner N: the guest's own space
///     device                        backends' frontend areas (none yet)
///   /vm/UUID                        owner dom0; N may read: name, uuid, start_time
/// </code>
/// </summary>
public static class DomainXenStoreNodes
{
    public sealed record Layout(int DomainId, string Name, Guid Uuid, ulong MemoryKiB, ulong MaxMemoryKiB, int Vcpus, int MaxVcpus,
                                ulong ConsoleFrame, int ConsolePort, ulong StoreFrame, int StorePort);

    public static string DomainPath(int domid) => $"/local/domain/{domid}";
    public static string VmPath(Guid uuid) => $"/vm/{uuid}";

    public static void Write(Xenstored xs, Layout l)
    {
        string dom = DomainPath(l.DomainId);
        string vm = VmPath(l.Uuid);
        var readOnly = new[] { XenStorePermission.NoAccess(0), XenStorePermission.ReadOnly(l.DomainId) };
        var guestOwned = new[] { XenStorePermission.NoAccess(l.DomainId) };

        xs.Mkdir(vm);
        xs.SetPermissions(vm, readOnly);
        xs.Write($"{vm}/name", l.Name);
        xs.Write($"{vm}/uuid", l.Uuid.ToString());
        xs.Write($"{vm}/start_time", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString());

        xs.Mkdir(dom);
        xs.SetPermissions(dom, readOnly);
        xs.Write($"{dom}/name", l.Name);
        xs.Write($"{dom}/domid", l.DomainId.ToString());
        xs.Write($"{dom}/vm", vm);
        xs.Write($"{dom}/memory/static-max", l.MaxMemoryKiB.ToString());
        xs.Write($"{dom}/memory/target", l.MemoryKiB.ToString());
        for (int i = 0; i < l.MaxVcpus; i++)
            xs.Write($"{dom}/cpu/{i}/availability", i < l.Vcpus ? "online" : "offline");
        xs.Write($"{dom}/console/ring-ref", l.ConsoleFrame.ToString());
        xs.Write($"{dom}/console/port", l.ConsolePort.ToString());
        xs.Write($"{dom}/console/limit", "1048576");
        xs.Write($"{dom}/console/type", "xenconsoled");
        xs.Write($"{dom}/console/output", "pty");
        xs.Write($"{dom}/store/ring-ref", l.StoreFrame.ToString());
        xs.Write($"{dom}/store/port", l.StorePort.ToString());
        xs.Write($"{dom}/control/platform-feature-xs_reset_watches", "1");
        xs.Write($"{dom}/control/shutdown", "");
        xs.SetPermissions($"{dom}/control/shutdown", guestOwned);
        xs.Mkdir($"{dom}/device");
        foreach (var own in new[] { "data", "drivers", "attr", "error" })
        {
            xs.Mkdir($"{dom}/{own}");
            xs.SetPermissions($"{dom}/{own}", guestOwned);
        }
    }

    public static void Remove(Xenstored xs, int domid, Guid uuid)
    {
        foreach (var path in new[] { DomainPath(domid), VmPath(uuid) })
        {
            try { xs.Remove(path); }
            catch (XenStoreException) { }
        }
    }
}
