using XenSharp.Abi.Block;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Grants;

namespace XenSharp.Devices.Block;

/// <summary>
/// Executes blkif requests (io/blkif.h) from one ring against a <see cref="RawImage"/>: READ,
/// WRITE, WRITE_BARRIER, FLUSH_DISKCACHE, DISCARD and INDIRECT, each answered with
/// BLKIF_RSP_OKAY, BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP. Every data page is a grant of the
/// frontend mapped with <see cref="GrantTable.TryMap"/> for this request only — writable only for
/// READ, where the backend writes into the guest's page. A request is checked completely before
/// the image is touched: segment counts (at most 11 inline, 1..feature-max-indirect-segments
/// indirect), first_sect ≤ last_sect ≤ 7, the sector range inside the disk, writes and discards
/// on a read-only disk, and every grant; any failure answers BLKIF_RSP_ERROR and leaves the image
/// as it was. Nothing a frontend writes makes the backend throw. Buffers are allocated once
/// per backend; per request only the grant mappings are.
/// </summary>
public sealed class BlockBackend
{
    private const int PageSize = 4096;

    private readonly RawImage _image;
    private readonly GrantTable _grants;
    private readonly BlockBackendFeatures _features;
    private readonly BlkifRequest _request;
    private readonly GrantMapping?[] _maps;
    private readonly byte[] _data;
    private readonly byte[] _entry = new byte[BlkifAbi.X86_64.EntrySize];
    private readonly byte[] _indirect = new byte[PageSize];

    public BlockBackend(RawImage image, GrantTable frontendGrants, BlockBackendFeatures? features = null)
    {
        _image = image ?? throw new ArgumentNullException(nameof(image));
        _grants = frontendGrants ?? throw new ArgumentNullException(nameof(frontendGrants));
        _features = features ?? new BlockBackendFeatures();
        int maxSegments = Math.Max(BlkifOp.MaxSegmentsPerRequest, _features.MaxIndirectSegments);
        _request = new BlkifRequest(maxSegments);
        _maps = new GrantMapping?[maxSegments];
        _data = new byte[maxSegments * PageSize];
    }

    public RawImage Image => _image;
    public BlockBackendFeatures Features => _features;
    /// <summary>Whether BLKIF_OP_DISCARD is offered (a writable disk with discard enabled).</summary>
    public bool DiscardOffered => _features.Discard && !_image.ReadOnly;

    /// <summary>Diagnostics: a line per refused request (set by the owner).</summary>
    public Action<string>? Log { get; set; }

    public long Requests { get; private set; }
    public long Errors { get; private set; }
    public long SectorsRead { get; private set; }
    public long SectorsWritten { get; private set; }

    /// <summary>
    /// Takes every request the ring holds, executes it and pushes its response, until the ring is
    /// empty with req_event re-armed (the final check). Returns whether the frontend asked to be
    /// notified of the responses.
    /// </summary>
    public bool ProcessRing(BlkifRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        bool notify = false;
        do
        {
            while (ring.TryTakeRequest(_entry))
            {
                _request.Decode(_entry, ring.Abi);
                short status = Execute(_request);
                Requests++;
                if (status != BlkifStatus.Okay) Errors++;
                ring.PutResponse(_request.Id, _request.ResponseOperation, status);
                notify |= ring.PushResponses();
            }
        }
        while (ring.FinalCheckForRequests());
        return notify;
    }

    /// <summary>Executes one decoded request; its BLKIF_RSP_* status. Never throws.</summary>
    public short Execute(BlkifRequest r)
    {
        try
        {
            switch (r.Operation)
            {
                case BlkifOp.Read:
                case BlkifOp.Write:
                case BlkifOp.WriteBarrier:
                {
                    int n = r.NrSegments;
                    if (n > BlkifOp.MaxSegmentsPerRequest)
                        return Refuse(r, $"{n} segments (at most {BlkifOp.MaxSegmentsPerRequest})");
                    if (n == 0 && r.Operation != BlkifOp.WriteBarrier)
                        return Refuse(r, "no segments");
                    return ReadWrite(r, r.Operation != BlkifOp.Read, barrier: r.Operation == BlkifOp.WriteBarrier, n);
                }
                case BlkifOp.Indirect:
                    return Indirect(r);
                case BlkifOp.FlushDiskCache:
                    _image.Flush();
                    return BlkifStatus.Okay;
                case BlkifOp.Discard:
                    return Discard(r);
                default:
                    return BlkifStatus.EOpNotSupp;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or NotSupportedException)
        {
            return Refuse(r, $"{_image.Path}: {e.Message}");
        }
        finally
        {
            UnmapAll();
        }
    }

    private short Indirect(BlkifRequest r)
    {
        int max = _features.MaxIndirectSegments;
        if (max == 0) return BlkifStatus.EOpNotSupp;
        if (r.IndirectOperation is not (BlkifOp.Read or BlkifOp.Write))
            return Refuse(r, $"indirect operation {r.IndirectOperation} (read or write only)");
        int n = r.NrSegments;
        if (n == 0 || n > max) return Refuse(r, $"{n} indirect segments (1..{max})");
        int pages = (n + BlkifOp.SegmentsPerIndirectPage - 1) / BlkifOp.SegmentsPerIndirectPage;
        if (pages > BlkifOp.MaxIndirectPagesPerRequest) return Refuse(r, $"{pages} indirect pages");
        for (int p = 0; p < pages; p++)
        {
            short rc = _grants.TryMap(_features.BackendDomainId, r.IndirectGrefs[p], writable: false, out var page);
            if (rc != GrantStatus.Okay)
                return Refuse(r, $"indirect page grant {r.IndirectGrefs[p]}: GNTST {rc}");
            int count = Math.Min(BlkifOp.SegmentsPerIndirectPage, n - p * BlkifOp.SegmentsPerIndirectPage);
            bool ok = page!.TryRead(0, _indirect.AsSpan(0, count * BlkifOp.SegmentSize));
            page.Dispose();
            if (!ok) return Refuse(r, $"indirect page grant {r.IndirectGrefs[p]} unreadable");
            for (int i = 0; i < count; i++)
                r.Segments[p * BlkifOp.SegmentsPerIndirectPage + i] = BlkifRequest.DecodeSegment(_indirect.AsSpan(i * BlkifOp.SegmentSize));
        }
        return ReadWrite(r, r.IndirectOperation == BlkifOp.Write, barrier: false, n);
    }

    private short ReadWrite(BlkifRequest r, bool write, bool barrier, int n)
    {
        if (write && _image.ReadOnly) return Refuse(r, "write to a read-only disk");
        ulong sectors = 0;
        for (int i = 0; i < n; i++)
        {
            var s = r.Segments[i];
            if (!s.IsValid) return Refuse(r, $"segment {i}: sectors {s.FirstSect}..{s.LastSect} (0..7, first ≤ last)");
            sectors += (ulong)s.SectorCount;
        }
        if (!_image.Contains(r.Sector, sectors))
            return Refuse(r, $"sectors {r.Sector}+{sectors} past the end of the disk ({_image.Sectors} sectors)");

        for (int i = 0; i < n; i++)
        {
            short rc = _grants.TryMap(_features.BackendDomainId, r.Segments[i].Gref, writable: !write, out _maps[i]);
            if (rc != GrantStatus.Okay) return Refuse(r, $"segment {i}: grant {r.Segments[i].Gref}: GNTST {rc}");
        }

        long offset = checked((long)r.Sector * BlkifOp.SectorSize);
        int total = checked((int)sectors * BlkifOp.SectorSize);
        var data = _data.AsSpan(0, total);
        if (write)
        {
            int pos = 0;
            for (int i = 0; i < n; i++)
            {
                var s = r.Segments[i];
                int len = s.SectorCount * BlkifOp.SectorSize;
                if (!_maps[i]!.TryRead(s.FirstSect * BlkifOp.SectorSize, data.Slice(pos, len)))
                    return Refuse(r, $"segment {i}: grant {s.Gref} unreadable");
                pos += len;
            }
            if (barrier) _image.Flush();
            if (total > 0) _image.Write(offset, data);
            if (barrier) _image.Flush();
            SectorsWritten += (long)sectors;
        }
        else
        {
            _image.Read(offset, data);
            int pos = 0;
            for (int i = 0; i < n; i++)
            {
                var s = r.Segments[i];
                int len = s.SectorCount * BlkifOp.SectorSize;
                if (!_maps[i]!.TryWrite(s.FirstSect * BlkifOp.SectorSize, data.Slice(pos, len)))
                    return Refuse(r, $"segment {i}: grant {s.Gref} not writable");
                pos += len;
            }
            SectorsRead += (long)sectors;
        }
        return BlkifStatus.Okay;
    }

    private short Discard(BlkifRequest r)
    {
        if (!DiscardOffered) return _image.ReadOnly ? Refuse(r, "discard on a read-only disk") : BlkifStatus.EOpNotSupp;
        if (!_image.Contains(r.Sector, r.DiscardSectors))
            return Refuse(r, $"discard of sectors {r.Sector}+{r.DiscardSectors} past the end of the disk ({_image.Sectors} sectors)");
        _image.Discard((long)r.Sector * BlkifOp.SectorSize, (long)r.DiscardSectors * BlkifOp.SectorSize);
        return BlkifStatus.Okay;
    }

    private short Refuse(BlkifRequest r, string why)
    {
        Log?.Invoke($"request {r.Id} (op {r.Operation}) refused: {why}");
        return BlkifStatus.Error;
    }

    private void UnmapAll()
    {
        for (int i = 0; i < _maps.Length && _maps[i] is not null; i++)
        {
            _maps[i]!.Dispose();
            _maps[i] = null;
        }
    }
}
