using System.Buffers;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// Host backends' mappings (GrantTable.TryMap / GrantMapping), and what a guest sees from
/// GNTTABOP_map_grant_ref / unmap_grant_ref / swap_grant_ref.
/// </summary>
public class GrantTableMappingTests
{
    private const ulong Arg = TestDomain.Arg;
    private const ulong DataGfn = 0x50, DataGpa = DataGfn << 12;

    private static TestDomain Guest(int version)
    {
        var t = new TestDomain();
        Gnt.PlaceTable(t.Domain, version);
        for (int i = 0; i < 4096; i++) Gnt.Poke(t.Domain, DataGpa + (ulong)i, (byte)i);
        return t;
    }

    // --- host mappings ----------------------------------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_read_only_mapping_reads_sets_reading_and_refuses_writes(int version)
    {
        using var t = Guest(version);
        var g = t.Domain;
        Gnt.Grant(g, version, 8, Gnt.PermitAccess | Gnt.ReadOnly, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, writable: false, out var m));
        Assert.NotNull(m);
        Assert.Equal((ushort)Gnt.Reading, Gnt.InUse(g, version, 8));
        Assert.Equal(DataGfn, m.Gfn);
        Assert.Same(g, m.Granter);

        var buf = new byte[16];
        Assert.True(m.TryRead(100, buf));
        Assert.Equal(Enumerable.Range(100, 16).Select(i => (byte)i), buf);
        Assert.True(m.TryRead(0x10, out uint word));
        Assert.Equal(0x13121110u, word);
        Assert.False(m.TryWrite(0, new byte[] { 1 }));
        Assert.False(m.TryWrite(0, 5u));
        Assert.False(m.TryAccess(0, 1, 0, static (_, _) => { }));
        Assert.True(m.TryInspect(4095, 1, 0, static (s, _) => Assert.Equal(0xFF, s[0])));
        Assert.Equal((byte)0, Gnt.Peek<byte>(g, DataGpa));

        m.Dispose();
        Assert.Equal((ushort)0, Gnt.InUse(g, version, 8));
        Assert.False(m.TryRead(0, buf));
        m.Dispose(); // twice is harmless
        Assert.Equal(0, g.Grants.MappingCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_writable_mapping_writes_and_its_bits_clear_when_the_last_user_goes(int version)
    {
        using var t = Guest(version);
        var g = t.Domain;
        Gnt.Grant(g, version, 9, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 9, writable: true, out var w));
        Assert.Equal((ushort)(Gnt.Reading | Gnt.Writing), Gnt.InUse(g, version, 9));
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 9, writable: false, out var r));
        Assert.Equal(2, g.Grants.MappingCount);

        Assert.True(w!.TryWrite(4092, 0xA1B2C3D4u));
        Assert.Equal(0xA1B2C3D4u, Gnt.Peek<uint>(g, DataGpa + 4092));
        Assert.True(w.TryAccess(0, 4, 0x55, static (s, v) => s.Fill((byte)v)));
        Assert.Equal(0x55555555u, Gnt.Peek<uint>(g, DataGpa));
        Assert.True(r!.TryRead(0, out uint seen));
        Assert.Equal(0x55555555u, seen);

        w.Dispose();
        Assert.Equal((ushort)Gnt.Reading, Gnt.InUse(g, version, 9));
        r.Dispose();
        Assert.Equal((ushort)0, Gnt.InUse(g, version, 9));
    }

    [Fact]
    public void Mapping_accesses_are_bounded_to_the_page()
    {
        using var t = Guest(1);
        var g = t.Domain;
        Gnt.Grant(g, 1, 8, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, writable: true, out var m));
        Gnt.Fill(g, DataGpa + 4096, 16, 0x11);
        var buf = new byte[8];
        Assert.False(m!.TryRead(4089, buf));
        Assert.False(m.TryRead(-1, buf));
        Assert.False(m.TryRead(int.MinValue, buf));
        Assert.False(m.TryRead(4096, buf));
        Assert.True(m.TryRead(4096, Span<byte>.Empty));
        Assert.False(m.TryWrite(4093, 0UL));
        Assert.False(m.TryWrite(4090, new byte[7]));
        Assert.False(m.TryAccess(1, 4096, 0, static (_, _) => { }));
        Assert.False(m.TryInspect(0, -1, 0, static (_, _) => { }));
        Assert.True(m.TryWrite(4088, ulong.MaxValue));
        Assert.All(Gnt.PeekBytes(g, DataGpa + 4096, 16), b => Assert.Equal(0x11, b)); // the next page untouched
    }

    [Fact]
    public void Copy_between_two_mappings_needs_a_writable_destination()
    {
        using var t = Guest(1);
        var g = t.Domain;
        Gnt.Grant(g, 1, 8, Gnt.PermitAccess, 0, DataGfn);
        Gnt.Grant(g, 1, 9, Gnt.PermitAccess, 0, DataGfn + 1);
        Gnt.Grant(g, 1, 10, Gnt.PermitAccess | Gnt.ReadOnly, 0, DataGfn + 2);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, false, out var src));
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 9, true, out var dst));
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 10, false, out var ro));
        Assert.NotNull(dst);
        Assert.True(src!.TryCopyTo(10, dst, 20, 100));
        Assert.Equal(Enumerable.Range(10, 100).Select(i => (byte)i), Gnt.PeekBytes(g, ((DataGfn + 1) << 12) + 20, 100));
        Assert.False(src.TryCopyTo(0, ro!, 0, 1));
        Assert.False(src.TryCopyTo(4000, dst, 0, 100));
        Assert.False(src.TryCopyTo(0, dst, 4000, 100));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Map_failures_follow_xen(int version)
    {
        using var t = Guest(version);
        var g = t.Domain;
        Gnt.Grant(g, version, 1, Gnt.PermitAccess | Gnt.ReadOnly, 0, DataGfn);
        Gnt.Grant(g, version, 2, Gnt.PermitAccess, 5, DataGfn);
        Gnt.Grant(g, version, 3, Gnt.PermitAccess, 0, 0x7FFF_FFFF);
        Gnt.Grant(g, version, 4, Gnt.AcceptTransfer, 0, DataGfn);
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(0, 1, writable: true, out var m));
        Assert.Null(m);
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(0, 2, writable: false, out _));
        Assert.Equal(Gnt.BadPage, g.Grants.TryMap(0, 3, writable: false, out _));
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(0, 4, writable: false, out _));
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(0, 5, writable: false, out _));
        Assert.Equal(Gnt.BadGntref, g.Grants.TryMap(0, version == 1 ? 512u : 256u, writable: false, out _));
        for (uint r = 1; r <= 5; r++) Assert.Equal((ushort)0, Gnt.InUse(g, version, r));
        Assert.Equal(0, g.Grants.MappingCount);

        // Pinned by one grantee, the grant cannot be used by another.
        Gnt.Grant(g, version, 6, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 6, writable: false, out var held));
        Gnt.Grant(g, version, 6, (ushort)(Gnt.PermitAccess | Gnt.Reading), 7, DataGfn); // the guest re-grants it while in use
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(7, 6, writable: false, out _));
        held!.Dispose();
    }

    [Fact]
    public void A_v2_sub_page_grant_cannot_be_mapped()
    {
        using var t = Guest(2);
        var g = t.Domain;
        Gnt.Grant(g, 2, 3, Gnt.PermitAccess | Gnt.SubPage, 0, DataGfn, 0, 4096);
        Assert.Equal(Gnt.GeneralError, g.Grants.TryMap(0, 3, writable: false, out _));
        Assert.Equal((ushort)0, Gnt.InUse(g, 2, 3));
    }

    [Fact]
    public void A_pinned_grant_keeps_the_frame_captured_at_map_time()
    {
        using var t = Guest(1);
        var g = t.Domain;
        Gnt.Grant(g, 1, 8, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, writable: false, out var m));
        Gnt.Poke(g, Gnt.TableGpa + 8 * 8 + 4, 0x7FFF_FFFFu); // the guest changes the frame under the mapping
        Assert.True(m!.TryRead(1, out byte b));
        Assert.Equal(1, b);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, writable: false, out var again));
        Assert.Equal(DataGfn, again!.Gfn);
    }

    [Fact]
    public void Destroying_the_granter_revokes_its_mappings()
    {
        using var t = new TestDomain();
        var peer = Gnt.AddDomain(t);
        Gnt.PlaceTable(peer, 1);
        Gnt.Grant(peer, 1, 8, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, peer.Grants.TryMap(0, 8, writable: true, out var m));
        Assert.True(m!.TryWrite(0, 1));

        peer.Destroy();
        Assert.True(m.IsRevoked);
        Assert.False(m.IsActive);
        Assert.False(m.TryWrite(0, 2));
        Assert.False(m.TryRead(0, out int _));
        Assert.False(m.TryAccess(0, 1, 0, static (_, _) => throw new InvalidOperationException("must not run")));
        m.Dispose();
        Assert.True(peer.Grants.IsDead);
        Assert.Equal(Gnt.BadDomain, peer.Grants.TryMap(0, 8, writable: false, out _));
        Assert.Equal(0, peer.Grants.MappingCount);
    }

    [Fact]
    public async Task Accessing_a_mapping_while_the_granter_is_destroyed_never_crashes()
    {
        for (int round = 0; round < 5; round++)
        {
            using var t = new TestDomain();
            var peer = Gnt.AddDomain(t);
            Gnt.PlaceTable(peer, 1);
            Gnt.Grant(peer, 1, 8, Gnt.PermitAccess, 0, DataGfn);
            Assert.Equal(Gnt.Okay, peer.Grants.TryMap(0, 8, writable: true, out var m));
            using var started = new ManualResetEventSlim();
            var worker = Task.Run(() =>
            {
                var buf = new byte[4096];
                started.Set();
                int ok = 0;
                while (m!.TryWrite(0, buf) && m.TryRead(0, buf)) ok++;
                return ok;
            });
            started.Wait();
            peer.Destroy();
            await worker;
            Assert.True(m!.IsRevoked);
        }
    }

    // --- guest map / unmap / swap -------------------------------------------------------------

    private static short GuestMap(Domain caller, ushort dom, uint gref, uint flags)
    {
        Gnt.Poke(caller, Arg, 0x1234_5000UL);   // host_addr
        Gnt.Poke(caller, Arg + 8, flags);
        Gnt.Poke(caller, Arg + 12, gref);
        Gnt.Poke(caller, Arg + 16, dom);
        Gnt.Poke(caller, Arg + 18, (short)0x7777);
        Gnt.Poke(caller, Arg + 20, 0xAAAAAAAAu);  // handle: not issued
        Assert.Equal(0, Gnt.Call(caller, Gnt.MapGrantRef, Arg));
        Assert.Equal(0xAAAAAAAAu, Gnt.Peek<uint>(caller, Arg + 20));
        return Gnt.Peek<short>(caller, Arg + 18);
    }

    private const uint HostMap = 2, DeviceMap = 1, MapReadOnly = 4, ApplicationMap = 8, ContainsPte = 16;

    [Fact]
    public void Guest_map_grant_ref_validates_like_xen_then_cannot_map()
    {
        using var t = new TestDomain();
        var caller = t.Domain;
        var peer = Gnt.AddDomain(t);
        Gnt.PlaceTable(peer, 1);
        ushort me = (ushort)caller.Id, them = (ushort)peer.Id;
        Gnt.Grant(peer, 1, 1, Gnt.PermitAccess, me, DataGfn);
        Gnt.Grant(peer, 1, 2, Gnt.PermitAccess | Gnt.ReadOnly, me, DataGfn);
        Gnt.Grant(peer, 1, 3, Gnt.PermitAccess, 9, DataGfn);
        Gnt.Grant(peer, 1, 4, Gnt.PermitAccess, me, 0x7FFF_FFFF);

        Assert.Equal(Gnt.BadGntref, GuestMap(caller, them, 1, 0));
        Assert.Equal(Gnt.BadGntref, GuestMap(caller, them, 1, MapReadOnly));
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 1, DeviceMap));
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 1, HostMap | ApplicationMap));
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 1, HostMap | ContainsPte));
        Assert.Equal(Gnt.BadDomain, GuestMap(caller, 99, 1, HostMap));
        Assert.Equal(Gnt.BadDomain, GuestMap(caller, Gnt.Self, 1, HostMap));
        Assert.Equal(Gnt.BadGntref, GuestMap(caller, them, 512, HostMap));
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 3, HostMap));            // granted to someone else
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 2, HostMap));            // read-only grant, writable map
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 5, HostMap | MapReadOnly)); // not granted at all
        Assert.Equal(Gnt.BadPage, GuestMap(caller, them, 4, HostMap));
        // Everything allowed: still refused, since XenSharp cannot put the page in the caller's physmap.
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 1, HostMap));
        Assert.Equal(Gnt.GeneralError, GuestMap(caller, them, 2, HostMap | MapReadOnly));
        Assert.Equal((ushort)0, Gnt.InUse(peer, 1, 1));
        Assert.Equal((ushort)0, Gnt.InUse(peer, 1, 2));
    }

    [Fact]
    public void Guest_map_batches_and_faults()
    {
        using var t = new TestDomain();
        var caller = t.Domain;
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(caller, Gnt.MapGrantRef, TestDomain.RamSize - 16)); // 32-byte struct
        Assert.Equal(0, Gnt.Call(caller, Gnt.MapGrantRef, Arg, 0));
        // Two ops: both get their status.
        Gnt.Fill(caller, Arg, 64, 0);
        Assert.Equal(0, Gnt.Call(caller, Gnt.MapGrantRef, Arg, 2));
        Assert.Equal(Gnt.BadGntref, Gnt.Peek<short>(caller, Arg + 18));
        Assert.Equal(Gnt.BadGntref, Gnt.Peek<short>(caller, Arg + 32 + 18));
    }

    [Fact]
    public void Guest_unmap_has_no_handle_to_unmap()
    {
        using var t = new TestDomain();
        var d = t.Domain;
        foreach (int cmd in new[] { Gnt.UnmapGrantRef, Gnt.UnmapAndReplace })
        {
            Gnt.Fill(d, Arg, 48, 0);
            Assert.Equal(0, Gnt.Call(d, cmd, Arg, 2));
            Assert.Equal(Gnt.BadHandle, Gnt.Peek<short>(d, Arg + 20));
            Assert.Equal(Gnt.BadHandle, Gnt.Peek<short>(d, Arg + 24 + 20));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Swap_grant_ref_exchanges_entries_unless_in_use(int version)
    {
        using var t = Guest(version);
        var g = t.Domain;
        Gnt.Grant(g, version, 10, Gnt.PermitAccess, 3, 0x11);
        Gnt.Grant(g, version, 11, Gnt.PermitAccess | Gnt.ReadOnly, 4, 0x22);
        void Swap(uint a, uint b, short expected)
        {
            Gnt.Poke(g, Arg, a);
            Gnt.Poke(g, Arg + 4, b);
            Assert.Equal(0, Gnt.Call(g, Gnt.SwapGrantRef, Arg));
            Assert.Equal(expected, Gnt.Peek<short>(g, Arg + 8));
        }
        int size = version == 1 ? 8 : 16;
        Swap(10, 11, Gnt.Okay);
        Assert.Equal((ushort)4, Gnt.Peek<ushort>(g, Gnt.TableGpa + 10UL * (ulong)size + 2));
        Assert.Equal((ushort)3, Gnt.Peek<ushort>(g, Gnt.TableGpa + 11UL * (ulong)size + 2));
        Swap(10, 10, Gnt.Okay);
        Swap(10, 4096, Gnt.BadGntref);

        Gnt.Grant(g, version, 12, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 12, writable: false, out var m));
        Swap(12, 10, Gnt.EAgain);
        m!.Dispose();
        Swap(12, 10, Gnt.Okay);
    }

    [Fact]
    public void Seeded_entries_can_be_mapped_by_the_host_before_the_guest_places_its_table()
    {
        using var t = new TestDomain();
        var g = t.Domain;
        g.Grants.SeedEntry(1, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 1, writable: true, out var m));
        Assert.True(m!.TryWrite(0, 0x42));
        Assert.Equal(0x42, Gnt.Peek<int>(g, DataGpa));
        Assert.Equal(0, Gnt.Place(g, 0, Gnt.TableGfn));
        Assert.Equal((ushort)(Gnt.PermitAccess | Gnt.Reading | Gnt.Writing), Gnt.Peek<ushort>(g, Gnt.TableGpa + 8));
        m.Dispose();
        Assert.Equal((ushort)Gnt.PermitAccess, Gnt.Peek<ushort>(g, Gnt.TableGpa + 8));
    }

    [Fact]
    public void A_state_object_reaches_span_callbacks()
    {
        using var t = Guest(1);
        var g = t.Domain;
        Gnt.Grant(g, 1, 8, Gnt.PermitAccess, 0, DataGfn);
        Assert.Equal(Gnt.Okay, g.Grants.TryMap(0, 8, writable: true, out var m));
        var sink = new List<byte>();
        Assert.True(m!.TryInspect(5, 3, sink, static (s, l) => l.AddRange(s.ToArray())));
        Assert.Equal(new byte[] { 5, 6, 7 }, sink);
        ReadOnlySpanAction<byte, int> nop = static (_, _) => { };
        Assert.True(m.TryInspect(0, 0, 0, nop));
    }
}
