using XenSharp.Devices.Block;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;
using XenSharp.XenStore;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// A domain's virtual block devices from its config's <c>disk</c> entries: the images are
/// opened before anything else is built (<see cref="OpenImages"/>, so a missing or unreadable
/// file fails `xl create` first), then each disk gets its XenStore nodes and a running
/// <see cref="VbdBackend"/> before the guest starts (<see cref="Plug"/>), and at destroy each
/// backend stops and unmaps everything and its nodes go (<see cref="Unplug"/>), before the
/// domain's memory is released.
/// </summary>
public static class DiskDevices
{
    /// <summary>The full path of a disk's image (relative targets resolve against xl's working directory).</summary>
    public static string ImagePath(DiskSpec disk, string workingDirectory) => Path.GetFullPath(disk.Target, workingDirectory);

    /// <summary>Checks that every disk's image exists and opens with the access asked for; nothing stays open.</summary>
    public static void Check(DomainConfig config, string workingDirectory)
    {
        foreach (var image in OpenImages(config, workingDirectory)) image.Dispose();
    }

    /// <summary>Opens every disk's image (all or none), in config order.</summary>
    public static IReadOnlyList<RawImage> OpenImages(DomainConfig config, string workingDirectory)
    {
        var images = new List<RawImage>(config.Disks.Count);
        try
        {
            foreach (var disk in config.Disks)
                images.Add(Open(disk, ImagePath(disk, workingDirectory)));
            return images;
        }
        catch
        {
            foreach (var image in images) image.Dispose();
            throw;
        }
    }

    private static RawImage Open(DiskSpec disk, string path)
    {
        if (Directory.Exists(path))
            throw new ToolstackException($"{disk.Location}: disk: target {path} is a directory, not an image file");
        if (!File.Exists(path))
            throw new ToolstackException($"{disk.Location}: disk: target {path} does not exist");
        try
        {
            var image = RawImage.Open(path, disk.ReadOnly);
            if (image.Sectors == 0)
            {
                image.Dispose();
                throw new ToolstackException($"{disk.Location}: disk: target {path} is smaller than one 512-byte sector");
            }
            return image;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ToolstackException($"{disk.Location}: disk: target {path} cannot be opened {(disk.ReadOnly ? "for reading" : "for reading and writing")}: {e.Message}");
        }
    }

    /// <summary>
    /// Writes each disk's nodes and starts its backend (taking ownership of <paramref name="images"/>,
    /// which are in config order). On failure everything plugged so far is unplugged and the
    /// remaining images closed.
    /// </summary>
    public static IReadOnlyList<VbdBackend> Plug(Xenstored xs, Domain domain, DomainConfig config, IReadOnlyList<RawImage> images, Action<string>? log)
    {
        var backends = new List<VbdBackend>(images.Count);
        int next = 0;
        try
        {
            for (; next < images.Count; next++)
            {
                var disk = config.Disks[next];
                var image = images[next];
                VbdXenStoreNodes.Write(xs, domain.Id, disk, image.Path);
                var backend = new VbdBackend(xs, domain, disk.VirtualDevice,
                    VbdXenStoreNodes.BackendPath(domain.Id, disk.VirtualDevice),
                    VbdXenStoreNodes.FrontendPath(domain.Id, disk.VirtualDevice),
                    image, new BlockBackendFeatures { Discard = disk.Discard, BackendDomainId = VbdXenStoreNodes.BackendDomainId })
                {
                    Log = log,
                };
                backends.Add(backend);
                backend.Start();
                log?.Invoke($"vbd d{domain.Id}/{disk.VirtualDevice}: {disk.Vdev} = {image.Path} ({image.Sectors} sectors, {disk.Access})");
            }
            return backends;
        }
        catch
        {
            Unplug(xs, domain.Id, backends);
            if (next < images.Count && backends.Count == next) VbdXenStoreNodes.Remove(xs, domain.Id, config.Disks[next].VirtualDevice);
            for (int i = backends.Count; i < images.Count; i++) images[i].Dispose();
            throw;
        }
    }

    /// <summary>Hot-unplug: stops each backend (ring and grants unmapped, image closed) and removes its nodes.</summary>
    public static void Unplug(Xenstored xs, int domid, IReadOnlyList<VbdBackend> backends)
    {
        foreach (var backend in backends)
        {
            backend.Dispose();
            VbdXenStoreNodes.Remove(xs, domid, backend.DeviceId);
        }
    }
}
