namespace XenSharp.Toolstack.Config;

/// <summary>The guest-visible kind of a disk (xl.cfg <c>devtype</c>).</summary>
public enum DiskDeviceType
{
    Disk,
    Cdrom,
}

/// <summary>
/// One <c>disk = [ 'DISKSPEC', ... ]</c> entry of xl.cfg (xl-disk-configuration(5)), read by
/// <see cref="DiskSpecParser"/>. XenSharp serves every disk with its own block backend from a
/// raw image file, so only <c>format=raw</c> is accepted; <c>backendtype</c> is recorded (as
/// libxl writes it to the backend's <c>type</c> node) but does not change the backend.
/// </summary>
public sealed record DiskSpec
{
    /// <summary>The entry as written in the file.</summary>
    public required string Text { get; init; }
    /// <summary>Where the entry is: <c>FILE:LINE</c> (or the command-line override).</summary>
    public required string Location { get; init; }
    /// <summary><c>target</c>: the image path as written (relative paths resolve against xl's working directory).</summary>
    public required string Target { get; init; }
    /// <summary><c>format</c>: always "raw".</summary>
    public string Format { get; init; } = "raw";
    /// <summary><c>vdev</c> as written (xvda, hdc, sdb1, d0p0, or a number).</summary>
    public required string Vdev { get; init; }
    /// <summary>The xenstore virtual-device number the vdev encodes (xen-vbd-interface(7)), also the device id.</summary>
    public required int VirtualDevice { get; init; }
    /// <summary><c>access</c>: ro/r → true, rw/w → false (a cdrom defaults to read-only).</summary>
    public bool ReadOnly { get; init; }
    public DiskDeviceType DeviceType { get; init; } = DiskDeviceType.Disk;
    /// <summary><c>backendtype</c> (phy, qdisk or tap), or null when not given.</summary>
    public string? BackendType { get; init; }
    /// <summary><c>discard</c> / <c>no-discard</c> (default discard).</summary>
    public bool Discard { get; init; } = true;
    /// <summary><c>direct-io-safe</c>.</summary>
    public bool DirectIoSafe { get; init; }
    /// <summary><c>trusted</c> / <c>untrusted</c> (default trusted; written to the frontend's <c>trusted</c> node).</summary>
    public bool Trusted { get; init; } = true;

    /// <summary>"ro" or "rw".</summary>
    public string Access => ReadOnly ? "ro" : "rw";

    /// <summary>The backend's <c>mode</c> node: "r" or "w".</summary>
    public string Mode => ReadOnly ? "r" : "w";

    /// <summary>"disk" or "cdrom" (the <c>device-type</c> nodes).</summary>
    public string DeviceTypeName => DeviceType == DiskDeviceType.Cdrom ? "cdrom" : "disk";

    /// <summary>The canonical spelling (named parameters, target last).</summary>
    public override string ToString() =>
        $"format={Format}, vdev={Vdev}, access={Access}, devtype={DeviceTypeName}" +
        (BackendType is null ? "" : $", backendtype={BackendType}") +
        (Discard ? "" : ", no-discard") + (DirectIoSafe ? ", direct-io-safe" : "") + (Trusted ? "" : ", untrusted") +
        $", target={Target}";
}
