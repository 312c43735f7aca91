using System.Buffers.Binary;
using XenSharp.Abi.Block;

namespace XenSharp.Devices.Block;

/// <summary>
/// One request taken off the ring, decoded from the backend's private copy of the entry (so the
/// frontend cannot change it while it is processed). One instance is reused for every request
/// of a ring. Which fields mean something depends on <see cref="Operation"/>: read/write/barrier
/// carry up to 11 inline <see cref="Segments"/>; discard carries <see cref="DiscardSectors"/>;
/// indirect carries <see cref="IndirectOperation"/>, a 16-bit segment count and the grant refs
/// of the pages holding the segments (the backend fills <see cref="Segments"/> from them).
/// </summary>
public sealed class BlkifRequest
{
    public BlkifRequest(int maxSegments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSegments, BlkifOp.MaxSegmentsPerRequest);
        Segments = new BlkifSegment[maxSegments];
    }

    public byte Operation { get; private set; }
    /// <summary>INDIRECT: the operation (read or write) the indirect segments are for.</summary>
    public byte IndirectOperation { get; private set; }
    /// <summary>The segment count the frontend asked for (not yet checked against any limit).</summary>
    public int NrSegments { get; private set; }
    public ushort Handle { get; private set; }
    public ulong Id { get; private set; }
    public ulong Sector { get; private set; }
    public ulong DiscardSectors { get; private set; }
    public byte DiscardFlag { get; private set; }
    /// <summary>Segments: inline ones after <see cref="Decode"/>, indirect ones once the backend read them.</summary>
    public BlkifSegment[] Segments { get; }
    public uint[] IndirectGrefs { get; } = new uint[BlkifOp.MaxIndirectPagesPerRequest];

    /// <summary>The operation the response echoes (indirect requests answer with their indirect_op, as Linux's blkback).</summary>
    public byte ResponseOperation => Operation == BlkifOp.Indirect ? IndirectOperation : Operation;

    /// <summary>Decodes a ring entry (<paramref name="entry"/> is at least the ABI's request size).</summary>
    public void Decode(ReadOnlySpan<byte> entry, BlkifAbi abi)
    {
        Operation = entry[BlkifAbi.OperationOffset];
        Id = BinaryPrimitives.ReadUInt64LittleEndian(entry[abi.IdOffset..]);
        Sector = BinaryPrimitives.ReadUInt64LittleEndian(entry[abi.SectorOffset..]);
        IndirectOperation = 0;
        DiscardSectors = 0;
        DiscardFlag = 0;
        switch (Operation)
        {
            case BlkifOp.Discard:
                DiscardFlag = entry[BlkifAbi.DiscardFlagOffset];
                Handle = BinaryPrimitives.ReadUInt16LittleEndian(entry[BlkifAbi.HandleOffset..]);
                DiscardSectors = BinaryPrimitives.ReadUInt64LittleEndian(entry[abi.DiscardSectorsOffset..]);
                NrSegments = 0;
                break;
            case BlkifOp.Indirect:
                IndirectOperation = entry[BlkifAbi.IndirectOpOffset];
                NrSegments = BinaryPrimitives.ReadUInt16LittleEndian(entry[BlkifAbi.IndirectNrSegmentsOffset..]);
                Handle = BinaryPrimitives.ReadUInt16LittleEndian(entry[abi.IndirectHandleOffset..]);
                for (int i = 0; i < IndirectGrefs.Length; i++)
                    IndirectGrefs[i] = BinaryPrimitives.ReadUInt32LittleEndian(entry[(abi.IndirectGrefsOffset + 4 * i)..]);
                break;
            default:
                NrSegments = entry[BlkifAbi.NrSegmentsOffset];
                Handle = BinaryPrimitives.ReadUInt16LittleEndian(entry[BlkifAbi.HandleOffset..]);
                int inline = Math.Min(NrSegments, BlkifOp.MaxSegmentsPerRequest);
                for (int i = 0; i < inline; i++)
                    Segments[i] = DecodeSegment(entry[(abi.SegmentsOffset + BlkifOp.SegmentSize * i)..]);
                break;
        }
    }

    /// <summary>Decodes one struct blkif_request_segment (8 bytes, the same in both ABIs).</summary>
    public static BlkifSegment DecodeSegment(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt32LittleEndian(bytes), bytes[4], bytes[5]);
}
