using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// GNTTABOP_copy as a guest sees it: the caller (d1) copies to and from pages that a peer
/// (d2) granted, v1 and v2, in both struct layouts. Statuses are Xen's: a grant that does not
/// allow the access (wrong type, other grantee, read-only destination, outside a sub-page
/// window) is GNTST_general_error.
/// </summary>
public class GrantTableCopyTests
{
    private const ulong Arg = TestDomain.Arg;
    private const ulong DataGfn = 0x50, LocalGfn = 0x60;

    private sealed class Pair : IDisposable
    {
        public readonly TestDomain T;
        public readonly Domain Caller, Granter;
        public readonly int Version;

        public Pair(int version)
        {
            T = new TestDomain();
            Caller = T.Domain;
            Granter = Gnt.AddDomain(T);
            Version = version;
            Gnt.PlaceTable(Granter, version);
            for (int i = 0; i < 4096; i++) Gnt.Poke(Granter, (DataGfn << 12) + (ulong)i, (byte)(i * 7));
            Gnt.Fill(Caller, LocalGfn << 12, 4096, 0xEE);
        }

        public ushort CallerId => (ushort)Caller.Id;
        public ushort GranterId => (ushort)Granter.Id;

        public void Grant(uint gref, ushort flags, ushort? domid = null, ulong frame = DataGfn, ushort pageOff = 0, ushort length = 0) =>
            Gnt.Grant(Granter, Version, gref, flags, domid ?? CallerId, frame, pageOff, length);

        /// <summary>One copy from grant <paramref name="gref"/> of d2 to the caller's local page; returns its status.</summary>
        public short CopyFrom(uint gref, ushort srcOffset = 0, ushort dstOffset = 0, ushort len = 64, ushort? granter = null, bool is64 = true)
        {
            Gnt.WriteCopy(Caller, Arg, new(gref, granter ?? GranterId, srcOffset), new(LocalGfn, Gnt.Self, dstOffset), len, Gnt.SourceGref, is64);
            Assert.Equal(0, Gnt.Call(Caller, Gnt.Copy, Arg, 1, is64));
            return Gnt.CopyStatus(Caller, Arg, is64);
        }

        /// <summary>One copy from the caller's local page to grant <paramref name="gref"/> of d2.</summary>
        public short CopyTo(uint gref, ushort srcOffset = 0, ushort dstOffset = 0, ushort len = 64, bool is64 = true)
        {
            Gnt.WriteCopy(Caller, Arg, new(LocalGfn, Gnt.Self, srcOffset), new(gref, GranterId, dstOffset), len, Gnt.DestGref, is64);
            Assert.Equal(0, Gnt.Call(Caller, Gnt.Copy, Arg, 1, is64));
            return Gnt.CopyStatus(Caller, Arg, is64);
        }

        public byte[] Local(int offset, int length) => Gnt.PeekBytes(Caller, (LocalGfn << 12) + (ulong)offset, length);
        public byte[] Data(int offset, int length) => Gnt.PeekBytes(Granter, (DataGfn << 12) + (ulong)offset, length);

        public void Dispose() => T.Dispose();
    }

    private static byte[] Pattern(int offset, int length) => Enumerable.Range(offset, length).Select(i => (byte)(i * 7)).ToArray();

    // --- the permission matrix -------------------------------------------------------------

    [Theory]
    [InlineData(1, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void Copy_from_a_grant_to_the_caller_copies_and_leaves_the_grant_idle(int version, bool is64)
    {
        using var p = new Pair(version);
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyFrom(5, srcOffset: 100, dstOffset: 8, len: 300, is64: is64));
        Assert.Equal(Pattern(100, 300), p.Local(8, 300));
        Assert.All(p.Local(0, 8), b => Assert.Equal(0xEE, b));
        Assert.All(p.Local(308, 100), b => Assert.Equal(0xEE, b));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, version, 5));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Copy_to_a_writable_grant_writes_the_granters_page(int version)
    {
        using var p = new Pair(version);
        p.Grant(7, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyTo(7, srcOffset: 0, dstOffset: 4000, len: 96));
        Assert.All(p.Data(4000, 96), b => Assert.Equal(0xEE, b));
        Assert.Equal(Pattern(3900, 100), p.Data(3900, 100));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, version, 7));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_read_only_grant_can_be_a_source_but_not_a_destination(int version)
    {
        using var p = new Pair(version);
        p.Grant(3, Gnt.PermitAccess | Gnt.ReadOnly);
        Assert.Equal(Gnt.Okay, p.CopyFrom(3));
        Assert.Equal(Gnt.GeneralError, p.CopyTo(3));
        Assert.Equal(Pattern(0, 64), p.Data(0, 64));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, version, 3));
        Assert.Equal((ushort)(Gnt.PermitAccess | Gnt.ReadOnly), Gnt.Peek<ushort>(p.Granter, Gnt.TableGpa + 3UL * (version == 1 ? 8u : 16u)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_grant_to_another_domain_or_not_of_the_permit_type_is_refused(int version)
    {
        using var p = new Pair(version);
        p.Grant(1, Gnt.PermitAccess, domid: 9);
        p.Grant(2, 0);
        p.Grant(3, Gnt.AcceptTransfer);
        p.Grant(4, Gnt.ReadOnly); // flags but no type
        foreach (uint gref in new uint[] { 1, 2, 3, 4, 6 })
        {
            Assert.Equal(Gnt.GeneralError, p.CopyFrom(gref));
            Assert.Equal(Gnt.GeneralError, p.CopyTo(gref));
            Assert.Equal((ushort)0, Gnt.InUse(p.Granter, version, gref));
        }
        Assert.All(p.Local(0, 64), b => Assert.Equal(0xEE, b));
    }

    [Theory]
    [InlineData(1, 512u)]
    [InlineData(2, 256u)]
    public void A_ref_beyond_the_table_is_bad_gntref(int version, uint firstBad)
    {
        using var p = new Pair(version);
        p.Grant(firstBad - 1, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyFrom(firstBad - 1));
        Assert.Equal(Gnt.BadGntref, p.CopyFrom(firstBad));
        Assert.Equal(Gnt.BadGntref, p.CopyTo(uint.MaxValue));
    }

    [Fact]
    public void An_unknown_domain_is_bad_domain()
    {
        using var p = new Pair(1);
        Assert.Equal(Gnt.BadDomain, p.CopyFrom(1, granter: 99));
        Assert.Equal(Gnt.BadDomain, p.CopyFrom(1, granter: 0));
        Assert.Equal(Gnt.BadDomain, p.CopyFrom(1, granter: 0x7FF2)); // DOMID_XEN
    }

    [Theory]
    [InlineData(4000, 0, 97)]
    [InlineData(0, 4000, 97)]
    [InlineData(4096, 0, 1)]
    [InlineData(0, 65535, 1)]
    [InlineData(1, 1, 4096)]
    [InlineData(0, 0, 65535)]
    public void Offset_plus_length_beyond_the_page_is_bad_copy_arg(ushort srcOffset, ushort dstOffset, ushort len)
    {
        using var p = new Pair(1);
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.BadCopyArg, p.CopyFrom(5, srcOffset, dstOffset, len));
        Assert.Equal(Gnt.BadCopyArg, p.CopyTo(5, srcOffset, dstOffset, len));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 1, 5));
        Assert.All(p.Local(0, 4096), b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void A_whole_page_copy_is_allowed()
    {
        using var p = new Pair(1);
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyFrom(5, 0, 0, 4096));
        Assert.Equal(Pattern(0, 4096), p.Local(0, 4096));
    }

    [Fact]
    public void A_zero_length_copy_succeeds_without_looking_at_anything()
    {
        using var p = new Pair(1);
        Assert.Equal(Gnt.Okay, p.CopyFrom(100000, 5000, 5000, 0, granter: 99));
    }

    [Fact]
    public void A_local_frame_must_be_named_with_domid_self_and_be_ram()
    {
        using var p = new Pair(1);
        p.Grant(5, Gnt.PermitAccess);
        var c = p.Caller;
        // The caller's own numeric id is refused for a gmfn, as on Xen (only DOMID_SELF may).
        Gnt.WriteCopy(c, Arg, new(5, p.GranterId, 0), new(LocalGfn, p.CallerId, 0), 64, Gnt.SourceGref);
        Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg));
        Assert.Equal(Gnt.PermissionDenied, Gnt.CopyStatus(c, Arg));
        // Another domain's frame by number: refused.
        Gnt.WriteCopy(c, Arg, new(DataGfn, p.GranterId, 0), new(LocalGfn, Gnt.Self, 0), 64, 0);
        Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg));
        Assert.Equal(Gnt.PermissionDenied, Gnt.CopyStatus(c, Arg));
        // A frame outside the caller's RAM.
        foreach (ulong bad in new[] { TestDomain.RamSize >> 12, 1UL << 52, ulong.MaxValue })
        {
            Gnt.WriteCopy(c, Arg, new(5, p.GranterId, 0), new(bad, Gnt.Self, 0), 64, Gnt.SourceGref);
            Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg));
            Assert.Equal(Gnt.BadPage, Gnt.CopyStatus(c, Arg));
        }
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 1, 5));
        // Local to local is a plain copy.
        Gnt.WriteCopy(c, Arg, new(LocalGfn, Gnt.Self, 0), new(LocalGfn + 1, Gnt.Self, 10), 64, 0);
        Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg));
        Assert.Equal(Gnt.Okay, Gnt.CopyStatus(c, Arg));
        Assert.All(Gnt.PeekBytes(c, ((LocalGfn + 1) << 12) + 10, 64), b => Assert.Equal(0xEE, b));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_grant_of_a_frame_outside_the_granters_ram_is_bad_page(int version)
    {
        using var p = new Pair(version);
        p.Grant(5, Gnt.PermitAccess, frame: TestDomain.RamSize >> 12);
        Assert.Equal(Gnt.BadPage, p.CopyFrom(5));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, version, 5));
        if (version == 2)
        {
            p.Grant(6, Gnt.PermitAccess, frame: 1UL << 60);
            Assert.Equal(Gnt.BadPage, p.CopyTo(6));
        }
    }

    [Fact]
    public void A_32bit_caller_reads_a_32bit_frame_number_and_ref()
    {
        using var p = new Pair(1);
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyTo(5, 0, 0, 32, is64: false));
        Assert.All(p.Data(0, 32), b => Assert.Equal(0xEE, b));
    }

    // --- v2 sub-page and transitive grants -------------------------------------------------

    [Fact]
    public void A_v2_sub_page_grant_allows_copies_only_inside_its_window()
    {
        using var p = new Pair(2);
        p.Grant(9, Gnt.PermitAccess | Gnt.SubPage, pageOff: 1000, length: 200);
        Assert.Equal(Gnt.Okay, p.CopyFrom(9, srcOffset: 1000, len: 200));
        Assert.Equal(Pattern(1000, 200), p.Local(0, 200));
        Assert.Equal(Gnt.Okay, p.CopyTo(9, dstOffset: 1100, len: 100));
        Assert.Equal(Gnt.GeneralError, p.CopyFrom(9, srcOffset: 999, len: 10));
        Assert.Equal(Gnt.GeneralError, p.CopyFrom(9, srcOffset: 1150, len: 51));
        Assert.Equal(Gnt.GeneralError, p.CopyTo(9, dstOffset: 0, len: 4096));
        Assert.Equal(Gnt.BadCopyArg, p.CopyTo(9, dstOffset: 4000, len: 200));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 2, 9));

        // A window reaching past the page only grants what is inside the page.
        p.Grant(10, Gnt.PermitAccess | Gnt.SubPage, pageOff: 4000, length: 65535);
        Assert.Equal(Gnt.Okay, p.CopyFrom(10, srcOffset: 4000, len: 96));
        Assert.Equal(Gnt.BadCopyArg, p.CopyFrom(10, srcOffset: 4000, len: 97));
    }

    [Fact]
    public void A_v2_transitive_grant_is_refused()
    {
        using var p = new Pair(2);
        Gnt.Grant(p.Granter, 2, 4, Gnt.Transitive, p.CallerId, frame: 5, pageOff: p.CallerId);
        Assert.Equal(Gnt.GeneralError, p.CopyFrom(4));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 2, 4));
    }

    [Fact]
    public void The_v2_in_use_bits_live_in_the_status_frame_not_the_entry()
    {
        using var p = new Pair(2);
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.Granter.Grants.TryMap(p.Caller.Id, 5, writable: true, out var m));
        Assert.Equal((ushort)(Gnt.Reading | Gnt.Writing), Gnt.InUse(p.Granter, 2, 5));
        Assert.Equal((ushort)Gnt.PermitAccess, Gnt.Peek<ushort>(p.Granter, Gnt.TableGpa + 5 * 16));
        // A copy by the same grantee shares the pin, and leaves the mapping's bits alone.
        Assert.Equal(Gnt.Okay, p.CopyFrom(5));
        Assert.Equal((ushort)(Gnt.Reading | Gnt.Writing), Gnt.InUse(p.Granter, 2, 5));
        m!.Dispose();
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 2, 5));
    }

    // --- batches ------------------------------------------------------------------------------

    [Fact]
    public void A_batch_sets_each_status_independently()
    {
        using var p = new Pair(1);
        p.Grant(1, Gnt.PermitAccess);
        p.Grant(2, Gnt.PermitAccess | Gnt.ReadOnly);
        var c = p.Caller;
        ulong a = Arg;
        Gnt.WriteCopy(c, a, new(1, p.GranterId, 0), new(LocalGfn, Gnt.Self, 0), 16, Gnt.SourceGref);             // ok
        Gnt.WriteCopy(c, a + 40, new(LocalGfn, Gnt.Self, 0), new(2, p.GranterId, 0), 16, Gnt.DestGref);           // read-only dest
        Gnt.WriteCopy(c, a + 80, new(3, 42, 0), new(LocalGfn, Gnt.Self, 0), 16, Gnt.SourceGref);                  // bad domain
        Gnt.WriteCopy(c, a + 120, new(2, p.GranterId, 100), new(LocalGfn, Gnt.Self, 4090), 16, Gnt.SourceGref);   // bad copy arg
        Gnt.WriteCopy(c, a + 160, new(2, p.GranterId, 200), new(LocalGfn, Gnt.Self, 200), 16, Gnt.SourceGref);    // ok
        Gnt.WriteCopy(c, a + 200, new(600, p.GranterId, 0), new(LocalGfn, Gnt.Self, 0), 16, Gnt.SourceGref);      // bad gntref
        Assert.Equal(0, Gnt.Call(c, Gnt.Copy, a, 6));
        Assert.Equal(new short[] { Gnt.Okay, Gnt.GeneralError, Gnt.BadDomain, Gnt.BadCopyArg, Gnt.Okay, Gnt.BadGntref },
                     Enumerable.Range(0, 6).Select(i => Gnt.CopyStatus(c, a + (ulong)(40 * i))).ToArray());
        Assert.Equal(Pattern(0, 16), p.Local(0, 16));
        Assert.Equal(Pattern(200, 16), p.Local(200, 16));
        Assert.Equal(0x5A5A, (ushort)Gnt.Peek<short>(c, a + 38)); // padding after status untouched
    }

    [Fact]
    public void A_batch_running_out_of_guest_memory_stops_with_efault_after_the_earlier_ops()
    {
        using var p = new Pair(1);
        p.Grant(1, Gnt.PermitAccess);
        var c = p.Caller;
        ulong a = TestDomain.RamSize - 40;
        Gnt.WriteCopy(c, a, new(1, p.GranterId, 0), new(LocalGfn, Gnt.Self, 0), 16, Gnt.SourceGref);
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(c, Gnt.Copy, a, 2));
        Assert.Equal(Gnt.Okay, Gnt.CopyStatus(c, a));
        Assert.Equal(Pattern(0, 16), p.Local(0, 16));
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(c, Gnt.Copy, ulong.MaxValue - 20, 1));
        Assert.Equal(-XenErrno.EFAULT, Gnt.Call(c, Gnt.Copy, ulong.MaxValue - 100, 10));
    }

    [Fact]
    public void A_copy_between_two_grants_of_different_domains()
    {
        using var p = new Pair(1);
        var third = Gnt.AddDomain(p.T, "third");
        Gnt.PlaceTable(third, 2);
        p.Grant(1, Gnt.PermitAccess | Gnt.ReadOnly);
        Gnt.Grant(third, 2, 1, Gnt.PermitAccess, p.CallerId, 0x70);
        var c = p.Caller;
        Gnt.WriteCopy(c, Arg, new(1, p.GranterId, 10), new(1, (ushort)third.Id, 20), 100, Gnt.SourceGref | Gnt.DestGref);
        Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg));
        Assert.Equal(Gnt.Okay, Gnt.CopyStatus(c, Arg));
        Assert.Equal(Pattern(10, 100), Gnt.PeekBytes(third, (0x70UL << 12) + 20, 100));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 1, 1));
        Assert.Equal((ushort)0, Gnt.InUse(third, 2, 1));
    }

    [Fact]
    public void Copies_do_not_allocate()
    {
        using var p = new Pair(2);
        p.Grant(1, Gnt.PermitAccess);
        p.Grant(2, Gnt.PermitAccess | Gnt.SubPage, pageOff: 0, length: 512);
        var c = p.Caller;
        Gnt.WriteCopy(c, Arg, new(1, p.GranterId, 0), new(LocalGfn, Gnt.Self, 0), 4096, Gnt.SourceGref);
        Gnt.WriteCopy(c, Arg + 40, new(LocalGfn, Gnt.Self, 0), new(2, p.GranterId, 0), 512, Gnt.DestGref);
        Gnt.WriteCopy(c, Arg + 80, new(1, 77, 0), new(LocalGfn, Gnt.Self, 0), 8, Gnt.SourceGref); // bad domain
        for (int i = 0; i < 500; i++) Assert.Equal(0, Gnt.Call(c, Gnt.Copy, Arg, 3));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Gnt.Call(c, Gnt.Copy, Arg, 3);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(Gnt.Okay, Gnt.CopyStatus(c, Arg + 40));
    }

    [Fact]
    public void A_copy_from_a_destroyed_domain_is_bad_domain()
    {
        using var p = new Pair(1);
        p.Grant(1, Gnt.PermitAccess);
        p.Granter.Destroy();
        Assert.Equal(Gnt.BadDomain, p.CopyFrom(1));
    }

    [Fact]
    public async Task A_guest_flipping_its_entry_during_copies_gets_okay_or_general_error_and_no_stuck_flags()
    {
        using var p = new Pair(1);
        p.Grant(5, Gnt.PermitAccess);
        ulong entry = Gnt.TableGpa + 5 * 8;
        using var stop = new CancellationTokenSource();
        var flipper = Task.Run(() =>
        {
            uint good = Gnt.PermitAccess | ((uint)p.CallerId << 16), bad = Gnt.PermitAccess | (9u << 16);
            while (!stop.IsCancellationRequested)
            {
                p.Granter.Memory.TryWrite(entry, good);
                p.Granter.Memory.TryWrite(entry, bad);
            }
        });
        for (int i = 0; i < 2000; i++)
        {
            short s = p.CopyFrom(5, len: 8);
            Assert.True(s is Gnt.Okay or Gnt.GeneralError, $"status {s}");
        }
        stop.Cancel();
        await flipper;
        // Whatever the guest wrote last, no pin is left: a final clean entry shows no in-use bits after a copy.
        p.Grant(5, Gnt.PermitAccess);
        Assert.Equal(Gnt.Okay, p.CopyFrom(5));
        Assert.Equal((ushort)0, Gnt.InUse(p.Granter, 1, 5));
        Assert.Equal(0, Gnt.SetVersionOf(p.Granter, 2)); // nothing is left pinned (else -EBUSY)
    }
}
