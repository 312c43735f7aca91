namespace XenSharp.Boot.Pvh;

/// <summary>
/// A boot module handed to a PVH guest through hvm_start_info's module list (e.g. a ramdisk).
/// </summary>
/// <param name="Name">What the module is, for messages (e.g. "ramdisk /boot/initrd.img").</param>
/// <param name="Bytes">The module contents.</param>
/// <param name="CommandLine">The module's own command line, or null for none.</param>
public sealed record PvhModule(string Name, ReadOnlyMemory<byte> Bytes, string? CommandLine = null);
