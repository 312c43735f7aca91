using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>xen_version (version.h): what `uname`-like guest code and Linux's Xen setup read.</summary>
public class XenVersionHypercallTests
{
    private const ulong Buf = TestDomain.Buffer;

    private static long Version(TestDomain t, int cmd, ulong arg, bool is64 = true) =>
        t.Call(HypercallNumber.XenVersion, (ulong)cmd, arg, is64: is64);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Version_is_4_20(bool is64)
    {
        using var t = new TestDomain();
        long v = Version(t, XenVersionOp.Version, 0, is64);
        Assert.Equal(4, v >> 16);
        Assert.Equal(20, v & 0xFFFF);
    }

    [Fact]
    public void Extraversion_is_a_nul_padded_16_byte_string_starting_with_a_dot()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 32, 0xAA);
        Assert.Equal(0, Version(t, XenVersionOp.ExtraVersion, Buf));
        string extra = t.PeekString(Buf, 16);
        Assert.Equal(".0-xensharp", extra);
        Assert.All(t.Peek(Buf + (ulong)extra.Length, 16 - extra.Length), b => Assert.Equal(0, b));
        Assert.All(t.Peek(Buf + 16, 16), b => Assert.Equal(0xAA, b)); // nothing past xen_extraversion_t
    }

    [Fact]
    public void Capabilities_lists_the_hvm_abis_in_a_1024_byte_buffer()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 1024 + 16, 0xAA);
        Assert.Equal(0, Version(t, XenVersionOp.Capabilities, Buf));
        var caps = t.PeekString(Buf, 1024).Split(' ');
        Assert.Contains("hvm-3.0-x86_64", caps);
        Assert.Contains("hvm-3.0-x86_32", caps);
        Assert.Contains("hvm-3.0-x86_32p", caps);
        Assert.All(caps, c => Assert.StartsWith("hvm-3.0-", c));
        Assert.All(t.Peek(Buf + 1024, 16), b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void Changeset_and_command_line_are_nul_terminated_strings()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 1024, 0xAA);
        Assert.Equal(0, Version(t, XenVersionOp.Changeset, Buf));
        Assert.NotEmpty(t.PeekString(Buf, 64));

        t.Fill(Buf, 1024, 0xAA);
        Assert.Equal(0, Version(t, XenVersionOp.CommandLine, Buf));
        Assert.Equal("", t.PeekString(Buf, 1024));
        Assert.All(t.Peek(Buf, 1024), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Compile_info_fields_are_nul_terminated()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 144, 0xAA);
        Assert.Equal(0, Version(t, XenVersionOp.CompileInfo, Buf));
        Assert.NotEmpty(t.PeekString(Buf, 64));          // compiler
        t.PeekString(Buf + 64, 16);                      // compile_by
        t.PeekString(Buf + 80, 32);                      // compile_domain
        t.PeekString(Buf + 112, 32);                     // compile_date
    }

    [Fact]
    public void Get_features_submap_0_describes_a_translated_hvm_guest()
    {
        using var t = new TestDomain();
        t.Poke(Buf, 0u);            // submap_idx
        t.Poke(Buf + 4, 0xFFFFFFFFu);
        Assert.Equal(0, Version(t, XenVersionOp.GetFeatures, Buf));
        Assert.Equal(0u, t.Peek<uint>(Buf));
        uint submap = t.Peek<uint>(Buf + 4);

        static bool Bit(uint map, int n) => (map & (1u << n)) != 0;
        Assert.True(Bit(submap, 0), "XENFEAT_writable_page_tables");
        Assert.True(Bit(submap, 2), "XENFEAT_auto_translated_physmap");
        Assert.True(Bit(submap, 8), "XENFEAT_hvm_callback_vector");
        Assert.True(Bit(submap, 9), "XENFEAT_hvm_safe_pvclock");
        Assert.True(Bit(submap, 16), "XENFEAT_not_direct_mapped");
        Assert.False(Bit(submap, 11), "XENFEAT_dom0");
        Assert.False(Bit(submap, 17), "XENFEAT_direct_mapped");
        Assert.False(Bit(submap, 5), "XENFEAT_mmu_pt_update_preserve_ad (PV only)");
        Assert.False(Bit(submap, 6), "XENFEAT_highmem_assist (PV only)");
        Assert.False(Bit(submap, 7), "XENFEAT_gnttab_map_avail_bits (PV only)");
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(2u)]
    [InlineData(0xFFFFFFFFu)]
    public void Get_features_of_any_other_submap_is_einval(uint submap)
    {
        using var t = new TestDomain();
        t.Poke(Buf, submap);
        t.Poke(Buf + 4, 0x12345678u);
        Assert.Equal(-XenErrno.EINVAL, Version(t, XenVersionOp.GetFeatures, Buf));
        Assert.Equal(0x12345678u, t.Peek<uint>(Buf + 4));
    }

    [Fact]
    public void Pagesize_is_4096()
    {
        using var t = new TestDomain();
        Assert.Equal(4096, Version(t, XenVersionOp.PageSize, 0));
    }

    [Fact]
    public void Pagesize_with_a_non_null_argument_is_einval()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, Version(t, XenVersionOp.PageSize, Buf));
    }

    [Fact]
    public void Guest_handle_is_the_domains_uuid_in_rfc4122_byte_order()
    {
        using var t = new TestDomain();
        Assert.Equal(0, Version(t, XenVersionOp.GuestHandle, Buf));
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), t.Peek(Buf, 16));
    }

    [Fact]
    public void Platform_parameters_write_a_32bit_virt_start_for_32bit_guests()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 8, 0xFF);
        Assert.Equal(0, Version(t, XenVersionOp.PlatformParameters, Buf, is64: false));
        Assert.Equal(0u, t.Peek<uint>(Buf));
        Assert.Equal(0xFFFFFFFFu, t.Peek<uint>(Buf + 4)); // a 32-bit guest's struct ends here
    }

    [Fact]
    public void Platform_parameters_write_a_64bit_virt_start_for_64bit_guests()
    {
        using var t = new TestDomain();
        t.Fill(Buf, 8, 0xFF);
        Assert.Equal(0, Version(t, XenVersionOp.PlatformParameters, Buf));
        Assert.Equal(0UL, t.Peek<ulong>(Buf));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(99)]
    [InlineData(-1)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, Version(t, cmd, Buf));
    }

    [Theory]
    [InlineData(XenVersionOp.ExtraVersion)]
    [InlineData(XenVersionOp.CompileInfo)]
    [InlineData(XenVersionOp.Capabilities)]
    [InlineData(XenVersionOp.Changeset)]
    [InlineData(XenVersionOp.PlatformParameters)]
    [InlineData(XenVersionOp.GetFeatures)]
    [InlineData(XenVersionOp.GuestHandle)]
    [InlineData(XenVersionOp.CommandLine)]
    public void A_pointer_outside_the_guest_gets_efault(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EFAULT, Version(t, cmd, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, Version(t, cmd, 0xFFFF_FFFF_FFFF_FFF8));
    }

    [Theory]
    [InlineData(XenVersionOp.ExtraVersion, 16)]
    [InlineData(XenVersionOp.CompileInfo, 144)]
    [InlineData(XenVersionOp.Capabilities, 1024)]
    [InlineData(XenVersionOp.Changeset, 64)]
    [InlineData(XenVersionOp.GetFeatures, 8)]
    [InlineData(XenVersionOp.GuestHandle, 16)]
    [InlineData(XenVersionOp.CommandLine, 1024)]
    public void A_buffer_straddling_the_end_of_ram_gets_efault_and_nothing_is_written(int cmd, int size)
    {
        using var t = new TestDomain();
        ulong gpa = TestDomain.RamSize - (ulong)size + 4;  // the last 4 bytes hang off the end
        t.Fill(gpa, size - 4, 0xAA);
        if (cmd == XenVersionOp.GetFeatures) t.Poke(gpa, 0u);
        Assert.Equal(-XenErrno.EFAULT, Version(t, cmd, gpa));
        var inside = t.Peek(gpa, size - 4);
        if (cmd == XenVersionOp.GetFeatures) inside = inside[4..];
        Assert.All(inside, b => Assert.Equal(0xAA, b));
    }
}
