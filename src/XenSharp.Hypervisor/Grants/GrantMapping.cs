using System.Buffers;
using System.Runtime.CompilerServices;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// A host backend's view of ONE page granted by a guest (from <see cref="GrantTable.TryMap"/>).
/// Nothing is remapped: every access is a bounds-checked copy to or from the granter's RAM,
/// made inside the granter's memory section (Domain.TryEnterMemory), so the domain can be
/// destroyed at any time without the host touching freed memory. Offsets and lengths are
/// checked against the 4 KiB page; writes are refused on read-only mappings. Accesses answer
/// false (nothing done) when out of bounds, not allowed, unmapped, or revoked: the granter was
/// destroyed (<see cref="IsRevoked"/>). Dispose (or <see cref="Unmap"/>) ends the mapping and
/// clears GTF_reading/GTF_writing when it was the last user. A mapping may be used from
/// several threads; disposing it while another thread still accesses it is the caller's bug
/// (as with any unmap), though it never makes the host touch memory outside the guest.
/// </summary>
public sealed class GrantMapping : IDisposable
{
    public const int PageSize = 4096;

    private readonly GrantTable _table;
    private readonly ulong _gpa;
    private volatile bool _revoked;
    private int _unmapped;

    internal GrantMapping(GrantTable table, uint gref, ushort grantee, bool writable, ulong gfn)
    {
        _table = table;
        Ref = gref;
        Grantee = grantee;
        Writable = writable;
        Gfn = gfn;
        _gpa = gfn << 12;
    }

    /// <summary>The granting domain.</summary>
    public Domain Granter => _table.Domain;
    /// <summary>The grant reference in the granter's table.</summary>
    public uint Ref { get; }
    /// <summary>The domain id the grant was used as (0: the host).</summary>
    public ushort Grantee { get; }
    public bool Writable { get; }
    /// <summary>The granter's guest frame captured when the grant was mapped.</summary>
    public ulong Gfn { get; }
    /// <summary>The granter was destroyed: every access fails.</summary>
    public bool IsRevoked => _revoked;
    /// <summary>Still usable: neither unmapped nor revoked.</summary>
    public bool IsActive => !_revoked && Volatile.Read(ref _unmapped) == 0;

    /// <summary>Copies page bytes [offset, offset+destination.Length) out.</summary>
    public bool TryRead(int offset, Span<byte> destination)
    {
        if (!Enter(offset, destination.Length, write: false, out var page)) return false;
        try { page.CopyTo(destination); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Copies bytes into the page at <paramref name="offset"/> (writable mappings only).</summary>
    public bool TryWrite(int offset, ReadOnlySpan<byte> source)
    {
        if (!Enter(offset, source.Length, write: true, out var page)) return false;
        try { source.CopyTo(page); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Reads one value (a single load when naturally aligned and at most 8 bytes, as for ring indexes).</summary>
    public bool TryRead<T>(int offset, out T value) where T : unmanaged
    {
        value = default;
        if (!Enter(offset, Unsafe.SizeOf<T>(), write: false, out var page)) return false;
        try { value = Unsafe.ReadUnaligned<T>(ref page[0]); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Writes one value (a single store when naturally aligned and at most 8 bytes).</summary>
    public bool TryWrite<T>(int offset, T value) where T : unmanaged
    {
        if (!Enter(offset, Unsafe.SizeOf<T>(), write: true, out var page)) return false;
        try { Unsafe.WriteUnaligned(ref page[0], value); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Copies <paramref name="length"/> bytes from this page to another mapping's page (which must be writable).</summary>
    public bool TryCopyTo(int offset, GrantMapping destination, int destinationOffset, int length)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!Enter(offset, length, write: false, out var from)) return false;
        try
        {
            if (!destination.Enter(destinationOffset, length, write: true, out var to)) return false;
            try { from.CopyTo(to); }
            finally { destination.Exit(); }
        }
        finally { Exit(); }
        return true;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on page bytes [offset, offset+length) in place (writable
    /// mappings only). The span is valid only during the call; do not block in it.
    /// </summary>
    public bool TryAccess<TState>(int offset, int length, TState state, SpanAction<byte, TState> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!Enter(offset, length, write: true, out var page)) return false;
        try { action(page, state); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Like <see cref="TryAccess"/> but read-only, for any mapping.</summary>
    public bool TryInspect<TState>(int offset, int length, TState state, ReadOnlySpanAction<byte, TState> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!Enter(offset, length, write: false, out var page)) return false;
        try { action(page, state); }
        finally { Exit(); }
        return true;
    }

    /// <summary>Ends the mapping (same as Dispose).</summary>
    public void Unmap() => Dispose();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _unmapped, 1) != 0) return;
        if (!_revoked) _table.Unmap(this);
    }

    /// <summary>The granter is being destroyed (called under its table's lock).</summary>
    internal void Revoke() => _revoked = true;

    private bool Enter(int offset, int length, bool write, out Span<byte> page)
    {
        page = default;
        if ((uint)offset > PageSize || (uint)length > (uint)(PageSize - offset)) return false;
        if (write && !Writable) return false;
        if (!IsActive) return false;
        var d = _table.Domain;
        if (!d.TryEnterMemory()) return false;
        if (IsActive && d.Memory.TryGetSpan(_gpa, PageSize, out var whole))
        {
            page = whole.Slice(offset, length);
            return true;
        }
        d.ExitMemory();
        page = default;
        return false;
    }

    private void Exit() => _table.Domain.ExitMemory();
}
