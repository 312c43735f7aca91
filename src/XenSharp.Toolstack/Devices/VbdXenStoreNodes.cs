using System.Globalization;
using XenSharp.Abi.Xenbus;
using XenSharp.Toolstack.Config;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// The XenStore nodes of one virtual block device, as libxl writes them before the guest runs
/// (its device_disk_add), and removes at hot-unplug:
/// <code>
///   /local/domain/0/backend/vbd/D/N     owner dom0, D may read
///     frontend, frontend-id, online = 1, state = 1 (Initialising), params (the image path),
///     type (phy | qdisk | tap), mode (w | r), dev (the vdev), removable = 0, bootable = 1,
///     device-type (disk | cdrom), discard-enable, direct-io-safe
///     (the backend adds its features and the disk's size, then state = 2)
///   /local/domain/D/device/vbd/N        owner D (the guest writes its transport parameters
///                                       and state here), dom0 may read
///     backend, backend-id = 0, state = 1, virtual-device = N, device-type, trusted
/// </code>
/// N is the virtual-device number of the vdev (xen-vbd-interface(7)).
/// </summary>
public static class VbdXenStoreNodes
{
    /// <summary>The domain the backends run in (the host plays dom0).</summary>
    public const int BackendDomainId = 0;

    public static string BackendPath(int domid, int devid) =>
        string.Create(CultureInfo.InvariantCulture, $"/local/domain/{BackendDomainId}/backend/vbd/{domid}/{devid}");

    public static string FrontendPath(int domid, int devid) =>
        string.Create(CultureInfo.InvariantCulture, $"/local/domain/{domid}/device/vbd/{devid}");

    /// <summary>Writes the frontend and backend directories of <paramref name="disk"/> (at <paramref name="imagePath"/>) for domain <paramref name="domid"/>.</summary>
    public static void Write(Xenstored xs, int domid, DiskSpec disk, string imagePath)
    {
        int devid = disk.VirtualDevice;
        string be = BackendPath(domid, devid);
        string fe = FrontendPath(domid, devid);
        string initialising = ((int)XenbusState.Initialising).ToString(CultureInfo.InvariantCulture);
        string domidText = domid.ToString(CultureInfo.InvariantCulture);

        // Children created after the permissions inherit them.
        xs.Mkdir(be);
        xs.SetPermissions(be, XenStorePermission.NoAccess(BackendDomainId), XenStorePermission.ReadOnly(domid));
        xs.Write($"{be}/frontend", fe);
        xs.Write($"{be}/frontend-id", domidText);
        xs.Write($"{be}/online", "1");
        xs.Write($"{be}/state", initialising);
        xs.Write($"{be}/params", imagePath);
        xs.Write($"{be}/type", disk.BackendType ?? "phy");
        xs.Write($"{be}/mode", disk.Mode);
        xs.Write($"{be}/dev", disk.Vdev);
        xs.Write($"{be}/removable", "0");
        xs.Write($"{be}/bootable", "1");
        xs.Write($"{be}/device-type", disk.DeviceTypeName);
        xs.Write($"{be}/discard-enable", disk.Discard ? "1" : "0");
        xs.Write($"{be}/direct-io-safe", disk.DirectIoSafe ? "1" : "0");

        xs.Mkdir(fe);
        xs.SetPermissions(fe, XenStorePermission.NoAccess(domid), XenStorePermission.ReadOnly(BackendDomainId));
        xs.Write($"{fe}/backend", be);
        xs.Write($"{fe}/backend-id", BackendDomainId.ToString(CultureInfo.InvariantCulture));
        xs.Write($"{fe}/state", initialising);
        xs.Write($"{fe}/virtual-device", devid.ToString(CultureInfo.InvariantCulture));
        xs.Write($"{fe}/device-type", disk.DeviceTypeName);
        xs.Write($"{fe}/trusted", disk.Trusted ? "1" : "0");
    }

    /// <summary>Removes both directories of device <paramref name="devid"/> (and the backend's per-domain directory once empty).</summary>
    public static void Remove(Xenstored xs, int domid, int devid)
    {
        TryRemove(xs, FrontendPath(domid, devid));
        TryRemove(xs, BackendPath(domid, devid));
        string perDomain = string.Create(CultureInfo.InvariantCulture, $"/local/domain/{BackendDomainId}/backend/vbd/{domid}");
        try
        {
            if (xs.Exists(perDomain) && xs.Directory(perDomain).Count == 0) xs.Remove(perDomain);
        }
        catch (XenStoreException) { }
    }

    private static void TryRemove(Xenstored xs, string path)
    {
        try { xs.Remove(path); }
        catch (XenStoreException) { }
    }
}
