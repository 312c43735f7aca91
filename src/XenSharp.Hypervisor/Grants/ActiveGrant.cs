namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The hypervisor's private record of a grant while it is in use (Xen's active_grant_entry):
/// who uses it, how many read and write users it has (host mappings and copies in flight),
/// and the page window captured when the first user pinned it. While pinned, the guest may
/// rewrite its entry as it likes; users keep the captured frame, as on Xen.
/// </summary>
internal struct ActiveGrant
{
    /// <summary>Pins of each kind are capped (Xen's counters are 8 bits; ours are wider but still bounded).</summary>
    public const int MaxPins = 0xFFFF;

    public int ReadPins;
    public int WritePins;
    /// <summary>The grantee holding the pins.</summary>
    public ushort Grantee;
    /// <summary>The granted guest frame of the granter.</summary>
    public ulong Gfn;
    /// <summary>The granted window inside the page: [Start, Start+Length); the whole page unless sub-page.</summary>
    public ushort Start;
    public ushort Length;
    public bool SubPage;

    public readonly bool Pinned => (ReadPins | WritePins) != 0;
}
