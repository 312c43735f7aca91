using XenSharp.Devices.Arm;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Devices.Arm;

/// <summary>The ITS command queue, tables in real guest memory, and LPI delivery to redistributors.</summary>
public sealed class GicV3ItsTests : IDisposable
{
    private const ulong Ram = 0x4000_0000, RamSize = 4 << 20;
    private const ulong PropTable = Ram + 0x10_0000;
    private const ulong PendTables = Ram + 0x20_0000;      // 64 KiB apart per vCPU
    private const ulong DeviceTable = Ram + 0x30_0000, CollectionTable = Ram + 0x30_1000, Itt = Ram + 0x30_2000;
    private const ulong Queue = Ram + 0x31_0000;           // one 4 KiB page: 128 commands

    private readonly GuestMemory _mem = GuestMemory.Allocate([(Ram, RamSize)], "its-test");
    private readonly GicV3 _gic;
    private readonly GicV3Its _its;
    private ulong _cursor;

    public GicV3ItsTests()
    {
        _gic = GicV3Tests.BootedGic(vcpus: 2, memory: _mem);
        for (int v = 0; v < 2; v++)
        {
            _gic.Redistributors.Write(GicV3Tests.Rd(v, 0x70), 8, PropTable | 15);            // 16 ID bits
            _gic.Redistributors.Write(GicV3Tests.Rd(v, 0x78), 8, PendTables + (ulong)v * 0x10000);
            _gic.Redistributors.Write(GicV3Tests.Rd(v, 0x00), 4, 1);                         // EnableLPIs
        }
        for (uint i = 0; i < 64; i++) SetProperty(GicV3.FirstLpi + i, 0xA0, enabled: true);
        _its = new GicV3Its(_gic, _mem);
        _its.Write(0x100, 8, 1UL << 63 | DeviceTable);          // one page: 512 devices
        _its.Write(0x108, 8, 1UL << 63 | CollectionTable);      // one page: 512 collections
        _its.Write(0x80, 8, 1UL << 63 | Queue);                 // one page of commands
        _its.Write(0x0, 4, 1);                                  // enable
    }

    public void Dispose() => _mem.Dispose();

    private void SetProperty(uint lpi, byte priority, bool enabled) =>
        Assert.True(_mem.TryWrite(PropTable + (lpi - GicV3.FirstLpi), (byte)(priority | 2 | (enabled ? 1 : 0))));

    private ulong Rpr(int vcpu)
    {
        Assert.True(_gic.CpuInterface(vcpu).TryReadSysReg(ArmSysReg.ICC_RPR_EL1, out ulong v));
        return v;
    }

    private void Command(ulong dw0, ulong dw1 = 0, ulong dw2 = 0, ulong dw3 = 0)
    {
        ulong at = Queue + _cursor;
        Assert.True(_mem.TryWrite(at, dw0));
        Assert.True(_mem.TryWrite(at + 8, dw1));
        Assert.True(_mem.TryWrite(at + 16, dw2));
        Assert.True(_mem.TryWrite(at + 24, dw3));
        _cursor = (_cursor + 32) % 4096;
    }

    private void Go()
    {
        _its.Write(0x88, 8, _cursor);
        Assert.Equal(_cursor, _its.Read(0x90, 8));              // everything consumed
    }

    private void Mapd(uint dev, int eventBits, ulong itt, bool valid = true) =>
        Command(0x08 | (ulong)dev << 32, (ulong)(eventBits - 1), (valid ? 1UL << 63 : 0) | itt);
    private void Mapc(ushort icid, int vcpu, bool valid = true) =>
        Command(0x09, 0, (valid ? 1UL << 63 : 0) | (ulong)vcpu << 16 | icid);
    private void Mapti(uint dev, uint ev, uint lpi, ushort icid) => Command(0x0A | (ulong)dev << 32, ev | (ulong)lpi << 32, icid);
    private void Int(uint dev, uint ev) => Command(0x03 | (ulong)dev << 32, ev);

    private void MapOne(uint dev = 7, uint ev = 3, uint lpi = 8197, int vcpu = 1)
    {
        Mapd(dev, 5, Itt);
        Mapc(2, vcpu);
        Mapti(dev, ev, lpi, 2);
        Command(0x05, 0, (ulong)vcpu << 16);                    // SYNC
        Go();
    }

    [Fact]
    public void Registers_describe_a_physical_its()
    {
        ulong typer = _its.Read(0x8, 8);
        Assert.Equal(1UL, typer & 1);                           // Physical
        Assert.Equal(7UL, (typer >> 4) & 0xF);                  // 8-byte ITT entries
        Assert.Equal(15UL, (typer >> 8) & 0x1F);                // 16 EventID bits
        Assert.Equal(15UL, (typer >> 13) & 0x1F);               // 16 DeviceID bits
        Assert.Equal(0UL, typer & (1UL << 19));                 // PTA = 0
        Assert.Equal(1UL, (_its.Read(0x100, 8) >> 56) & 7);     // BASER0: devices
        Assert.Equal(4UL, (_its.Read(0x108, 8) >> 56) & 7);     // BASER1: collections
        Assert.Equal(7UL, (_its.Read(0x108, 8) >> 48) & 0x1F);  // 8-byte entries
        Assert.Equal(0UL, _its.Read(0x110, 8));                 // BASER2: not implemented
        Assert.Equal(1UL | 1UL << 31, _its.Read(0x0, 4));       // enabled, quiescent
        Assert.Equal(3UL, (_its.Read(0xFFE8, 4) >> 4) & 0xF);
        Assert.NotEqual(0UL, _gic.Distributor.Read(0x4, 4) & (1UL << 17));   // GICD_TYPER.LPIS
        Assert.Equal(1UL, _gic.Redistributors.Read(GicV3Tests.Rd(0, 0x8), 8) & 1);   // PLPIS
    }

    [Fact]
    public void Int_makes_the_lpi_pending_at_the_collections_redistributor_with_its_property_priority()
    {
        SetProperty(8197, 0x60, enabled: true);
        MapOne();
        Int(7, 3);
        Go();
        Assert.True(_gic.IsLpiPendingFor(1, 8197));
        Assert.False(_gic.IsLpiPendingFor(0, 8197));
        Assert.Equal((8197u, (byte)0x60), _gic.HighestPending(1));
        Assert.True(_mem.TryRead(PendTables + 0x10000 + 8197 / 8, out byte pend));
        Assert.Equal(1 << (8197 % 8), pend);                    // written through to the pending table
        Assert.Equal(8197u, GicV3Tests.Iar(_gic, 1));
        Assert.Equal(0x60UL, Rpr(1));
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
        GicV3Tests.Eoi(_gic, 1, 8197);
        Assert.Equal(0xFFUL, Rpr(1));
        Assert.Equal(0, _its.ErrorCount);
    }

    [Fact]
    public void A_disabled_lpi_stays_pending_but_is_not_signalled()
    {
        SetProperty(8197, 0x60, enabled: false);
        MapOne();
        Int(7, 3);
        Go();
        Assert.True(_gic.IsLpiPendingFor(1, 8197));
        Assert.False(_gic.IsIrqAsserted(1));
    }

    [Fact]
    public void Translater_write_delivers_the_same_way()
    {
        MapOne(dev: 0x42, ev: 9, lpi: 8200, vcpu: 0);
        Assert.True(_its.Translate(0x42, 9));
        Assert.True(_gic.IsLpiPendingFor(0, 8200));
        _its.CpuDeviceId = 0x42;
        _gic.ClearLpiPending(0, 8200);
        _its.Write(GicV3Its.TranslaterOffset, 4, 9);
        Assert.True(_gic.IsLpiPendingFor(0, 8200));
        Assert.False(_its.Translate(0x42, 10));                 // unmapped event: dropped, recorded
        Assert.Equal(ItsError.EventNotMapped, _its.Errors[^1].Error);
    }

    [Fact]
    public void Discard_removes_the_mapping_and_the_pending_state()
    {
        MapOne();
        Int(7, 3);
        Command(0x0F | 7UL << 32, 3);                           // DISCARD
        Go();
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
        Assert.False(_its.Translate(7, 3));
        Assert.Equal(ItsError.EventNotMapped, _its.Errors[^1].Error);
    }

    [Fact]
    public void Clear_removes_the_pending_state_only()
    {
        MapOne();
        Int(7, 3);
        Command(0x04 | 7UL << 32, 3);                           // CLEAR
        Go();
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
        Assert.True(_its.Translate(7, 3));
    }

    [Fact]
    public void Movi_moves_the_event_and_its_pending_state_to_another_collection()
    {
        MapOne(vcpu: 1);
        Mapc(5, 0);
        Int(7, 3);
        Command(0x01 | 7UL << 32, 3, 5);                        // MOVI to ICID 5 (vCPU 0)
        Go();
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
        Assert.True(_gic.IsLpiPendingFor(0, 8197));
        _gic.ClearLpiPending(0, 8197);
        Assert.True(_its.Translate(7, 3));
        Assert.True(_gic.IsLpiPendingFor(0, 8197));
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
    }

    [Fact]
    public void Movall_moves_every_pending_lpi()
    {
        MapOne(vcpu: 1);
        Int(7, 3);
        Command(0x0E, 0, 1UL << 16, 0UL << 16);                 // MOVALL rd1 -> rd0
        Go();
        Assert.True(_gic.IsLpiPendingFor(0, 8197));
        Assert.False(_gic.IsLpiPendingFor(1, 8197));
    }

    [Fact]
    public void Configuration_is_cached_until_inv_or_invall()
    {
        SetProperty(8197, 0x60, enabled: true);
        MapOne();
        Int(7, 3);
        Go();
        Assert.Equal((byte)0x60, _gic.HighestPending(1).Priority);
        SetProperty(8197, 0x20, enabled: true);                 // the guest edits the table...
        Assert.Equal((byte)0x60, _gic.HighestPending(1).Priority);   // ...the redistributor still uses its copy
        Command(0x0C | 7UL << 32, 3);                           // INV
        Go();
        Assert.Equal((byte)0x20, _gic.HighestPending(1).Priority);
        SetProperty(8197, 0x20, enabled: false);
        Assert.True(_gic.IsIrqAsserted(1));
        Command(0x0D, 0, 2);                                    // INVALL of ICID 2
        Go();
        Assert.False(_gic.IsIrqAsserted(1));
    }

    [Fact]
    public void Out_of_range_ids_are_ignored_and_recorded()
    {
        MapOne();
        long before = _its.ErrorCount;
        Mapd(600, 5, Itt);                                      // beyond the one-page device table (512 entries)
        Mapd(1u << 20, 5, Itt);                                 // beyond Devbits
        Mapd(8, 17, Itt);                                       // ITT size beyond IDbits
        Mapc(600, 0);                                           // collection beyond its table
        Mapc(3, 9);                                             // no such redistributor
        Mapti(7, 40, 8198, 2);                                  // event beyond the 5-bit ITT
        Mapti(7, 4, 100, 2);                                    // not an LPI
        Mapti(7, 4, 70000, 2);                                  // beyond 16 ID bits
        Mapti(7, 4, 8198, 600);                                 // collection beyond its table
        Mapti(9, 0, 8198, 2);                                   // device not mapped
        Int(7, 31);                                             // event never mapped
        Command(0xEE);                                          // unknown command
        Go();
        var kinds = _its.Errors.Skip((int)before).Select(e => e.Error).ToArray();
        Assert.Equal(new[]
        {
            ItsError.DeviceIdOutOfRange, ItsError.DeviceIdOutOfRange, ItsError.IttSizeOutOfRange,
            ItsError.CollectionIdOutOfRange, ItsError.TargetOutOfRange, ItsError.EventIdOutOfRange,
            ItsError.LpiOutOfRange, ItsError.LpiOutOfRange, ItsError.CollectionIdOutOfRange,
            ItsError.DeviceNotMapped, ItsError.EventNotMapped, ItsError.UnknownCommand,
        }, kinds);
        Assert.Equal(before + 12, _its.ErrorCount);
        Assert.True(_its.Translate(7, 3));                      // the good mapping survived
    }

    [Fact]
    public void Tables_outside_guest_memory_are_errors_not_host_accesses()
    {
        var its = new GicV3Its(_gic, _mem);
        its.Write(0x100, 8, 1UL << 63 | 0x7000_0000UL);         // device table in no man's land
        its.Write(0x108, 8, 1UL << 63 | (Ram + RamSize - 4096 + 0) | 0xFF);  // 256 pages, mostly past RAM
        its.Write(0x80, 8, 1UL << 63 | (Ram + RamSize - 4096));
        its.Write(0x0, 4, 1);
        Assert.True(_mem.TryWrite(Ram + RamSize - 4096, 0x08UL | 1UL << 32));                    // MAPD dev 1
        Assert.True(_mem.TryWrite(Ram + RamSize - 4096 + 32, 0x09UL));                           // MAPC
        Assert.True(_mem.TryWrite(Ram + RamSize - 4096 + 48, 1UL << 63 | 1000));                 // ICID 1000 is past RAM
        its.Write(0x88, 8, 64);
        Assert.Equal(64UL, its.Read(0x90, 8));
        Assert.Equal(new[] { ItsError.TableUnreadable, ItsError.TableUnreadable }, its.Errors.Select(e => e.Error).ToArray());

        its.Write(0x88, 8, 8192);                               // CWRITER beyond the queue
        Assert.Equal(ItsError.CommandQueueInvalid, its.Errors[^1].Error);
        Assert.Equal(64UL, its.Read(0x90, 8));
    }

    [Fact]
    public void The_command_queue_wraps_around()
    {
        // Park CREADR near the end: 126 SYNCs, then a mapping sequence that straddles the end.
        for (int i = 0; i < 126; i++) Command(0x05);
        Go();
        Assert.Equal(126UL * 32, _its.Read(0x90, 8));
        Mapd(7, 5, Itt);
        Mapc(2, 0);
        Mapti(7, 3, 8199, 2);
        Int(7, 3);
        Go();
        Assert.Equal(2UL * 32, _its.Read(0x90, 8));
        Assert.True(_gic.IsLpiPendingFor(0, 8199));
        Assert.Equal(0, _its.ErrorCount);
    }

    [Fact]
    public void Commands_wait_while_the_its_is_disabled()
    {
        _its.Write(0x0, 4, 0);
        MapOneWithoutGo();
        _its.Write(0x88, 8, _cursor);
        Assert.Equal(0UL, _its.Read(0x90, 8));
        _its.Write(0x0, 4, 1);
        Assert.Equal(_cursor, _its.Read(0x90, 8));
        Assert.True(_gic.IsLpiPendingFor(1, 8197));
    }

    private void MapOneWithoutGo()
    {
        Mapd(7, 5, Itt);
        Mapc(2, 1);
        Mapti(7, 3, 8197, 2);
        Int(7, 3);
    }

    [Fact]
    public void Enabling_lpis_picks_up_the_pending_table()
    {
        var gic = GicV3Tests.BootedGic(vcpus: 1, memory: _mem);
        const ulong pend = Ram + 0x28_0000;
        Assert.True(_mem.TryWrite(pend + 8210 / 8, (byte)(1 << (8210 % 8))));
        gic.Redistributors.Write(GicV3Tests.Rd(0, 0x70), 8, PropTable | 15);
        gic.Redistributors.Write(GicV3Tests.Rd(0, 0x78), 8, pend);
        Assert.Equal(pend, gic.Redistributors.Read(GicV3Tests.Rd(0, 0x78), 8));
        gic.Redistributors.Write(GicV3Tests.Rd(0, 0x0), 4, 1);
        Assert.Equal(1UL, gic.Redistributors.Read(GicV3Tests.Rd(0, 0x0), 4));
        Assert.True(gic.IsLpiPendingFor(0, 8210));
        Assert.Equal(8210u, GicV3Tests.Iar(gic, 0));
        gic.Redistributors.Write(GicV3Tests.Rd(0, 0x70), 8, 0);  // ignored while LPIs are enabled
        Assert.Equal(PropTable | 15, gic.Redistributors.Read(GicV3Tests.Rd(0, 0x70), 8));
    }
}
