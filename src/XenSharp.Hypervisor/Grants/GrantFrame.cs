using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// One 4 KiB frame of a grant table (a shared frame of entries, or a v2 status frame), stored
/// the way shared_info is: until the guest places it with XENMEM_add_to_physmap it is a
/// host-side buffer that only the hypervisor sees; once placed at a guest frame, that RAM
/// frame IS the grant frame (the buffer's contents are copied there and the buffer dropped),
/// and entries are read and written in guest RAM. Placing it again elsewhere copies the
/// current contents to the new frame; the old RAM frame keeps a stale copy and is ordinary RAM
/// again (on Xen it would become a hole). Only <see cref="GrantTable"/> touches a frame, under
/// its lock and with the owner's memory entered.
/// </summary>
internal sealed class GrantFrame
{
    /// <summary>INVALID_GFN: the frame is not placed in the guest's physical address space.</summary>
    public const ulong NotPlaced = ulong.MaxValue;

    private byte[]? _buffer = new byte[GuestMemory.PageSize];

    /// <summary>The guest frame holding this grant frame, or <see cref="NotPlaced"/>.</summary>
    public ulong Gfn { get; private set; } = NotPlaced;

    public bool IsPlaced => Gfn != NotPlaced;

    /// <summary>
    /// The frame's bytes: the guest RAM frame when placed, else the host buffer. False only if
    /// a placed frame is no longer guest memory (cannot happen: regions never change).
    /// </summary>
    public bool TryGetBytes(GuestMemory memory, out Span<byte> bytes)
    {
        if (_buffer is { } b)
        {
            bytes = b;
            return true;
        }
        return memory.TryGetSpan(Gfn << 12, (int)GuestMemory.PageSize, out bytes);
    }

    /// <summary>Makes guest frame <paramref name="gfn"/> (already checked to be RAM) this frame, carrying the contents over.</summary>
    public void PlaceAt(GuestMemory memory, ulong gfn, Span<byte> target)
    {
        if (Gfn == gfn) return;
        if (TryGetBytes(memory, out var current)) current.CopyTo(target);
        else target.Clear();
        Gfn = gfn;
        _buffer = null;
    }

    /// <summary>Another frame takes this one's guest frame: keep the contents in a host buffer again.</summary>
    public void Unplace(GuestMemory memory)
    {
        if (_buffer is not null) return;
        var buffer = new byte[GuestMemory.PageSize];
        if (TryGetBytes(memory, out var current)) current.CopyTo(buffer);
        _buffer = buffer;
        Gfn = NotPlaced;
    }
}
