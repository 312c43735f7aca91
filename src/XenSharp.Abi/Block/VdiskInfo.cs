namespace XenSharp.Abi.Block;

/// <summary>Bits of the backend's <c>info</c> node (VDISK_*).</summary>
public static class VdiskInfo
{
    public const uint Cdrom = 0x1;
    public const uint Removable = 0x2;
    public const uint ReadOnly = 0x4;
}
