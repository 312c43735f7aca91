using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// Helpers for the grant-table tests: a second domain in the test hypervisor, hypercalls made
/// by any domain, and grant entries written the way a guest writes them.
/// </summary>
internal static class Gnt
{
    public const ushort Self = 0x7FF0;
    public const int MapGrantRef = 0, UnmapGrantRef = 1, SetupTable = 2, DumpTable = 3, Transfer = 4, Copy = 5, QuerySize = 6,
        UnmapAndReplace = 7, SetVersion = 8, GetStatusFrames = 9, GetVersion = 10, SwapGrantRef = 11, CacheFlush = 12;
    public const ushort PermitAccess = 1, AcceptTransfer = 2, Transitive = 3, ReadOnly = 1 << 2, Reading = 1 << 3,
        Writing = 1 << 4, SubPage = 1 << 8;
    public const short Okay = 0, GeneralError = -1, BadDomain = -2, BadGntref = -3, BadHandle = -4, BadVirtAddr = -5,
        PermissionDenied = -8, BadPage = -9, BadCopyArg = -10, AddressTooBig = -11, EAgain = -12;
    public const ushort SourceGref = 1, DestGref = 2;
    public const ulong InvalidGfn = ulong.MaxValue;

    /// <summary>Where the tests place grant frame 0 and status frame 0 (guest frames).</summary>
    public const ulong TableGfn = 0x100, StatusGfn = 0x108;
    public const ulong TableGpa = TableGfn << 12, StatusGpa = StatusGfn << 12;

    public static Domain AddDomain(TestDomain t, string name = "peer") =>
        t.Hv.CreateDomain(name, Guid.NewGuid(), GuestMemory.Allocate([(0UL, TestDomain.RamSize)]), 1, 512, 1024);

    public static long Call(Domain d, int cmd, ulong uop, ulong count = 1, bool is64 = true) =>
        Raw(d, HypercallNumber.GrantTableOp, (ulong)cmd, uop, count, is64);

    public static long Raw(Domain d, HypercallNumber nr, ulong a1, ulong a2, ulong a3, bool is64 = true) =>
        HypercallDispatcher.Invoke((uint)nr, new HypercallContext(d.Vcpus[0], is64, a1, a2, a3, 0, 0));

    /// <summary>XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx, gpfn) made by <paramref name="d"/> (64-bit layout).</summary>
    public static long Place(Domain d, ulong idx, ulong gpfn)
    {
        ulong arg = TestDomain.Arg + 0x800;
        Poke(d, arg, Self);
        Poke(d, arg + 2, (ushort)0);
        Poke(d, arg + 4, 1u);
        Poke(d, arg + 8, idx);
        Poke(d, arg + 16, gpfn);
        return Raw(d, HypercallNumber.MemoryOp, 7, arg, 0);
    }

    public static long SetVersionOf(Domain d, uint version)
    {
        ulong arg = TestDomain.Arg + 0x900;
        Poke(d, arg, version);
        return Call(d, SetVersion, arg);
    }

    /// <summary>Places frame 0 (and in v2 status frame 0) where the tests look for them.</summary>
    public static void PlaceTable(Domain d, int version = 1)
    {
        if (version == 2) Assert.Equal(0, SetVersionOf(d, 2));
        Assert.Equal(0, Place(d, 0, TableGfn));
        if (version == 2) Assert.Equal(0, Place(d, MemoryOp.MapIdxGrantTableStatus, StatusGfn));
    }

    public static void Poke<T>(Domain d, ulong gpa, T value) where T : unmanaged => Assert.True(d.Memory.TryWrite(gpa, value));

    public static T Peek<T>(Domain d, ulong gpa) where T : unmanaged
    {
        Assert.True(d.Memory.TryRead(gpa, out T value));
        return value;
    }

    public static byte[] PeekBytes(Domain d, ulong gpa, int length)
    {
        var b = new byte[length];
        Assert.True(d.Memory.TryReadBytes(gpa, b));
        return b;
    }

    public static void Fill(Domain d, ulong gpa, int length, byte value)
    {
        Assert.True(d.Memory.TryGetSpan(gpa, length, out var s));
        s.Fill(value);
    }

    /// <summary>Writes grant <paramref name="gref"/> in frame 0 at <see cref="TableGpa"/>, in the guest's order (flags last).</summary>
    public static void Grant(Domain d, int version, uint gref, ushort flags, ushort domid, ulong frame, ushort pageOff = 0, ushort length = 0)
    {
        if (version == 1)
        {
            ulong e = TableGpa + gref * 8UL;
            Poke(d, e + 2, domid);
            Poke(d, e + 4, (uint)frame);
            Poke(d, e, flags);
        }
        else
        {
            ulong e = TableGpa + gref * 16UL;
            Poke(d, e + 2, domid);
            Poke(d, e + 4, pageOff);
            Poke(d, e + 6, length);
            Poke(d, e + 8, frame);
            Poke(d, e, flags);
        }
    }

    /// <summary>GTF_reading/GTF_writing of a grant as the granting guest sees them (v1: flags; v2: status frame).</summary>
    public static ushort InUse(Domain d, int version, uint gref) =>
        (ushort)((version == 1 ? Peek<ushort>(d, TableGpa + gref * 8UL) : Peek<ushort>(d, StatusGpa + gref * 2UL)) & (Reading | Writing));

    public readonly record struct Side(ulong U, ushort DomId, ushort Offset);

    /// <summary>Writes struct gnttab_copy at <paramref name="gpa"/> of <paramref name="d"/> in the 64- or 32-bit layout; returns its size.</summary>
    public static int WriteCopy(Domain d, ulong gpa, Side source, Side dest, ushort len, ushort flags, bool is64 = true)
    {
        int size = is64 ? 40 : 24;
        Fill(d, gpa, size, 0x5A);
        if (is64)
        {
            Poke(d, gpa, source.U);
            Poke(d, gpa + 8, source.DomId);
            Poke(d, gpa + 10, source.Offset);
            Poke(d, gpa + 16, dest.U);
            Poke(d, gpa + 24, dest.DomId);
            Poke(d, gpa + 26, dest.Offset);
            Poke(d, gpa + 32, len);
            Poke(d, gpa + 34, flags);
        }
        else
        {
            Poke(d, gpa, (uint)source.U);
            Poke(d, gpa + 4, source.DomId);
            Poke(d, gpa + 6, source.Offset);
            Poke(d, gpa + 8, (uint)dest.U);
            Poke(d, gpa + 12, dest.DomId);
            Poke(d, gpa + 14, dest.Offset);
            Poke(d, gpa + 16, len);
            Poke(d, gpa + 18, flags);
        }
        return size;
    }

    public static short CopyStatus(Domain d, ulong gpa, bool is64 = true) => Peek<short>(d, gpa + (is64 ? 36UL : 20UL));
}

/// <summary>
/// grant_table_op's table management (grant_table.h): setup_table, query_size, set/get_version,
/// get_status_frames, and placing grant frames with XENMEM_add_to_physmap.
/// </summary>
public class GrantTableSetupTests
{
    private const ulong Arg = TestDomain.Arg, Buf = TestDomain.Buffer;

    private static long SetupTable64(Domain d, ushort dom, uint nrFrames, ulong list)
    {
        Gnt.Poke(d, Arg, dom);
        Gnt.Poke(d, Arg + 4, nrFrames);
        Gnt.Poke(d, Arg + 8, (short)0x7777);
        Gnt.Poke(d, Arg + 16, list);
        return Gnt.Call(d, Gnt.SetupTable, Arg);
    }

    private static short SetupStatus(Domain d) => Gnt.Peek<short>(d, Arg + 8);

    private static (long Rc, short Status, uint Frames, uint Max) QuerySize(Domain d, ushort dom)
    {
        Gnt.Fill(d, Arg, 16, 0xEE);
        Gnt.Poke(d, Arg, dom);
        long rc = Gnt.Call(d, Gnt.QuerySize, Arg);
        return (rc, Gnt.Peek<short>(d, Arg + 12), Gnt.Peek<uint>(d, Arg + 4), Gnt.Peek<uint>(d, Arg + 8));
    }

    private static (long Rc, uint Version) GetVersion(Domain d, ushort dom)
    {
        Gnt.Poke(d, Arg, dom);
        Gnt.Poke(d, Arg + 4, 0xDEADu);
        long rc = Gnt.Call(d, Gnt.GetVersion, Arg);
        return (rc, Gnt.Peek<uint>(d, Arg + 4));
    }

    private static long GetStatusFrames(Domain d, uint nr, ushort dom, ulong list, bool is64 = true)
    {
        Gnt.Poke(d, Arg, nr);
        Gnt.Poke(d, Arg + 4, dom);
        Gnt.Poke(d, Arg + 6, (short)0x7777);
        if (is64) Gnt.Poke(d, Arg + 8, list);
        else Gnt.Poke(d, Arg + 8, (uint)list);
        return Gnt.Call(d, Gnt.GetStatusFrames, Arg, 1, is64);
    }

    // --- query_size / setup_table -----------------------------------------------------------

    [Fact]
    public void Query_size_reports_one_frame_and_the_maximum()
    {
        using var t = new TestDomain();
        var q = QuerySize(t.Domain, Gnt.Self);
        Assert.Equal((0L, Gnt.Okay, 1u, 64u), q);
        t.Domain.Grants.MaxFrames = 32;
        Assert.Equal((0L, Gnt.Okay, 1u, 32u), QuerySize(t.Domain, (ushort)t.Domain.Id));
    }

    [Fact]
    public void Query_size_of_another_domain_is_denied_and_of_a_missing_one_is_bad_domain()
    {
        using var t = new TestDomain();
        var peer = Gnt.AddDomain(t);
        var q = QuerySize(t.Domain, (ushort)peer.Id);
        Assert.Equal(Gnt.PermissionDenied, q.Status);
        Assert.Equal(0xEEEEEEEEu, q.Frames); // nothing else written
        Assert.Equal(Gnt.BadDomain, QuerySize(t.Domain, 99).Status);
        Assert.Equal(Gnt.PermissionDenied, QuerySize(t.Domain, 0).Status); // domain 0 exists (the host side), as in Xen
    }

    [Fact]
    public void Setup_table_grows_the_table_and_lists_gfns_with_invalid_gfn_for_unplaced_frames()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(0, Gnt.Place(d, 0, 0x40));
        Gnt.Fill(d, Buf, 64, 0xCC);

        Assert.Equal(0, SetupTable64(d, Gnt.Self, 3, Buf));
        Assert.Equal(Gnt.Okay, SetupStatus(d));
        Assert.Equal(0x40UL, Gnt.Peek<ulong>(d, Buf));
        Assert.Equal(Gnt.InvalidGfn, Gnt.Peek<ulong>(d, Buf + 8));
        Assert.Equal(Gnt.InvalidGfn, Gnt.Peek<ulong>(d, Buf + 16));
        Assert.Equal(0xCCCCCCCC_CCCCCCCCUL, Gnt.Peek<ulong>(d, Buf + 24)); // only nr_frames entries
        Assert.Equal(3, d.Grants.FrameCount);
        Assert.Equal(3u, QuerySize(d, Gnt.Self).Frames);

        // Asking for fewer frames does not shrink the table.
        Assert.Equal(0, SetupTable64(d, Gnt.Self, 1, Buf));
        Assert.Equal(3, d.Grants.FrameCount);
    }

    [Fact]
    public void Setup_table_32bit_takes_the_handle_at_12_and_writes_32bit_gfns()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(0, Gnt.Place(d, 0, 0x40));
        Assert.Equal(0, Gnt.Place(d, 1, 0x41));
        Gnt.Fill(d, Buf, 64, 0xCC);
        Gnt.Poke(d, Arg, Gnt.Self);
        Gnt.Poke(d, Arg + 4, 2u);
        Gnt.Poke(d, Arg + 12, (uint)Buf);
        Gnt.Poke(d, Arg + 16, 0xFFFFFFFF_FFFFFFFFUL); // not part of a 32-bit guest's struct
        Assert.Equal(0, Gnt.Call(d, Gnt.SetupTable, Arg, 1, is64: false));
        Assert.Equal(Gnt.Okay, SetupStatus(d));
        Assert.Equal(0x40u, Gnt.Peek<uint>(d, Buf));
        Assert.Equal(0x41u, Gnt.Peek<uint>(d, Buf + 4));
        Assert.Equal(0xCCCCCCCCu, Gnt.Peek<uint>(d, Buf + 8));

        // An unplaced frame's INVALID_GFN does not fit a 32-bit xen_pfn_t: Xen's compat layer says so.
        Gnt.Poke(d, Arg + 4, 3u);
        Assert.Equal(0, Gnt.Call(d, Gnt.SetupTable, Arg, 1, is64: false));
        Assert.Equal(Gnt.AddressTooBig, SetupStatus(d));
        Assert.Equal(0xCCCCCCCCu, Gnt.Peek<uint>(d, Buf + 8));
    }

    [Fact]
    public void Setup_table_beyond_max_frames_is_general_error_and_does_not_grow()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        d.Grants.MaxFrames = 4;
        Assert.Equal(0, SetupTable64(d, Gnt.Self, 5, Buf));
        Assert.Equal(Gnt.GeneralError, SetupStatus(d));
        Assert.Equal(1, d.Grants.FrameCount);
        Assert.Equal(0, SetupTable64(d, Gnt.Self, uint.MaxValue, Buf));
        Assert.Equal(Gnt.GeneralError, SetupStatus(d));
        Assert.Equal(0, SetupTable64(d, Gnt.Self, 4, Buf));
        Assert.Equal(Gnt.Okay, SetupStatus(d));
        Assert.Equal(4, d.Grants.FrameCount);
    }

    [Fact]
    public void Setup_table_errors()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        var peer = Gnt.AddDomain(t);
        Assert.Equal(0, SetupTable64(d, (ushort)peer.Id, 1, Buf));
        Assert.Equal(Gnt.PermissionDenied, SetupStatus(d));
        Assert.Equal(0, SetupTable64(d, 42, 1, Buf));
        Assert.Equal(Gnt.BadDomain, SetupStatus(d));
        Assert.Equal(0, SetupTable64(d, Gnt.Self, 1, TestDomain.Unmapped));
        Assert.Equal(Gnt.BadVirtAddr, SetupStatus(d));

        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.SetupTable, Arg, 2));
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.SetupTable, Arg, 0));
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(d, Gnt.SetupTable, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(d, Gnt.SetupTable, TestDomain.RamSize - 16)); // 24-byte struct
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.QuerySize, Arg, 2));
    }

    // --- versions --------------------------------------------------------------------------

    [Fact]
    public void Get_version_is_1_until_set_version_2()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal((0L, 1u), GetVersion(d, Gnt.Self));
        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
        Assert.Equal(2u, Gnt.Peek<uint>(d, TestDomain.Arg + 0x900));
        Assert.Equal((0L, 2u), GetVersion(d, (ushort)d.Id));
        Assert.Equal(0, Gnt.SetVersionOf(d, 2)); // same version: nothing to do
        Assert.Equal(0, Gnt.SetVersionOf(d, 1));
        Assert.Equal((0L, 1u), GetVersion(d, Gnt.Self));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(0xFFFFFFFFu)]
    public void Set_version_other_than_1_or_2_is_einval_and_reports_the_current_version(uint version)
    {
        using var t = new TestDomain();
        Assert.Equal(0, Gnt.SetVersionOf(t.Domain, 2));
        Assert.Equal(-XenErrno.EINVAL, Gnt.SetVersionOf(t.Domain, version));
        Assert.Equal(2u, Gnt.Peek<uint>(t.Domain, TestDomain.Arg + 0x900));
        Assert.Equal(2, t.Domain.Grants.Version);
    }

    [Fact]
    public void Set_version_2_when_max_version_is_1_is_enosys()
    {
        using var t = new TestDomain();
        t.Domain.Grants.MaxVersion = 1;
        Assert.Equal(-XenErrno.ENOSYS, Gnt.SetVersionOf(t.Domain, 2));
        Assert.Equal(1, t.Domain.Grants.Version);
    }

    [Fact]
    public void Get_version_of_another_domain_is_eperm_and_of_a_missing_one_esrch()
    {
        using var t = new TestDomain();
        var peer = Gnt.AddDomain(t);
        Assert.Equal(-XenErrno.EPERM, GetVersion(t.Domain, (ushort)peer.Id).Rc);
        Assert.Equal(-XenErrno.ESRCH, GetVersion(t.Domain, 77).Rc);
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(t.Domain, Gnt.GetVersion, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(t.Domain, Gnt.SetVersion, TestDomain.Unmapped));
    }

    [Fact]
    public void Switching_version_clears_the_entries_but_converts_the_8_reserved_ones()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Gnt.PlaceTable(d, 1);
        Gnt.Grant(d, 1, 1, Gnt.PermitAccess | Gnt.ReadOnly, 0, 0x1234);   // reserved: xenstore
        Gnt.Grant(d, 1, 10, Gnt.PermitAccess, 0, 0x55);                     // ordinary

        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
        Assert.Equal(0, Gnt.Place(d, MemoryOp.MapIdxGrantTableStatus, Gnt.StatusGfn));
        ulong e1 = Gnt.TableGpa + 16;
        Assert.Equal((ushort)(Gnt.PermitAccess | Gnt.ReadOnly), Gnt.Peek<ushort>(d, e1));
        Assert.Equal((ushort)0, Gnt.Peek<ushort>(d, e1 + 2));
        Assert.Equal(0x1234UL, Gnt.Peek<ulong>(d, e1 + 8));
        var page = Gnt.PeekBytes(d, Gnt.TableGpa, 4096);
        Array.Clear(page, 16, 16);
        Assert.True(page.AsSpan().IndexOfAnyExcept((byte)0) < 0, "every other entry starts clear");

        Gnt.Grant(d, 2, 20, Gnt.PermitAccess, 0, 0x66);
        Gnt.Grant(d, 2, 3, Gnt.PermitAccess, 5, 0x77);
        Assert.Equal(0, Gnt.SetVersionOf(d, 1));
        Assert.Equal(0, d.Grants.StatusFrameCount);
        Assert.Equal((ushort)Gnt.PermitAccess, Gnt.Peek<ushort>(d, Gnt.TableGpa + 3 * 8));
        Assert.Equal((ushort)5, Gnt.Peek<ushort>(d, Gnt.TableGpa + 3 * 8 + 2));
        Assert.Equal(0x77u, Gnt.Peek<uint>(d, Gnt.TableGpa + 3 * 8 + 4));
        Assert.Equal(0UL, Gnt.Peek<ulong>(d, Gnt.TableGpa + 20 * 8));
    }

    [Fact]
    public void Leaving_v2_with_a_reserved_entry_v1_cannot_express_is_erange()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Gnt.PlaceTable(d, 2);
        Gnt.Grant(d, 2, 2, Gnt.PermitAccess, 0, 0x1_0000_0000);
        Assert.Equal(-XenErrno.ERANGE, Gnt.SetVersionOf(d, 1));
        Gnt.Grant(d, 2, 2, Gnt.Transitive, 0, 0);
        Assert.Equal(-XenErrno.ERANGE, Gnt.SetVersionOf(d, 1));
        Gnt.Grant(d, 2, 2, 0, 0, 0);
        Assert.Equal(0, Gnt.SetVersionOf(d, 1));
    }

    [Fact]
    public void Switching_version_while_a_grant_is_mapped_is_ebusy()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Gnt.PlaceTable(d, 1);
        Gnt.Grant(d, 1, 10, Gnt.PermitAccess, 0, 0x50);
        Assert.Equal(Gnt.Okay, d.Grants.TryMap(0, 10, writable: false, out var mapping));
        Assert.Equal(-XenErrno.EBUSY, Gnt.SetVersionOf(d, 2));
        Assert.Equal(1, d.Grants.Version);
        mapping!.Dispose();
        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
    }

    [Fact]
    public void A_mapped_reserved_grant_does_not_block_switching_and_keeps_its_in_use_bits()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Gnt.PlaceTable(d, 1);
        Gnt.Grant(d, 1, 0, Gnt.PermitAccess, 0, 0x50); // console page
        Assert.Equal(Gnt.Okay, d.Grants.TryMap(0, 0, writable: true, out var console));
        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
        Assert.Equal(0, Gnt.Place(d, MemoryOp.MapIdxGrantTableStatus, Gnt.StatusGfn));
        Assert.Equal((ushort)(Gnt.Reading | Gnt.Writing), Gnt.InUse(d, 2, 0));
        Assert.Equal((ushort)Gnt.PermitAccess, Gnt.Peek<ushort>(d, Gnt.TableGpa));
        Assert.True(console!.TryWrite(0, (byte)7));
        console.Dispose();
        Assert.Equal((ushort)0, Gnt.InUse(d, 2, 0));
    }

    // --- get_status_frames --------------------------------------------------------------------

    [Fact]
    public void Get_status_frames_in_v1_has_none()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(0, GetStatusFrames(d, 1, Gnt.Self, Buf));
        Assert.Equal(Gnt.GeneralError, Gnt.Peek<short>(d, Arg + 6));
        Assert.Equal(0, GetStatusFrames(d, 0, Gnt.Self, Buf));
        Assert.Equal(Gnt.Okay, Gnt.Peek<short>(d, Arg + 6));
    }

    [Fact]
    public void Get_status_frames_in_v2_lists_them_as_u64_in_both_layouts()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
        Assert.Equal(1, d.Grants.StatusFrameCount);
        // 64 frames of 256 entries have 8 status frames: status frame 8 is out of reach.
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(d, 8 | MemoryOp.MapIdxGrantTableStatus, 0x1F0));
        Assert.Equal(1, d.Grants.FrameCount);
        Assert.Equal(0, Gnt.Place(d, 1 | MemoryOp.MapIdxGrantTableStatus, 0x1F1)); // grows the table to 16 frames
        Assert.Equal(16, d.Grants.FrameCount);
        Assert.Equal(2, d.Grants.StatusFrameCount);

        Gnt.Fill(d, Buf, 64, 0xCC);
        Assert.Equal(0, GetStatusFrames(d, 2, Gnt.Self, Buf));
        Assert.Equal(Gnt.Okay, Gnt.Peek<short>(d, Arg + 6));
        Assert.Equal(Gnt.InvalidGfn, Gnt.Peek<ulong>(d, Buf));
        Assert.Equal(0x1F1UL, Gnt.Peek<ulong>(d, Buf + 8));
        Assert.Equal(0xCCCCCCCC_CCCCCCCCUL, Gnt.Peek<ulong>(d, Buf + 16));

        Gnt.Fill(d, Buf, 64, 0xCC);
        Assert.Equal(0, GetStatusFrames(d, 2, Gnt.Self, Buf, is64: false));
        Assert.Equal(0x1F1UL, Gnt.Peek<ulong>(d, Buf + 8));

        Assert.Equal(0, GetStatusFrames(d, 3, Gnt.Self, Buf));
        Assert.Equal(Gnt.GeneralError, Gnt.Peek<short>(d, Arg + 6));
        Assert.Equal(0, GetStatusFrames(d, 1, Gnt.Self, TestDomain.Unmapped));
        Assert.Equal(Gnt.BadVirtAddr, Gnt.Peek<short>(d, Arg + 6));
        Assert.Equal(0, GetStatusFrames(d, 1, 55, Buf));
        Assert.Equal(Gnt.BadDomain, Gnt.Peek<short>(d, Arg + 6));
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.GetStatusFrames, Arg, 2));
    }

    // --- add_to_physmap ---------------------------------------------------------------------

    [Fact]
    public void A_placed_grant_frame_is_the_guest_frame_and_its_contents_survive_moving()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        d.Grants.SeedEntry(1, 0, 0xABCD); // written while the frame lives in the host buffer
        Gnt.Fill(d, 0x40000, 4096, 0xEE);
        Assert.Equal(0, Gnt.Place(d, 0, 0x40));
        Assert.Equal((ushort)Gnt.PermitAccess, Gnt.Peek<ushort>(d, 0x40008));
        Assert.Equal(0xABCDu, Gnt.Peek<uint>(d, 0x4000C));
        Assert.Equal(0UL, Gnt.Peek<ulong>(d, 0x40000)); // the RAM contents were replaced

        // The guest writes an entry in place, then moves the frame.
        Gnt.Poke(d, 0x40010 + 2, (ushort)3);
        Gnt.Poke(d, 0x40010, Gnt.PermitAccess);
        Assert.Equal(0, Gnt.Place(d, 0, 0x41));
        Assert.Equal((ushort)3, Gnt.Peek<ushort>(d, 0x41012));
        Assert.Equal(0xABCDu, Gnt.Peek<uint>(d, 0x4100C));
        Assert.Equal(0x41UL, d.Grants.SharedFrameGfn(0));
    }

    [Fact]
    public void Placing_a_frame_over_another_one_puts_that_one_back_in_the_host()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(0, Gnt.Place(d, 0, 0x40));
        Gnt.Poke(d, 0x40000 + 8 * 5, 0x1234_0001);
        Assert.Equal(0, Gnt.Place(d, 1, 0x40));
        Assert.Equal(Gnt.InvalidGfn, d.Grants.SharedFrameGfn(0));
        Assert.Equal(0x40UL, d.Grants.SharedFrameGfn(1));
        Assert.Equal(0, Gnt.Peek<int>(d, 0x40000 + 8 * 5)); // frame 1 (empty) is there now
        Assert.Equal(0, Gnt.Place(d, 0, 0x42));
        Assert.Equal(0x1234_0001, Gnt.Peek<int>(d, 0x42000 + 8 * 5));
    }

    [Fact]
    public void Placing_frame_idx_grows_the_table_up_to_max_frames()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        d.Grants.MaxFrames = 8;
        Assert.Equal(0, Gnt.Place(d, 5, 0x45));
        Assert.Equal(6, d.Grants.FrameCount);
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(d, 8, 0x48));
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(d, ulong.MaxValue, 0x48));
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(d, 1UL << 32, 0x48));
        Assert.Equal(6, d.Grants.FrameCount);
    }

    [Theory]
    [InlineData(0x7FFF_0000UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 52)]
    [InlineData(0xFEE00UL)]
    public void Placing_a_grant_frame_beyond_the_address_width_or_over_the_apic_is_einval(ulong gpfn)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(t.Domain, 0, gpfn));
        Assert.Equal(Gnt.InvalidGfn, t.Domain.Grants.SharedFrameGfn(0));
    }

    [Fact]
    public void A_grant_frame_placed_in_a_hole_after_ram_is_backed_and_holds_the_entries()
    {
        using var t = new TestDomain();
        ulong gpfn = TestDomain.RamSize >> 12; // where GRUB puts it
        Assert.Equal(0, Gnt.Place(t.Domain, 0, gpfn));
        Assert.Equal(gpfn, t.Domain.Grants.SharedFrameGfn(0));
        Assert.True(t.Domain.Memory.Contains(gpfn << 12, 4096));
    }

    [Fact]
    public void Status_frames_exist_only_in_v2()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(-XenErrno.EINVAL, Gnt.Place(d, MemoryOp.MapIdxGrantTableStatus, 0x50));
        Assert.Equal(0, Gnt.SetVersionOf(d, 2));
        Assert.Equal(0, Gnt.Place(d, MemoryOp.MapIdxGrantTableStatus, 0x50));
        Assert.Equal(0x50UL, d.Grants.StatusFrameGfn(0));
    }

    [Fact]
    public void Placing_a_grant_frame_32bit_reads_idx_and_gpfn_as_32bit()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Gnt.Poke(d, Arg, Gnt.Self);
        Gnt.Poke(d, Arg + 2, (ushort)0);
        Gnt.Poke(d, Arg + 4, 1u);
        Gnt.Poke(d, Arg + 8, 2u);
        Gnt.Poke(d, Arg + 12, 0x44u);
        Assert.Equal(0, Gnt.Raw(d, HypercallNumber.MemoryOp, 7, Arg, 0, is64: false));
        Assert.Equal(0x44UL, d.Grants.SharedFrameGfn(2));
    }

    // --- the hypercall itself ---------------------------------------------------------------

    [Theory]
    [InlineData(Gnt.DumpTable)]
    [InlineData(Gnt.CacheFlush)]
    [InlineData(13)]
    [InlineData(0xFFF)]
    public void Unknown_or_absent_commands_are_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, Gnt.Call(t.Domain, cmd, Arg));
    }

    [Fact]
    public void Transfer_is_not_supported()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EOPNOTSUPP, Gnt.Call(t.Domain, Gnt.Transfer, Arg));
    }

    [Fact]
    public void Continuation_bits_in_cmd_and_negative_or_huge_counts_are_einval()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.QuerySize | (1 << 12), Arg));
        Assert.Equal(-XenErrno.ENOSYS, Gnt.Call(d, Gnt.CacheFlush | (1 << 12), Arg)); // only cache_flush may carry them
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.Copy, Arg, 0x8000_0000));
        Assert.Equal(-XenErrno.EINVAL, Gnt.Call(d, Gnt.Copy, Arg, GrantTableOpHypercall.MaxOpsPerCall + 1));
        Assert.Equal(0, Gnt.Call(d, Gnt.Copy, TestDomain.Unmapped, 0));
    }
}
