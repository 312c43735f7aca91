using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Hypervisor;

/// <summary>memory_op (memory.h): reservation queries, the memory map and placing shared_info.</summary>
public class MemoryOpHypercallTests
{
    private const ulong Arg = TestDomain.Arg, Buf = TestDomain.Buffer;
    private const ushort DomIdSelf = 0x7FF0;
    private const int CurrentReservation = 3, MaximumReservation = 4, AddToPhysmap = 7, MemoryMap = 9;

    private static readonly MemoryMapEntry[] ThreeEntries =
    [
        new(0, 0xC000_0000, 1),
        new(0xFEFF_8000, 0x8000, 2),
        new(0x1_0000_0000, 0x4000_0000, 1),
    ];

    // --- reservations -------------------------------------------------------------------

    [Fact]
    public void Current_and_maximum_reservation_report_the_domains_pages()
    {
        using var t = new TestDomain(currentPages: 512, maxPages: 1024);
        t.Poke(Arg, DomIdSelf);
        Assert.Equal(512, t.Call(HypercallNumber.MemoryOp, CurrentReservation, Arg));
        Assert.Equal(1024, t.Call(HypercallNumber.MemoryOp, MaximumReservation, Arg));
        t.Poke(Arg, (ushort)t.Domain.Id);
        Assert.Equal(512, t.Call(HypercallNumber.MemoryOp, CurrentReservation, Arg, is64: false));
        Assert.Equal(1024, t.Call(HypercallNumber.MemoryOp, MaximumReservation, Arg, is64: false));
    }

    [Fact]
    public void The_command_is_the_low_6_bits_of_cmd()
    {
        using var t = new TestDomain(currentPages: 512);
        t.Poke(Arg, DomIdSelf);
        Assert.Equal(512, t.Call(HypercallNumber.MemoryOp, CurrentReservation | (5 << 6), Arg));
    }

    [Theory]
    [InlineData(CurrentReservation, (ushort)0)]
    [InlineData(MaximumReservation, (ushort)9)]
    public void Another_domains_reservation_gets_eperm(int cmd, ushort domid)
    {
        using var t = new TestDomain();
        t.Poke(Arg, domid);
        Assert.Equal(-XenErrno.EPERM, t.Call(HypercallNumber.MemoryOp, (ulong)cmd, Arg));
    }

    [Theory]
    [InlineData(CurrentReservation)]
    [InlineData(MaximumReservation)]
    public void Reservation_with_a_bad_pointer_gets_efault(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, (ulong)cmd, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, (ulong)cmd, TestDomain.RamSize - 1));
    }

    // --- memory map ---------------------------------------------------------------------

    private static void AssertE820(TestDomain t, ulong buffer, IReadOnlyList<MemoryMapEntry> expected)
    {
        for (int i = 0; i < expected.Count; i++)
        {
            ulong e = buffer + (ulong)(i * 20); // packed: u64 addr, u64 size, u32 type
            Assert.Equal(expected[i].Address, t.Peek<ulong>(e));
            Assert.Equal(expected[i].Size, t.Peek<ulong>(e + 8));
            Assert.Equal(expected[i].Type, t.Peek<uint>(e + 16));
        }
    }

    [Fact]
    public void Memory_map_64bit_fills_the_e820_entries_and_sets_nr_entries()
    {
        using var t = new TestDomain();
        t.Domain.MemoryMap = ThreeEntries;
        t.Fill(Buf, 128 * 20, 0xCC);
        t.Poke(Arg, 128u);         // nr_entries
        t.Poke(Arg + 4, 0xFFFFFFFFu); // padding before the 64-bit handle
        t.Poke(Arg + 8, Buf);      // buffer handle (u64)

        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg));
        Assert.Equal(3u, t.Peek<uint>(Arg));
        AssertE820(t, Buf, ThreeEntries);
        Assert.All(t.Peek(Buf + 60, 64), b => Assert.Equal(0xCC, b)); // nothing past the last entry
    }

    [Fact]
    public void Memory_map_32bit_takes_the_handle_at_offset_4()
    {
        using var t = new TestDomain();
        t.Domain.MemoryMap = ThreeEntries;
        t.Poke(Arg, 3u);                  // nr_entries (exactly enough)
        t.Poke(Arg + 4, (uint)Buf);       // buffer handle (u32)
        t.Poke(Arg + 8, 0xDEADBEEFu);     // whatever follows the 8-byte struct

        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg, is64: false));
        Assert.Equal(3u, t.Peek<uint>(Arg));
        AssertE820(t, Buf, ThreeEntries);
    }

    [Fact]
    public void Memory_map_with_too_few_entries_returns_the_first_ones_as_xen_does()
    {
        using var t = new TestDomain();
        t.Domain.MemoryMap = ThreeEntries;
        t.Fill(Buf, 128, 0xCC);
        t.Poke(Arg, 2u);
        t.Poke(Arg + 8, Buf);
        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg));
        Assert.Equal(2u, t.Peek<uint>(Arg));
        AssertE820(t, Buf, ThreeEntries[..2]);
        Assert.All(t.Peek(Buf + 40, 20), b => Assert.Equal(0xCC, b));
    }

    [Fact]
    public void Memory_map_with_too_few_entries_does_not_overrun_the_guests_buffer()
    {
        using var t = new TestDomain();
        t.Domain.MemoryMap = ThreeEntries;
        t.Fill(Buf, 128, 0xCC);
        t.Poke(Arg, 2u);
        t.Poke(Arg + 8, Buf);
        long rc = t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg);
        Assert.True(rc is 0 or -XenErrno.EINVAL, $"rc {rc}");
        Assert.True(t.Peek<uint>(Arg) <= 2);
        Assert.All(t.Peek(Buf + 40, 20), b => Assert.Equal(0xCC, b)); // the third entry was not written
    }

    [Fact]
    public void Memory_map_with_a_bad_buffer_or_argument_gets_efault()
    {
        using var t = new TestDomain();
        t.Domain.MemoryMap = ThreeEntries;
        t.Poke(Arg, 128u);
        t.Poke(Arg + 8, TestDomain.RamSize - 20); // room for one entry only
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg));
        t.Poke(Arg + 8, TestDomain.Unmapped);
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, MemoryMap, Arg));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, MemoryMap, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, MemoryMap, TestDomain.RamSize - 12));
    }

    // --- add_to_physmap -----------------------------------------------------------------

    private static long AddToPhysmap64(TestDomain t, ushort domid, uint space, ulong idx, ulong gpfn)
    {
        t.Poke(Arg, domid);
        t.Poke(Arg + 2, (ushort)0);  // size
        t.Poke(Arg + 4, space);
        t.Poke(Arg + 8, idx);
        t.Poke(Arg + 16, gpfn);
        return t.Call(HypercallNumber.MemoryOp, AddToPhysmap, Arg);
    }

    private static long AddToPhysmap32(TestDomain t, ushort domid, uint space, uint idx, uint gpfn)
    {
        t.Poke(Arg, domid);
        t.Poke(Arg + 2, (ushort)0);
        t.Poke(Arg + 4, space);
        t.Poke(Arg + 8, idx);
        t.Poke(Arg + 12, gpfn);
        t.Poke(Arg + 16, 0xDEADBEEF_DEADBEEFUL); // not part of a 32-bit guest's struct
        return t.Call(HypercallNumber.MemoryOp, AddToPhysmap, Arg, is64: false);
    }

    private static void AssertFreshSharedInfo(TestDomain t, ulong gpa, int vcpus, bool is32Bit)
    {
        var page = t.Peek(gpa, 4096);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(0, page[i * 64]);                         // evtchn_upcall_pending
            Assert.Equal(i < vcpus ? 1 : 0, page[i * 64 + 1]);     // evtchn_upcall_mask
        }
        for (int i = 0; i < vcpus; i++)
        {
            page[i * 64 + 1] = 0;
            // Each vCPU's vcpu_time_info (at 32) was written: an even, nonzero version and a scale.
            var time = page.AsSpan(i * 64 + 32, 32);
            uint version = BitConverter.ToUInt32(time);
            Assert.True(version != 0 && version % 2 == 0, $"vcpu_info[{i}].time.version {version}");
            Assert.NotEqual(0u, BitConverter.ToUInt32(time[24..]));
            time.Clear();
        }
        // The wallclock was written: an even version and a plausible wc_sec.
        var (ver, sec, nsec, secHi) = XenSharp.Hypervisor.Time.PvClock.WallclockOffsets(is32Bit);
        uint wcVersion = BitConverter.ToUInt32(page, ver);
        Assert.True(wcVersion != 0 && wcVersion % 2 == 0, $"wc_version {wcVersion}");
        Assert.InRange(BitConverter.ToUInt32(page, sec), 1_600_000_000u, uint.MaxValue);
        Array.Clear(page, ver, 12);
        Array.Clear(page, secHi, 4);
        _ = nsec;
        Assert.True(page.AsSpan().IndexOfAnyExcept((byte)0) < 0, "the rest of shared_info starts zeroed");
    }

    [Fact]
    public void Shared_info_64bit_layout_places_the_page_with_upcalls_masked()
    {
        using var t = new TestDomain(vcpus: 3);
        t.Fill(0x30000, 4096, 0xAB);
        Assert.Equal(0, AddToPhysmap64(t, DomIdSelf, 0, 0, 0x30));
        Assert.Equal(0x30000UL, t.Domain.SharedInfoAddress);
        AssertFreshSharedInfo(t, 0x30000, 3, is32Bit: false);
    }

    [Fact]
    public void Shared_info_32bit_layout_places_the_page_with_upcalls_masked()
    {
        using var t = new TestDomain(vcpus: 3);
        t.Fill(0x31000, 4096, 0xAB);
        Assert.Equal(0, AddToPhysmap32(t, (ushort)t.Domain.Id, 0, 0, 0x31));
        Assert.Equal(0x31000UL, t.Domain.SharedInfoAddress);
        AssertFreshSharedInfo(t, 0x31000, 3, is32Bit: true);
    }

    [Theory]
    [InlineData(0x7FFF_0000UL)]              // beyond the 39 physical-address bits
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 52)]
    [InlineData(0xFEE00UL)]                  // the local APIC's page
    [InlineData(0xFEC00UL)]                  // the I/O APIC window
    public void Shared_info_beyond_the_address_width_or_over_the_apic_gets_einval(ulong gpfn)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, AddToPhysmap64(t, DomIdSelf, 0, 0, gpfn));
        Assert.Equal(0UL, t.Domain.SharedInfoAddress);
    }

    [Fact]
    public void Shared_info_in_a_hole_of_the_memory_map_gets_a_page_there_as_grub_places_it()
    {
        using var t = new TestDomain();
        ulong gpfn = TestDomain.RamSize >> 12; // the first frame after RAM: GRUB's choice
        Assert.False(t.Domain.Memory.Contains(gpfn << 12, 4096));
        Assert.Equal(0, AddToPhysmap64(t, DomIdSelf, 0, 0, gpfn));
        Assert.Equal(gpfn << 12, t.Domain.SharedInfoAddress);
        Assert.True(t.Domain.Memory.Contains(gpfn << 12, 4096));
        Assert.False(t.Domain.Memory.Contains((gpfn + 1) << 12, 1)); // one page, no more
        AssertFreshSharedInfo(t, gpfn << 12, 1, is32Bit: false);
    }

    [Fact]
    public void Frames_placed_outside_ram_are_bounded_per_domain()
    {
        using var t = new TestDomain();
        int limit = 2 * t.Domain.Grants.MaxFrames + 8;
        ulong first = (TestDomain.RamSize >> 12) + 16;
        for (int i = 0; i < limit; i++)
            Assert.Equal(0, AddToPhysmap64(t, DomIdSelf, 0, 0, first + (ulong)i));
        Assert.Equal(-XenErrno.EINVAL, AddToPhysmap64(t, DomIdSelf, 0, 0, first + (ulong)limit));
        Assert.False(t.Domain.Memory.Contains((first + (ulong)limit) << 12, 4096));
    }

    [Fact]
    public void Shared_info_with_a_nonzero_index_gets_einval()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, AddToPhysmap64(t, DomIdSelf, 0, 1, 0x30));
        Assert.Equal(0UL, t.Domain.SharedInfoAddress);
    }

    [Fact]
    public void The_gmfn_space_is_not_supported()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EOPNOTSUPP, AddToPhysmap64(t, DomIdSelf, 2u /* XENMAPSPACE_gmfn */, 0, 0x30));
    }

    [Theory]
    [InlineData(99u)]
    [InlineData(0xFFFFFFFFu)]
    public void An_unknown_space_gets_einval(uint space)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, AddToPhysmap64(t, DomIdSelf, space, 0, 0x30));
        Assert.Equal(0UL, t.Domain.SharedInfoAddress);
    }

    [Fact]
    public void Add_to_physmap_for_another_domain_gets_eperm()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EPERM, AddToPhysmap64(t, 0, 0, 0, 0x30));
        Assert.Equal(0UL, t.Domain.SharedInfoAddress);
    }

    [Fact]
    public void Add_to_physmap_with_a_bad_pointer_gets_efault()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, AddToPhysmap, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.MemoryOp, AddToPhysmap, TestDomain.RamSize - 16)); // 24-byte struct
        Assert.Equal(0UL, t.Domain.SharedInfoAddress);
    }

    [Theory]
    [InlineData(63)]
    [InlineData(60)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, t.Call(HypercallNumber.MemoryOp, (ulong)cmd, Arg));
    }
}
