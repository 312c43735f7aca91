using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Grants;

// A domain's grant table: how it is stored, grown, versioned, and how grants are pinned.
//
// Storage. The table is a list of 4 KiB shared frames of entries (v1: 512 x 8 bytes; v2:
// 256 x 16 bytes) and, in v2, status frames (2048 x u16, ceil(frames/8) of them). Each frame
// is a GrantFrame: a host buffer until the guest places it with XENMEM_add_to_physmap
// (XENMAPSPACE_grant_table, idx, or idx|XENMAPIDX_grant_table_status for a status frame), then
// the guest RAM frame itself. Placing frame idx grows the table to idx+1 frames (a status
// frame s grows it to (s+1)*8 frames) when that is within MaxFrames, as Xen does; otherwise
// -EINVAL. A frame placed where another grant frame was pushes that one back to a host
// buffer (its gfn reads INVALID_GFN again). The table starts with 1 frame (x86's
// INITIAL_NR_GRANT_FRAMES).
//
// Pinning (Xen's active entries). Every use of a grant (a host mapping, or one side of a
// GNTTABOP_copy) pins the entry in an ActiveGrant record, kept per ref in chunks of 512 (one
// chunk per shared frame). The first pin, and the first write pin of a read-pinned grant,
// run the "set status" step on the shared entry:
//   v1: read the 32-bit word {flags, domid} once; check type == GTF_permit_access (and not
//       GTF_sub_page for a mapping), domid == grantee (only when not pinned yet), and not
//       GTF_readonly for a write; compare-exchange the word with GTF_reading (|GTF_writing)
//       added. A failed exchange retries on the value seen, at most 5 times in all: a guest
//       flipping its entry faster than we can exchange gets GNTST_general_error, never a loop.
//   v2: same checks on the header; OR the bits into the ref's u16 status entry; read the
//       header again and undo (GNTST_general_error) if it changed under us.
// Then the frame (and v2 sub-page window) is read once, checked to be guest RAM
// (GNTST_bad_page otherwise) and captured in the ActiveGrant: later users of a pinned grant
// use the captured frame, whatever the guest writes to its entry meanwhile. Releasing a pin
// clears GTF_reading when the last pin goes and GTF_writing when the last write pin goes,
// with an atomic AND on the status u16 (never a loop). Failure statuses follow Xen: a
// grant not of the permit type, granted to another domain, or read-only when written, is
// GNTST_general_error (Xen's _set_status), a ref beyond the table GNTST_bad_gntref.
// Transitive grants (v2) are refused with GNTST_general_error, as Xen does with
// transitive grants disabled.
//
// Concurrency and lifetime. One lock per table guards the frame list, the version and the
// active records; it is never held while taking another table's lock (a copy between two
// grants pins one side, releases the lock, pins the other). Every method that touches the
// frames first enters the owning domain's memory (Domain.TryEnterMemory), so a table whose
// domain is being destroyed is never read after its memory goes. When the domain is
// destroyed (Domain.Destroying, before its memory is unmapped) the table is marked dead:
// later operations answer GNTST_bad_domain, and every host mapping is revoked (its accesses
// fail; unmapping it is then a no-op).
//
// Versions. GNTTABOP_set_version follows Xen: the same version is a no-op; -EBUSY while a
// grant other than the 8 reserved ones is pinned; leaving v2 gives -EAGAIN while a sub-page
// grant is pinned and -ERANGE when a reserved entry cannot be expressed in v1. The reserved
// entries 0..7 (console, xenstore: the toolstack may seed them) are converted to the new
// format, with their reading/writing bits moved between flags and status; every other entry
// starts clear. v1 -> v2 creates the status frames (unplaced); v2 -> v1 drops them.

/// <summary>
/// A domain's grant table: the frames the guest shares with the hypervisor (v1 or v2), their
/// placement in guest RAM, and the pinning of grants by copies and host mappings. Host
/// backends map a guest's grants with <see cref="TryMap"/>.
/// </summary>
public sealed class GrantTable
{
    /// <summary>Upper bound accepted for <see cref="MaxFrames"/> (refs stay far below 2^32).</summary>
    public const int MaxFramesLimit = 1 << 14;

    private const int ActiveChunk = GrantTableLayout.EntriesPerFrameV1; // refs per active chunk (one chunk per shared frame)
    private const ulong MaxGfn = ulong.MaxValue >> 12;

    private readonly Domain _domain;
    private readonly object _lock = new();
    private readonly List<GrantFrame> _shared = [];
    private readonly List<GrantFrame> _status = [];
    private readonly List<ActiveGrant[]> _active = [];
    private readonly List<GrantMapping> _mappings = [];
    private int _version = 1;
    private int _maxFrames = 64;
    private int _maxVersion = 2;
    private bool _dead;

    public GrantTable(Domain domain)
    {
        _domain = domain;
        GrowLocked(GrantTableLayout.InitialFrames);
        domain.Destroying += OnDestroying;
    }

    /// <summary>The domain whose table this is (the granter).</summary>
    public Domain Domain => _domain;

    /// <summary>max_grant_frames: how many shared frames the table may grow to (xl.cfg).</summary>
    public int MaxFrames
    {
        get => Volatile.Read(ref _maxFrames);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, GrantTableLayout.InitialFrames);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxFramesLimit);
            Volatile.Write(ref _maxFrames, value);
        }
    }

    /// <summary>max_grant_version (xl.cfg): 1 refuses GNTTABOP_set_version to 2 with -ENOSYS, as Xen.</summary>
    public int MaxVersion
    {
        get => Volatile.Read(ref _maxVersion);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 2);
            Volatile.Write(ref _maxVersion, value);
        }
    }

    /// <summary>The table's format: 1 or 2 (GNTTABOP_get_version).</summary>
    public int Version
    {
        get { lock (_lock) return _version; }
    }

    /// <summary>Shared frames the table has now (GNTTABOP_query_size's nr_frames).</summary>
    public int FrameCount
    {
        get { lock (_lock) return _shared.Count; }
    }

    /// <summary>v2 status frames the table has now (0 in v1).</summary>
    public int StatusFrameCount
    {
        get { lock (_lock) return _status.Count; }
    }

    /// <summary>Number of grant refs the table holds now.</summary>
    public int EntryCount
    {
        get { lock (_lock) return EntryCountLocked; }
    }

    /// <summary>Whether the domain was destroyed (every operation fails, mappings are revoked).</summary>
    public bool IsDead
    {
        get { lock (_lock) return _dead; }
    }

    private int EntryCountLocked => _shared.Count * (_version == 1 ? GrantTableLayout.EntriesPerFrameV1 : GrantTableLayout.EntriesPerFrameV2);

    private static int StatusFramesFor(int frames) =>
        (frames * GrantTableLayout.EntriesPerFrameV2 + GrantTableLayout.StatusesPerFrame - 1) / GrantTableLayout.StatusesPerFrame;

    private GuestMemory Memory => _domain.Memory;

    // ---------------------------------------------------------------- host backends

    /// <summary>
    /// Maps grant <paramref name="gref"/> of this (the granting) domain's table for a backend
    /// acting as domain <paramref name="granteeDomId"/> (0 for backends in the host): the
    /// entry must be a full-page GTF_permit_access grant to that domain, and not read-only
    /// when <paramref name="writable"/>. Sets GTF_reading (and GTF_writing) until the mapping
    /// is disposed. Returns a GNTST_* status: GNTST_bad_domain when the domain is gone,
    /// GNTST_bad_gntref for a ref beyond the table, GNTST_bad_page when the granted frame is not
    /// the granter's RAM, GNTST_general_error for a grant that does not allow it (as Xen).
    /// </summary>
    public short TryMap(int granteeDomId, uint gref, bool writable, out GrantMapping? mapping)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(granteeDomId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(granteeDomId, DomId.First_Reserved);
        mapping = null;
        if (!_domain.TryEnterMemory()) return GrantStatus.BadDomain;
        try
        {
            lock (_lock)
            {
                if (_dead) return GrantStatus.BadDomain;
                short rc = AcquireLocked(gref, (ushort)granteeDomId, readOnly: !writable, forMap: true, out var act);
                if (rc != GrantStatus.Okay) return rc;
                mapping = new GrantMapping(this, gref, (ushort)granteeDomId, writable, act.Gfn);
                _mappings.Add(mapping);
                return GrantStatus.Okay;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>Ends a mapping (from <see cref="GrantMapping.Dispose"/>): drops its pin and clears the flags it set.</summary>
    internal void Unmap(GrantMapping mapping)
    {
        if (!_domain.TryEnterMemory()) return; // memory closing: the table is dead and the mapping revoked
        try
        {
            lock (_lock)
            {
                if (!_mappings.Remove(mapping) || _dead) return;
                ReleaseLocked(mapping.Ref, readOnly: !mapping.Writable);
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>Host mappings of this table's grants that are live now.</summary>
    public int MappingCount
    {
        get { lock (_lock) return _mappings.Count; }
    }

    /// <summary>
    /// Writes a full-page GTF_permit_access entry, as the toolstack does for the console and
    /// xenstore pages (Xen's gnttab_seed_entry): in the current version's format, domid and
    /// frame first, flags last. For the domain builder, before the guest runs.
    /// </summary>
    public void SeedEntry(uint gref, ushort granteeDomId, ulong gfn, bool readOnly = false)
    {
        if (!_domain.TryEnterMemory()) throw new InvalidOperationException($"d{_domain.Id} is being destroyed");
        try
        {
            lock (_lock)
            {
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(gref, (uint)EntryCountLocked);
                if (_version == 1) ArgumentOutOfRangeException.ThrowIfGreaterThan(gfn, uint.MaxValue);
                if (!TryEntrySpan(gref, out var e)) throw new InvalidOperationException("grant frame is not accessible");
                ushort flags = (ushort)(GrantEntryFlags.PermitAccess | (readOnly ? GrantEntryFlags.ReadOnly : 0));
                if (_version == 1)
                {
                    BitConverter.TryWriteBytes(e[GrantTableLayout.EntryV1Frame..], (uint)gfn);
                }
                else
                {
                    e[4..8].Clear();
                    BitConverter.TryWriteBytes(e[GrantTableLayout.EntryV2Frame..], gfn);
                }
                Volatile.Write(ref GrantEntry.HeaderWord(e), flags | (granteeDomId << 16));
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    // ---------------------------------------------------------------- grant use (copy, map)

    /// <summary>
    /// Pins <paramref name="gref"/> for one GNTTABOP_copy side by <paramref name="grantee"/> and
    /// returns the granted frame and window. Must be paired with <see cref="ReleaseForCopy"/>.
    /// </summary>
    internal short AcquireForCopy(uint gref, ushort grantee, bool readOnly, out ulong gfn, out ushort start, out ushort length)
    {
        gfn = 0; start = 0; length = 0;
        if (!_domain.TryEnterMemory()) return GrantStatus.BadDomain;
        try
        {
            lock (_lock)
            {
                if (_dead) return GrantStatus.BadDomain;
                short rc = AcquireLocked(gref, grantee, readOnly, forMap: false, out var act);
                if (rc != GrantStatus.Okay) return rc;
                gfn = act.Gfn; start = act.Start; length = act.Length;
                return GrantStatus.Okay;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>Drops a pin taken by <see cref="AcquireForCopy"/>.</summary>
    internal void ReleaseForCopy(uint gref, bool readOnly)
    {
        if (!_domain.TryEnterMemory()) return;
        try
        {
            lock (_lock)
            {
                if (!_dead) ReleaseLocked(gref, readOnly);
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>
    /// Everything GNTTABOP_map_grant_ref would check before creating a mapping for a guest
    /// grantee, without changing anything: GNTST_okay when the map would be allowed.
    /// </summary>
    internal short ValidateGuestMap(uint gref, ushort grantee, bool readOnly)
    {
        if (!_domain.TryEnterMemory()) return GrantStatus.BadDomain;
        try
        {
            lock (_lock)
            {
                if (_dead) return GrantStatus.BadDomain;
                if (gref >= (uint)EntryCountLocked) return GrantStatus.BadGntref;
                ref var act = ref Active(gref);
                if (act.Pinned && (act.Grantee != grantee || act.SubPage)) return GrantStatus.GeneralError;
                if (act.Pinned && (readOnly || act.WritePins != 0)) return GrantStatus.Okay;
                if (!TryEntrySpan(gref, out var span)) return GrantStatus.GeneralError;
                var e = _version == 1 ? GrantEntry.ReadV1(span) : GrantEntry.ReadV2(span);
                if (!act.Pinned &&
                    ((e.Flags & (GrantEntryFlags.TypeMask | GrantEntryFlags.SubPage)) != GrantEntryFlags.PermitAccess || e.DomId != grantee))
                    return GrantStatus.GeneralError;
                if (!readOnly && (e.Flags & GrantEntryFlags.ReadOnly) != 0) return GrantStatus.GeneralError;
                return IsRam(act.Pinned ? act.Gfn : e.Frame) ? GrantStatus.Okay : GrantStatus.BadPage;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>The pin step (see the file comment). Caller holds the lock and the memory section.</summary>
    private short AcquireLocked(uint gref, ushort grantee, bool readOnly, bool forMap, out ActiveGrant result)
    {
        result = default;
        if (gref >= (uint)EntryCountLocked) return GrantStatus.BadGntref;
        ref var act = ref Active(gref);
        if (act.Pinned &&
            (act.Grantee != grantee || (forMap && act.SubPage) ||
             (readOnly ? act.ReadPins : act.WritePins) >= ActiveGrant.MaxPins))
            return GrantStatus.GeneralError;

        if (!act.Pinned || (!readOnly && act.WritePins == 0))
        {
            if (!TryEntrySpan(gref, out var entry) || !TryStatusLocation(gref, out var statusFrame, out int statusOffset))
                return GrantStatus.GeneralError;
            short rc = _version == 1
                ? SetStatusV1(entry, grantee, readOnly, forMap, act.Pinned, out int header)
                : SetStatusV2(entry, statusFrame, statusOffset, grantee, readOnly, forMap, act.Pinned, out header);
            if (rc != GrantStatus.Okay) return rc;

            // Decide on the header that was validated; take the frame and window from one read.
            var e = _version == 1 ? GrantEntry.ReadV1(entry) : GrantEntry.ReadV2(entry);
            ulong gfn = e.Frame;
            ushort start = 0, length = GrantTableLayout.PageSize;
            bool subPage = false;
            if (_version == 2 && (header & GrantEntryFlags.TypeMask) == GrantEntryFlags.Transitive)
                rc = GrantStatus.GeneralError; // transitive grants are not supported (Xen with them disabled)
            else if (_version == 2 && (header & GrantEntryFlags.SubPage) != 0)
            {
                subPage = true;
                start = e.PageOff;
                length = e.Length;
            }
            if (rc == GrantStatus.Okay && !IsRam(gfn)) rc = GrantStatus.BadPage;
            if (rc == GrantStatus.Okay && act.Pinned &&
                (act.Gfn != gfn || (act.SubPage && (!subPage || act.Start != start || act.Length != length))))
                rc = GrantStatus.GeneralError; // a write upgrade found the entry changed
            if (rc != GrantStatus.Okay)
            {
                ReduceStatus(in act, statusFrame, statusOffset, readOnly);
                return rc;
            }
            if (!act.Pinned)
                act = new ActiveGrant { Grantee = grantee, Gfn = gfn, Start = start, Length = length, SubPage = subPage };
        }

        if (readOnly) act.ReadPins++;
        else act.WritePins++;
        result = act;
        return GrantStatus.Okay;
    }

    /// <summary>Drops one pin and the status bits no pin needs any more. Caller holds the lock and the memory section.</summary>
    private void ReleaseLocked(uint gref, bool readOnly)
    {
        if (gref >= (uint)EntryCountLocked) return;
        ref var act = ref Active(gref);
        if (readOnly)
        {
            if (act.ReadPins == 0) return;
            act.ReadPins--;
        }
        else
        {
            if (act.WritePins == 0) return;
            act.WritePins--;
        }
        if (TryStatusLocation(gref, out var frame, out int offset))
            ReduceStatus(in act, frame, offset, readOnly);
    }

    /// <summary>Xen's reduce_status_for_pin: clear GTF_reading when unpinned, GTF_writing when no write pin is left.</summary>
    private static void ReduceStatus(in ActiveGrant act, Span<byte> statusFrame, int offset, bool readOnly)
    {
        ushort clear = act.Pinned ? (ushort)0 : GrantEntryFlags.Reading;
        if (!readOnly && act.WritePins == 0) clear |= GrantEntryFlags.Writing;
        if (clear != 0 && !statusFrame.IsEmpty) GrantEntry.ClearBits(statusFrame, offset, clear);
    }

    private static short SetStatusV1(Span<byte> entry, ushort grantee, bool readOnly, bool forMap, bool pinned, out int header)
    {
        int mask = GrantEntryFlags.TypeMask | (forMap ? GrantEntryFlags.SubPage : 0);
        int add = GrantEntryFlags.Reading | (readOnly ? 0 : GrantEntryFlags.Writing);
        ref int word = ref GrantEntry.HeaderWord(entry);
        int seen = Volatile.Read(ref word);
        for (int attempt = 1; ; attempt++)
        {
            header = seen;
            int flags = seen & 0xFFFF;
            if (!pinned && ((flags & mask) != GrantEntryFlags.PermitAccess || (ushort)((uint)seen >> 16) != grantee))
                return GrantStatus.GeneralError;
            if (!readOnly && (flags & GrantEntryFlags.ReadOnly) != 0) return GrantStatus.GeneralError;
            int prev = Interlocked.CompareExchange(ref word, seen | add, seen);
            if (prev == seen) return GrantStatus.Okay;
            if (attempt == 5) return GrantStatus.GeneralError; // the guest keeps changing the entry
            seen = prev;
        }
    }

    private static short SetStatusV2(Span<byte> entry, Span<byte> statusFrame, int statusOffset,
                                     ushort grantee, bool readOnly, bool forMap, bool pinned, out int header)
    {
        int mask = GrantEntryFlags.TypeMask | (forMap ? GrantEntryFlags.SubPage : 0);
        bool Acceptable(int h) =>
            ((h & mask) == GrantEntryFlags.PermitAccess || (!forMap && (h & mask) == GrantEntryFlags.Transitive)) &&
            (ushort)((uint)h >> 16) == grantee;

        header = Volatile.Read(ref GrantEntry.HeaderWord(entry));
        if (!pinned && !Acceptable(header)) return GrantStatus.GeneralError;
        if (!readOnly && (header & GrantEntryFlags.ReadOnly) != 0) return GrantStatus.GeneralError;
        GrantEntry.SetBits(statusFrame, statusOffset, readOnly ? GrantEntryFlags.Reading : (ushort)(GrantEntryFlags.Reading | GrantEntryFlags.Writing));
        // Interlocked.Or is a full barrier: the guest sees the status before we look again.
        header = Volatile.Read(ref GrantEntry.HeaderWord(entry));
        if (!pinned)
        {
            if (!Acceptable(header) || (!readOnly && (header & GrantEntryFlags.ReadOnly) != 0))
            {
                GrantEntry.ClearBits(statusFrame, statusOffset, GrantEntryFlags.Reading | GrantEntryFlags.Writing);
                return GrantStatus.GeneralError;
            }
        }
        else if ((header & GrantEntryFlags.ReadOnly) != 0)
        {
            GrantEntry.ClearBits(statusFrame, statusOffset, GrantEntryFlags.Writing);
            return GrantStatus.GeneralError;
        }
        return GrantStatus.Okay;
    }

    // ---------------------------------------------------------------- table management

    /// <summary>
    /// GNTTABOP_setup_table's growth step: GNTST_general_error when <paramref name="frames"/>
    /// exceeds <see cref="MaxFrames"/>, else the table (and v2 status frames) grows to at least that.
    /// </summary>
    internal short EnsureFrames(uint frames)
    {
        if (frames > (uint)MaxFrames) return GrantStatus.GeneralError;
        lock (_lock)
        {
            if (_dead) return GrantStatus.BadDomain;
            GrowLocked((int)frames);
            return GrantStatus.Okay;
        }
    }

    /// <summary>Where shared frame <paramref name="index"/> is placed: its gfn, or INVALID_GFN (all ones).</summary>
    public ulong SharedFrameGfn(int index)
    {
        lock (_lock) return (uint)index < (uint)_shared.Count ? _shared[index].Gfn : GrantFrame.NotPlaced;
    }

    /// <summary>Where v2 status frame <paramref name="index"/> is placed: its gfn, or INVALID_GFN (all ones).</summary>
    public ulong StatusFrameGfn(int index)
    {
        lock (_lock) return (uint)index < (uint)_status.Count ? _status[index].Gfn : GrantFrame.NotPlaced;
    }

    /// <summary>
    /// XENMEM_add_to_physmap with XENMAPSPACE_grant_table: makes guest frame <paramref name="gpfn"/>
    /// shared frame <paramref name="idx"/> (or, in v2 with XENMAPIDX_grant_table_status, that
    /// status frame), growing the table as Xen does. 0, or -EINVAL for a frame outside RAM or an
    /// index the table cannot reach.
    /// </summary>
    internal long PlaceFrame(ulong idx, ulong gpfn)
    {
        if (gpfn > MaxGfn || !_domain.TryEnterMemory()) return -XenErrno.EINVAL;
        try
        {
            if (!_domain.EnsureFrameBacked(gpfn << 12) || !Memory.TryGetSpan(gpfn << 12, GrantTableLayout.PageSize, out var target))
                return -XenErrno.EINVAL;
            lock (_lock)
            {
                if (_dead) return -XenErrno.EINVAL;
                GrantFrame frame;
                if (_version == 2 && (idx & MemoryOp.MapIdxGrantTableStatus) != 0)
                {
                    ulong s = idx & ~(ulong)MemoryOp.MapIdxGrantTableStatus;
                    if (s >= (ulong)_status.Count)
                    {
                        ulong needed = (s + 1) * (GrantTableLayout.StatusesPerFrame / GrantTableLayout.EntriesPerFrameV2);
                        if (s < int.MaxValue && needed <= (ulong)MaxFrames) GrowLocked((int)needed);
                        if (s >= (ulong)_status.Count) return -XenErrno.EINVAL;
                    }
                    frame = _status[(int)s];
                }
                else
                {
                    if (idx >= (ulong)MaxFrames && idx >= (ulong)_shared.Count) return -XenErrno.EINVAL;
                    if (idx >= (ulong)_shared.Count) GrowLocked((int)idx + 1);
                    frame = _shared[(int)idx];
                }
                if (frame.Gfn == gpfn) return 0;
                foreach (var other in _shared)
                    if (other.Gfn == gpfn) other.Unplace(Memory);
                foreach (var other in _status)
                    if (other.Gfn == gpfn) other.Unplace(Memory);
                frame.PlaceAt(Memory, gpfn, target);
                return 0;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>GNTTABOP_set_version (see the file comment): 0 or a negative errno.</summary>
    internal int SetVersion(uint version)
    {
        if (version is not (1 or 2)) return -XenErrno.EINVAL;
        if (version == 2 && MaxVersion < 2) return -XenErrno.ENOSYS;
        if (!_domain.TryEnterMemory()) return -XenErrno.EINVAL;
        try
        {
            lock (_lock)
            {
                if (_dead) return -XenErrno.EINVAL;
                if (_version == (int)version) return 0;

                int entries = EntryCountLocked;
                for (uint r = GrantTableLayout.ReservedEntries; r < (uint)entries; r++)
                    if (Active(r).Pinned) return -XenErrno.EBUSY;
                if (_version == 2)
                    for (uint r = 0; r < (uint)entries; r++)
                        if (Active(r).Pinned && Active(r).SubPage) return -XenErrno.EAGAIN;

                // Keep the reserved entries, in v1 terms (flags with the reading/writing bits, domid, frame).
                Span<(ushort Flags, ushort DomId, ulong Frame)> reserved = stackalloc (ushort, ushort, ulong)[GrantTableLayout.ReservedEntries];
                for (uint r = 0; r < GrantTableLayout.ReservedEntries; r++)
                {
                    if (!TryEntrySpan(r, out var span)) return -XenErrno.EINVAL;
                    if (_version == 1)
                    {
                        var e = GrantEntry.ReadV1(span);
                        reserved[(int)r] = (e.Flags, e.DomId, e.Frame);
                        continue;
                    }
                    var e2 = GrantEntry.ReadV2(span);
                    if ((e2.Type == GrantEntryFlags.PermitAccess && e2.Frame > uint.MaxValue) || e2.Type == GrantEntryFlags.Transitive)
                        return -XenErrno.ERANGE;
                    if (e2.Type == GrantEntryFlags.PermitAccess)
                    {
                        ushort status = TryStatusLocation(r, out var st, out int so) ? GrantEntry.ReadU16(st, so) : (ushort)0;
                        reserved[(int)r] = ((ushort)(e2.Flags | status), e2.DomId, e2.Frame);
                    }
                    else reserved[(int)r] = default;
                }

                _version = (int)version;
                _status.Clear();
                GrowLocked(_shared.Count); // creates the status frames of v2
                foreach (var f in _shared)
                    if (f.TryGetBytes(Memory, out var bytes)) bytes.Clear();

                const ushort inUse = GrantEntryFlags.Reading | GrantEntryFlags.Writing;
                for (uint r = 0; r < GrantTableLayout.ReservedEntries; r++)
                {
                    var (flags, domid, frame) = reserved[(int)r];
                    if (!TryEntrySpan(r, out var span)) continue;
                    if (version == 1)
                    {
                        BitConverter.TryWriteBytes(span[GrantTableLayout.EntryV1Frame..], (uint)frame);
                        BitConverter.TryWriteBytes(span, flags);
                        BitConverter.TryWriteBytes(span[GrantTableLayout.EntryDomId..], domid);
                    }
                    else
                    {
                        BitConverter.TryWriteBytes(span[GrantTableLayout.EntryV2Frame..], frame);
                        BitConverter.TryWriteBytes(span, (ushort)(flags & ~inUse));
                        BitConverter.TryWriteBytes(span[GrantTableLayout.EntryDomId..], domid);
                        if (TryStatusLocation(r, out var st, out int so))
                            BitConverter.TryWriteBytes(st[so..], (ushort)(flags & inUse));
                    }
                }
                return 0;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>GNTTABOP_swap_grant_ref: exchanges two entries (and v2 statuses) of the caller's own table.</summary>
    internal short SwapEntries(uint a, uint b)
    {
        if (!_domain.TryEnterMemory()) return GrantStatus.BadDomain;
        try
        {
            lock (_lock)
            {
                if (_dead) return GrantStatus.BadDomain;
                uint count = (uint)EntryCountLocked;
                if (a >= count || b >= count) return GrantStatus.BadGntref;
                if (a == b) return GrantStatus.Okay;
                if (Active(a).Pinned || Active(b).Pinned) return GrantStatus.EAgain;
                if (!TryEntrySpan(a, out var ea) || !TryEntrySpan(b, out var eb)) return GrantStatus.GeneralError;
                Span<byte> tmp = stackalloc byte[GrantTableLayout.EntryV2Size];
                tmp = tmp[..ea.Length];
                ea.CopyTo(tmp);
                eb.CopyTo(ea);
                tmp.CopyTo(eb);
                if (_version == 2 && TryStatusLocation(a, out var sa, out int oa) && TryStatusLocation(b, out var sb, out int ob))
                {
                    ushort x = GrantEntry.ReadU16(sa, oa);
                    BitConverter.TryWriteBytes(sa[oa..], GrantEntry.ReadU16(sb, ob));
                    BitConverter.TryWriteBytes(sb[ob..], x);
                }
                return GrantStatus.Okay;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    // ---------------------------------------------------------------- internals

    private void GrowLocked(int frames)
    {
        frames = Math.Max(frames, GrantTableLayout.InitialFrames);
        while (_shared.Count < frames)
        {
            _shared.Add(new GrantFrame());
            _active.Add(new ActiveGrant[ActiveChunk]);
        }
        if (_version == 2)
        {
            int needed = StatusFramesFor(_shared.Count);
            while (_status.Count < needed) _status.Add(new GrantFrame());
        }
    }

    private ref ActiveGrant Active(uint gref) => ref _active[(int)(gref / ActiveChunk)][gref % ActiveChunk];

    /// <summary>The bytes of entry <paramref name="gref"/> (8 in v1, 16 in v2). Caller checked the ref.</summary>
    private bool TryEntrySpan(uint gref, out Span<byte> entry)
    {
        int perFrame = _version == 1 ? GrantTableLayout.EntriesPerFrameV1 : GrantTableLayout.EntriesPerFrameV2;
        int size = _version == 1 ? GrantTableLayout.EntryV1Size : GrantTableLayout.EntryV2Size;
        if (!_shared[(int)(gref / (uint)perFrame)].TryGetBytes(Memory, out var frame))
        {
            entry = default;
            return false;
        }
        entry = frame.Slice((int)(gref % (uint)perFrame) * size, size);
        return true;
    }

    /// <summary>Where the reading/writing bits of <paramref name="gref"/> live: v1 its flags, v2 its status u16.</summary>
    private bool TryStatusLocation(uint gref, out Span<byte> frame, out int offset)
    {
        if (_version == 1)
        {
            offset = (int)(gref % GrantTableLayout.EntriesPerFrameV1) * GrantTableLayout.EntryV1Size + GrantTableLayout.EntryFlags;
            if (_shared[(int)(gref / GrantTableLayout.EntriesPerFrameV1)].TryGetBytes(Memory, out frame)) return true;
        }
        else
        {
            offset = (int)(gref % GrantTableLayout.StatusesPerFrame) * GrantTableLayout.StatusSize;
            int index = (int)(gref / GrantTableLayout.StatusesPerFrame);
            if (index < _status.Count && _status[index].TryGetBytes(Memory, out frame)) return true;
        }
        frame = default;
        return false;
    }

    private bool IsRam(ulong gfn) => gfn <= MaxGfn && Memory.Contains(gfn << 12, GuestMemory.PageSize);

    private void OnDestroying(Domain _)
    {
        lock (_lock)
        {
            _dead = true;
            foreach (var m in _mappings) m.Revoke();
            _mappings.Clear();
        }
    }
    /// <summary>
    /// Debug dump (`xl debug-keys g`): the table's version, frames (placed in guest RAM or not),
    /// entries, entries in use (a grant type other than GTF_invalid), pinned entries and host
    /// mappings. Read-only; entries are read inside the domain's memory section.
    /// </summary>
    public void Dump(Action<string> line)
    {
        bool memory = _domain.TryEnterMemory();
        try
        {
            lock (_lock)
            {
                int placed = _shared.Count(f => f.IsPlaced);
                int inUse = 0, unreadable = 0, pinned = 0;
                int entries = EntryCountLocked;
                for (uint gref = 0; gref < (uint)entries; gref++)
                {
                    if (memory && !_dead && TryEntrySpan(gref, out var entry))
                    {
                        if ((entry[GrantTableLayout.EntryFlags] & GrantEntryFlags.TypeMask) != 0) inUse++;
                    }
                    else unreadable++;
                    if ((gref / ActiveChunk) < (uint)_active.Count)
                    {
                        ref var a = ref Active(gref);
                        if (a.ReadPins != 0 || a.WritePins != 0) pinned++;
                    }
                }
                line($"d{_domain.Id}: grant table v{_version}{(_dead ? " (dead)" : "")}: {_shared.Count}/{MaxFrames} frames ({placed} placed in guest RAM)" +
                     $"{(_version == 2 ? $", {_status.Count} status frames" : "")}, {entries} entries, {inUse} in use" +
                     $"{(unreadable > 0 ? $" ({unreadable} unreadable)" : "")}, {pinned} pinned, {_mappings.Count} host mappings");
            }
        }
        finally
        {
            if (memory) _domain.ExitMemory();
        }
    }
}
