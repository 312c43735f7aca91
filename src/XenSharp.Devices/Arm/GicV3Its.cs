using XenSharp.Abi.Arm;
using System.Buffers.Binary;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Devices.Arm;

/// <summary>Why an ITS command or translation was dropped (codes follow the spirit of GICv3's ITS command errors).</summary>
public enum ItsError
{
    None = 0,
    DeviceIdOutOfRange,       // ≥ 2^Devbits or beyond the device table the guest sized
    DeviceNotMapped,
    EventIdOutOfRange,        // beyond the device's ITT size (or ITS IDbits)
    EventNotMapped,
    CollectionIdOutOfRange,   // beyond the collection table
    CollectionNotMapped,
    LpiOutOfRange,            // pINTID not in 8192..2^IDbits-1
    TargetOutOfRange,         // RDbase names no redistributor
    IttSizeOutOfRange,
    TableNotValid,            // GITS_BASERn.Valid clear
    TableUnreadable,          // table entry outside guest memory
    CommandUnreadable,        // command outside guest memory
    UnknownCommand,
    CommandQueueInvalid,      // CWRITER beyond the queue
    ItsDisabled,
}

/// <summary>One dropped command or translation, as kept in <see cref="GicV3Its.Errors"/>.</summary>
public readonly record struct ItsErrorRecord(ItsError Error, byte Command, uint DeviceId, uint EventId, ulong QueueOffset);

/// <summary>
/// A GICv3 Interrupt Translation Service with physical LPIs only (ARM IHI 0069, chapter 5/6):
/// MSI writes to GITS_TRANSLATER (a DeviceID from the bus, an EventID as the value) become LPIs at
/// the redistributor of the event's collection. The guest drives it through a command queue in its
/// memory (GITS_CBASER/CWRITER/CREADR): commands are processed synchronously when CWRITER is written
/// (or the ITS is enabled with commands waiting), so GITS_CTLR.Quiescent always reads one and SYNC
/// has nothing to wait for.
///
/// Tables live in guest memory at GITS_BASER0 (devices) and GITS_BASER1 (collections), flat
/// (Indirect reads as zero), with this model's own 8-byte entries (GITS_TYPER / BASERn.Entry_Size
/// say so) — the format is implementation defined:
///   device table entry:     bit 63 Valid, bits [51:8] ITT address &gt;&gt; 8 &lt;&lt; 8, bits [4:0] EventID bits - 1
///   collection table entry: bit 63 Valid, bits [15:0] target processor number (GITS_TYPER.PTA = 0)
///   ITT entry (8 bytes):    bit 63 Valid, bits [47:32] ICID, bits [31:0] pINTID
/// Every access goes through <see cref="GuestMemory"/>'s bounds-checked API.
///
/// Errors: a command or translation that names an out-of-range or unmapped ID (or whose table
/// entry lies outside guest memory) is dropped — one of the behaviours the architecture allows
/// for command errors — and recorded in <see cref="Errors"/> (a bounded log) and
/// <see cref="ErrorCount"/>; the queue is never stalled and nothing throws.
/// </summary>
public sealed class GicV3Its : IArmMmioDevice
{
    public const int DeviceIdBits = 16;
    public const int EventIdBits = 16;
    public const int EntrySize = 8;
    public const ulong FrameSize = 0x20000;                // control frame + translation frame
    public const ulong TranslaterOffset = 0x10040;
    private const int ErrorLogCapacity = 64;

    private readonly object _lock = new();
    private readonly GicV3 _gic;
    private readonly GuestMemory _memory;
    private readonly Queue<ItsErrorRecord> _errors = new();
    private bool _enabled;
    private ulong _cbaser, _cwriter, _creadr;
    private readonly ulong[] _baser = new ulong[2];
    private long _errorCount;

    public ulong BaseAddress { get; }
    public ulong Size => FrameSize;

    /// <summary>The DeviceID used for GITS_TRANSLATER writes that come through <see cref="Write"/> (a CPU store, not a device).</summary>
    public uint CpuDeviceId { get; set; }

    public long ErrorCount => Interlocked.Read(ref _errorCount);

    /// <summary>The most recent dropped commands/translations (at most 64).</summary>
    public IReadOnlyList<ItsErrorRecord> Errors { get { lock (_lock) return [.. _errors]; } }

    public GicV3Its(GicV3 gic, GuestMemory memory, ulong baseAddress = ArmGuestLayout.GicV3ItsBase)
    {
        _gic = gic;
        _memory = memory;
        BaseAddress = baseAddress;
    }

    private static ulong TypeBits(int n) => n == 0 ? 1UL << 56 : 4UL << 56;     // devices, collections
    private const ulong EntrySizeBits = (ulong)(EntrySize - 1) << 48;

    private ulong Typer =>
        1UL                                            // Physical
        | (ulong)(EntrySize - 1) << 4                  // ITT_entry_size
        | (ulong)(EventIdBits - 1) << 8                // ID_bits
        | (ulong)(DeviceIdBits - 1) << 13;             // Devbits; PTA = 0, HCC = 0, CIL = 0 (16-bit ICIDs)

    // ---------------------------------------------------------------- MMIO

    public ulong Read(ulong offset, int size)
    {
        if (offset >= FrameSize) return 0;
        if (offset >= 0xFFD0 && offset < 0x10000) return size == 4 && (offset & 3) == 0 ? ItsIdRegister(offset) : 0;
        ulong reg;
        lock (_lock)
        {
            switch (offset & ~7UL)
            {
                case 0x00:
                    reg = (_enabled ? 1UL : 0) | 1UL << 31 | (ulong)GicV3.Iidr << 32;   // CTLR (Quiescent), IIDR
                    break;
                case 0x08: reg = Typer; break;
                case 0x80: reg = _cbaser; break;
                case 0x88: reg = _cwriter; break;
                case 0x90: reg = _creadr; break;
                case 0x100: reg = _baser[0] | TypeBits(0) | EntrySizeBits; break;
                case 0x108: reg = _baser[1] | TypeBits(1) | EntrySizeBits; break;
                default: return 0;                     // BASER2-7 and the rest: RAZ
            }
        }
        return (size, offset & 7) switch { (8, 0) => reg, (4, 0) => reg & 0xFFFF_FFFF, (4, 4) => reg >> 32, _ => 0 };
    }

    private static uint ItsIdRegister(ulong off) => off switch
    {
        0xFFE8 => 0x3B, 0xFFF0 => 0x0D, 0xFFF4 => 0xF0, 0xFFF8 => 0x05, 0xFFFC => 0xB1, _ => 0,
    };

    public void Write(ulong offset, int size, ulong value)
    {
        if (offset == TranslaterOffset && size is 2 or 4) { Translate(CpuDeviceId, (uint)value); return; }
        if (offset >= 0x10000) return;
        bool process = false;
        lock (_lock)
        {
            ulong aligned = offset & ~7UL;
            if (aligned == 0x00)
            {
                if (offset == 0 && size is 4 or 8)
                {
                    bool enable = (value & 1) != 0;
                    process = enable && !_enabled;
                    _enabled = enable;
                }
            }
            else if (aligned is 0x80 or 0x88 or 0x100 or 0x108)
            {
                ref ulong reg = ref RegisterRef(aligned);
                ulong merged = (size, offset & 7) switch
                {
                    (8, 0) => value,
                    (4, 0) => (reg & 0xFFFF_FFFF_0000_0000UL) | (value & 0xFFFF_FFFF),
                    (4, 4) => (reg & 0xFFFF_FFFF) | (value << 32),
                    _ => reg,
                };
                switch (aligned)
                {
                    case 0x80:
                        if (_enabled) break;                                   // UNPREDICTABLE while enabled: ignored
                        reg = merged & (1UL << 63 | 0x7UL << 59 | 0x7UL << 53 | 0x000F_FFFF_FFFF_F000UL | 0x3UL << 10 | 0xFF);
                        _creadr = 0;                                           // writing CBASER resets CREADR
                        break;
                    case 0x88:
                        reg = merged & 0xF_FFE0;                               // Offset [19:5]; Retry ignored
                        process = true;
                        break;
                    default:
                        if (_enabled) break;
                        // Valid, caches, PA [47:12], Shareability, Page_Size, Size; Type, Entry_Size and Indirect are read-only.
                        reg = merged & (1UL << 63 | 0x7UL << 59 | 0x7UL << 53 | 0x0000_FFFF_FFFF_F000UL | 0x3UL << 10 | 0x3UL << 8 | 0xFF);
                        break;
                }
            }
            if (process) ProcessQueueLocked();
        }
    }

    private ref ulong RegisterRef(ulong aligned)
    {
        if (aligned == 0x80) return ref _cbaser;
        if (aligned == 0x88) return ref _cwriter;
        return ref _baser[aligned == 0x100 ? 0 : 1];
    }

    // ---------------------------------------------------------------- translation

    /// <summary>
    /// An MSI: a device with <paramref name="deviceId"/> wrote <paramref name="eventId"/> to
    /// GITS_TRANSLATER. True when it became a pending LPI; otherwise it is dropped and recorded.
    /// </summary>
    public bool Translate(uint deviceId, uint eventId)
    {
        lock (_lock)
        {
            if (!_enabled) { RecordLocked(ItsError.ItsDisabled, 0, deviceId, eventId, 0); return false; }
            if (!TryLookupEvent(0, deviceId, eventId, 0, out _, out var ite) ||
                !TryLookupCollection(0, ite.Icid, deviceId, eventId, 0, out int target))
                return false;
            return _gic.SetLpiPending(target, ite.Lpi);
        }
    }

    private void RecordLocked(ItsError error, byte command, uint deviceId, uint eventId, ulong queueOffset)
    {
        Interlocked.Increment(ref _errorCount);
        if (_errors.Count == ErrorLogCapacity) _errors.Dequeue();
        _errors.Enqueue(new ItsErrorRecord(error, command, deviceId, eventId, queueOffset));
    }

    // ---------------------------------------------------------------- tables

    private static ulong PageBytes(ulong baser) => ((baser >> 8) & 3) switch { 0 => 4096, 1 => 16384, _ => 65536 };

    private static ulong TableBytes(ulong baser) => PageBytes(baser) * ((baser & 0xFF) + 1);

    private static ulong TableAddress(ulong baser) => baser & 0x0000_FFFF_FFFF_F000UL & ~(PageBytes(baser) - 1);

    /// <summary>Guest-physical address of a table entry, or an error when the index is outside the table.</summary>
    private bool TryEntryAddress(int table, ulong index, byte cmd, uint dev, uint ev, ulong at, out ulong gpa)
    {
        gpa = 0;
        ulong baser = _baser[table];
        var outOfRange = table == 0 ? ItsError.DeviceIdOutOfRange : ItsError.CollectionIdOutOfRange;
        if ((table == 0 && index >= 1UL << DeviceIdBits) || (table == 1 && index > 0xFFFF))
        { RecordLocked(outOfRange, cmd, dev, ev, at); return false; }
        if ((baser >> 63) == 0) { RecordLocked(ItsError.TableNotValid, cmd, dev, ev, at); return false; }
        if (index >= TableBytes(baser) / EntrySize) { RecordLocked(outOfRange, cmd, dev, ev, at); return false; }
        gpa = TableAddress(baser) + index * EntrySize;
        return true;
    }

    private bool TryReadEntry(ulong gpa, byte cmd, uint dev, uint ev, ulong at, out ulong entry)
    {
        if (_memory.TryRead(gpa, out entry)) return true;
        RecordLocked(ItsError.TableUnreadable, cmd, dev, ev, at);
        return false;
    }

    private bool TryWriteEntry(ulong gpa, ulong entry, byte cmd, uint dev, uint ev, ulong at)
    {
        if (_memory.TryWrite(gpa, entry)) return true;
        RecordLocked(ItsError.TableUnreadable, cmd, dev, ev, at);
        return false;
    }

    private readonly record struct Ite(ulong Address, uint Lpi, ushort Icid);

    /// <summary>The ITT entry address of (device, event) after checking the device is mapped and the event in range.</summary>
    private bool TryIttEntryAddress(byte cmd, uint dev, uint ev, ulong at, out ulong gpa)
    {
        gpa = 0;
        if (!TryEntryAddress(0, dev, cmd, dev, ev, at, out ulong dteAddr) || !TryReadEntry(dteAddr, cmd, dev, ev, at, out ulong dte)) return false;
        if ((dte >> 63) == 0) { RecordLocked(ItsError.DeviceNotMapped, cmd, dev, ev, at); return false; }
        int bits = (int)(dte & 0x1F) + 1;
        if (ev >= 1UL << bits) { RecordLocked(ItsError.EventIdOutOfRange, cmd, dev, ev, at); return false; }
        gpa = (dte & 0x000F_FFFF_FFFF_FF00UL) + (ulong)ev * EntrySize;
        return true;
    }

    private bool TryLookupEvent(byte cmd, uint dev, uint ev, ulong at, out ulong iteAddr, out Ite ite)
    {
        ite = default;
        if (!TryIttEntryAddress(cmd, dev, ev, at, out iteAddr) || !TryReadEntry(iteAddr, cmd, dev, ev, at, out ulong raw)) return false;
        if ((raw >> 63) == 0) { RecordLocked(ItsError.EventNotMapped, cmd, dev, ev, at); return false; }
        ite = new Ite(iteAddr, (uint)raw, (ushort)(raw >> 32));
        return true;
    }

    private bool TryLookupCollection(byte cmd, uint icid, uint dev, uint ev, ulong at, out int target)
    {
        target = -1;
        if (!TryEntryAddress(1, icid, cmd, dev, ev, at, out ulong gpa) || !TryReadEntry(gpa, cmd, dev, ev, at, out ulong cte)) return false;
        if ((cte >> 63) == 0) { RecordLocked(ItsError.CollectionNotMapped, cmd, dev, ev, at); return false; }
        target = (int)(cte & 0xFFFF);
        if (target >= _gic.VcpuCount) { RecordLocked(ItsError.TargetOutOfRange, cmd, dev, ev, at); return false; }
        return true;
    }

    // ---------------------------------------------------------------- command queue

    private void ProcessQueueLocked()
    {
        if (!_enabled || (_cbaser >> 63) == 0) return;
        ulong queueBytes = ((_cbaser & 0xFF) + 1) * 4096;
        ulong queueBase = _cbaser & 0x000F_FFFF_FFFF_F000UL;
        if (_cwriter >= queueBytes)
        {
            RecordLocked(ItsError.CommandQueueInvalid, 0, 0, 0, _cwriter);
            return;
        }
        Span<byte> cmd = stackalloc byte[32];
        // At most one pass around the queue per CWRITER write.
        for (ulong n = 0; _creadr != _cwriter && n < queueBytes / 32; n++)
        {
            ulong at = _creadr;
            if (_memory.TryReadBytes(queueBase + at, cmd)) Execute(cmd, at);
            else RecordLocked(ItsError.CommandUnreadable, 0, 0, 0, at);
            _creadr = (at + 32) % queueBytes;
        }
    }

    private void Execute(ReadOnlySpan<byte> c, ulong at)
    {
        ulong dw0 = BinaryPrimitives.ReadUInt64LittleEndian(c);
        ulong dw1 = BinaryPrimitives.ReadUInt64LittleEndian(c[8..]);
        ulong dw2 = BinaryPrimitives.ReadUInt64LittleEndian(c[16..]);
        ulong dw3 = BinaryPrimitives.ReadUInt64LittleEndian(c[24..]);
        byte op = (byte)dw0;
        uint dev = (uint)(dw0 >> 32);
        uint ev = (uint)dw1;
        ushort icid = (ushort)dw2;
        switch (op)
        {
            case 0x08: MapDevice(op, dev, dw1, dw2, at); break;
            case 0x09: MapCollection(op, icid, dw2, at); break;
            case 0x0A: MapEvent(op, dev, ev, (uint)(dw1 >> 32), icid, at); break;   // MAPTI
            case 0x0B: MapEvent(op, dev, ev, ev, icid, at); break;                  // MAPI
            case 0x03:                                                               // INT
                if (TryLookupEvent(op, dev, ev, at, out _, out var ite) && TryLookupCollection(op, ite.Icid, dev, ev, at, out int t))
                    _gic.SetLpiPending(t, ite.Lpi);
                break;
            case 0x04:                                                               // CLEAR
                if (TryLookupEvent(op, dev, ev, at, out _, out ite) && TryLookupCollection(op, ite.Icid, dev, ev, at, out t))
                    _gic.ClearLpiPending(t, ite.Lpi);
                break;
            case 0x0F:                                                               // DISCARD
                if (TryLookupEvent(op, dev, ev, at, out ulong addr, out ite))
                {
                    if (TryLookupCollection(op, ite.Icid, dev, ev, at, out t)) _gic.ClearLpiPending(t, ite.Lpi);
                    TryWriteEntry(addr, 0, op, dev, ev, at);
                }
                break;
            case 0x0C:                                                               // INV
                if (TryLookupEvent(op, dev, ev, at, out _, out ite) && TryLookupCollection(op, ite.Icid, dev, ev, at, out t))
                    _gic.InvalidateLpi(t, ite.Lpi);
                break;
            case 0x0D:                                                               // INVALL
                if (TryLookupCollection(op, icid, 0, 0, at, out t)) _gic.InvalidateAllLpis(t);
                break;
            case 0x01:                                                               // MOVI
                if (TryLookupEvent(op, dev, ev, at, out addr, out ite)
                    && TryLookupCollection(op, ite.Icid, dev, ev, at, out int from)
                    && TryLookupCollection(op, icid, dev, ev, at, out int to)
                    && TryWriteEntry(addr, 1UL << 63 | (ulong)icid << 32 | ite.Lpi, op, dev, ev, at))
                    _gic.MoveLpi(from, to, ite.Lpi);
                break;
            case 0x0E:                                                               // MOVALL
            {
                ulong rd1 = (dw2 >> 16) & 0xFFFF, rd2 = (dw3 >> 16) & 0xFFFF;
                if (rd1 >= (ulong)_gic.VcpuCount || rd2 >= (ulong)_gic.VcpuCount) RecordLocked(ItsError.TargetOutOfRange, op, 0, 0, at);
                else _gic.MoveAllLpis((int)rd1, (int)rd2);
                break;
            }
            case 0x05:                                                               // SYNC: all effects are already visible
                if (((dw2 >> 16) & 0xFFFF) >= (ulong)_gic.VcpuCount) RecordLocked(ItsError.TargetOutOfRange, op, 0, 0, at);
                break;
            default:
                RecordLocked(ItsError.UnknownCommand, op, dev, ev, at);
                break;
        }
    }

    private void MapDevice(byte op, uint dev, ulong dw1, ulong dw2, ulong at)
    {
        if (!TryEntryAddress(0, dev, op, dev, 0, at, out ulong gpa)) return;
        bool valid = (dw2 >> 63) != 0;
        int size = (int)(dw1 & 0x1F);
        if (valid && size + 1 > EventIdBits) { RecordLocked(ItsError.IttSizeOutOfRange, op, dev, 0, at); return; }
        ulong entry = valid ? 1UL << 63 | (dw2 & 0x000F_FFFF_FFFF_FF00UL) | (uint)size : 0;
        TryWriteEntry(gpa, entry, op, dev, 0, at);
    }

    private void MapCollection(byte op, ushort icid, ulong dw2, ulong at)
    {
        if (!TryEntryAddress(1, icid, op, 0, 0, at, out ulong gpa)) return;
        bool valid = (dw2 >> 63) != 0;
        ulong target = (dw2 >> 16) & 0xFFFF_FFFF;                  // RDbase: a processor number (PTA = 0)
        if (valid && target >= (ulong)_gic.VcpuCount) { RecordLocked(ItsError.TargetOutOfRange, op, 0, 0, at); return; }
        TryWriteEntry(gpa, valid ? 1UL << 63 | target : 0, op, 0, 0, at);
    }

    private void MapEvent(byte op, uint dev, uint ev, uint lpi, ushort icid, ulong at)
    {
        if (!TryIttEntryAddress(op, dev, ev, at, out ulong gpa)) return;
        if (lpi < GicV3.FirstLpi || lpi >= 1UL << _gic.IdBits) { RecordLocked(ItsError.LpiOutOfRange, op, dev, ev, at); return; }
        if (!TryEntryAddress(1, icid, op, dev, ev, at, out _)) return;   // ICID beyond the collection table
        TryWriteEntry(gpa, 1UL << 63 | (ulong)icid << 32 | lpi, op, dev, ev, at);
    }
}
