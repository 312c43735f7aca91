using System.Buffers.Binary;
using XenSharp.Abi.Block;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Grants;

namespace XenSharp.Devices.Block;

/// <summary>
/// The back end of a blkif shared ring (io/ring.h's BACK_RING) over the frontend's granted ring
/// pages — one page, or 2^ring-page-order pages forming one contiguous ring that entries may
/// straddle. The backend's private indices (req_cons, rsp_prod_pvt) live here; the shared ones
/// are read and written through the grant mappings. Requests are copied out whole before they
/// are decoded (RING_COPY_REQUEST), so a frontend rewriting an entry cannot change a request
/// being processed. A frontend whose req_prod runs more than a ring ahead of the responses is
/// broken (RING_REQUEST_PROD_OVERFLOW): the ring stops taking requests, as Linux's blkback does.
/// Not thread-safe: one backend thread owns a ring.
/// </summary>
public sealed class BlkifRing : IDisposable
{
    private const int PageSize = SharedRingLayout.PageSize;

    private readonly GrantMapping[] _pages;
    private readonly byte[] _response;
    private uint _reqCons;
    private uint _rspProdPvt;

    private BlkifRing(GrantMapping[] pages, BlkifAbi abi)
    {
        _pages = pages;
        Abi = abi;
        Size = SharedRingLayout.EntryCount(pages.Length, abi.EntrySize);
        _response = new byte[abi.ResponseSize];
    }

    /// <summary>
    /// Maps the ring pages <paramref name="refs"/> of <paramref name="grants"/> (writable: the
    /// backend writes responses and req_event) for backend domain <paramref name="backendDomId"/>.
    /// Returns GNTST_okay, or the first failure's GNTST_* status with nothing left mapped.
    /// </summary>
    public static short TryMap(GrantTable grants, int backendDomId, ReadOnlySpan<uint> refs, BlkifAbi abi, out BlkifRing? ring)
    {
        ArgumentNullException.ThrowIfNull(grants);
        ArgumentNullException.ThrowIfNull(abi);
        ring = null;
        if (refs.IsEmpty || (refs.Length & (refs.Length - 1)) != 0) return GrantStatus.GeneralError;
        var pages = new GrantMapping[refs.Length];
        for (int i = 0; i < refs.Length; i++)
        {
            short rc = grants.TryMap(backendDomId, refs[i], writable: true, out var m);
            if (rc != GrantStatus.Okay)
            {
                for (int j = 0; j < i; j++) pages[j].Dispose();
                return rc;
            }
            pages[i] = m!;
        }
        ring = new BlkifRing(pages, abi);
        return GrantStatus.Okay;
    }

    public BlkifAbi Abi { get; }
    /// <summary>Entries in the ring (a power of two).</summary>
    public int Size { get; }
    public int PageCount => _pages.Length;
    /// <summary>The frontend overran the ring, or its pages went away: no more requests are taken.</summary>
    public bool IsBroken { get; private set; }
    /// <summary>The backend's req_cons.</summary>
    public uint RequestConsumer => _reqCons;
    /// <summary>The backend's rsp_prod_pvt.</summary>
    public uint ResponseProducer => _rspProdPvt;

    /// <summary>
    /// Copies the next unconsumed request into <paramref name="entry"/> (at least
    /// <see cref="BlkifAbi.EntrySize"/> bytes) and consumes it; false when there is none (or the
    /// ring is broken).
    /// </summary>
    public bool TryTakeRequest(Span<byte> entry)
    {
        if (IsBroken) return false;
        if (!TryReadIndex(SharedRingLayout.ReqProdOffset, out uint reqProd)) return false;
        Interlocked.MemoryBarrier(); // read the entries only after req_prod (rmb)
        if (reqProd - _rspProdPvt > (uint)Size)
        {
            IsBroken = true; // RING_REQUEST_PROD_OVERFLOW
            return false;
        }
        if (_reqCons == reqProd) return false;
        if (_reqCons - _rspProdPvt >= (uint)Size) return false; // RING_REQUEST_CONS_OVERFLOW
        if (!Copy(EntryOffset(_reqCons), entry[..Abi.EntrySize], toRing: false))
        {
            IsBroken = true;
            return false;
        }
        _reqCons++;
        return true;
    }

    /// <summary>Queues a response (RING_GET_RESPONSE at rsp_prod_pvt); it is visible after <see cref="PushResponses"/>.</summary>
    public void PutResponse(ulong id, byte operation, short status)
    {
        var r = _response.AsSpan();
        r.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(r[BlkifAbi.ResponseIdOffset..], id);
        r[BlkifAbi.ResponseOperationOffset] = operation;
        BinaryPrimitives.WriteInt16LittleEndian(r[BlkifAbi.ResponseStatusOffset..], status);
        if (!Copy(EntryOffset(_rspProdPvt), r, toRing: true)) IsBroken = true;
        _rspProdPvt++;
    }

    /// <summary>
    /// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes rsp_prod and answers whether the frontend
    /// asked to be notified (its rsp_event lies among the responses just pushed).
    /// </summary>
    public bool PushResponses()
    {
        if (!TryReadIndex(SharedRingLayout.RspProdOffset, out uint old)) return false;
        uint next = _rspProdPvt;
        if (old == next) return false;
        Interlocked.MemoryBarrier(); // responses before rsp_prod (wmb)
        if (!_pages[0].TryWrite(SharedRingLayout.RspProdOffset, next)) return false;
        Interlocked.MemoryBarrier(); // rsp_prod before reading rsp_event (mb)
        if (!TryReadIndex(SharedRingLayout.RspEventOffset, out uint rspEvent)) return false;
        return next - rspEvent < next - old;
    }

    /// <summary>
    /// RING_FINAL_CHECK_FOR_REQUESTS: true when requests are waiting; otherwise sets req_event to
    /// req_cons + 1 (so the frontend notifies for the next one) and checks again, so a request
    /// queued meanwhile is not missed.
    /// </summary>
    public bool FinalCheckForRequests()
    {
        if (IsBroken) return false;
        if (HasUnconsumedRequests()) return true;
        if (!_pages[0].TryWrite(SharedRingLayout.ReqEventOffset, _reqCons + 1)) return false;
        Interlocked.MemoryBarrier();
        return HasUnconsumedRequests();
    }

    private bool HasUnconsumedRequests()
    {
        if (!TryReadIndex(SharedRingLayout.ReqProdOffset, out uint reqProd)) return false;
        uint req = reqProd - _reqCons;
        uint rsp = (uint)Size - (_reqCons - _rspProdPvt);
        return Math.Min(req, rsp) != 0;
    }

    private bool TryReadIndex(int offset, out uint value)
    {
        if (_pages[0].TryRead(offset, out value)) return true;
        IsBroken = true;
        return false;
    }

    private int EntryOffset(uint index) => SharedRingLayout.EntriesOffset + (int)(index & (uint)(Size - 1)) * Abi.EntrySize;

    /// <summary>Copies between the ring's byte range at <paramref name="offset"/> and <paramref name="bytes"/>, across pages.</summary>
    private bool Copy(int offset, Span<byte> bytes, bool toRing)
    {
        int done = 0;
        while (done < bytes.Length)
        {
            int at = offset + done;
            int page = at / PageSize, within = at % PageSize;
            if (page >= _pages.Length) return false;
            int n = Math.Min(bytes.Length - done, PageSize - within);
            bool ok = toRing ? _pages[page].TryWrite(within, bytes.Slice(done, n)) : _pages[page].TryRead(within, bytes.Slice(done, n));
            if (!ok) return false;
            done += n;
        }
        return true;
    }

    /// <summary>Unmaps the ring pages.</summary>
    public void Dispose()
    {
        foreach (var p in _pages) p.Dispose();
    }
}
