using XenSharp.Abi.Arm;
using XenSharp.Boot;
using XenSharp.Boot.Arm64;

namespace XenSharp.Tests.Boot.Arm64;

public class Arm64LayoutTests
{
    private const ulong MiB = 1UL << 20, GiB = 1UL << 30;

    [Theory]
    [InlineData(64UL << 20)]
    [InlineData(512UL << 20)]
    [InlineData(3UL << 30)]
    public void Ram_up_to_3_GiB_is_one_bank_at_1_GiB(ulong ram)
    {
        var layout = Arm64Layout.Create(ram, 1);
        var bank = Assert.Single(layout.RamBanks);
        Assert.Equal(0x40000000UL, bank.Base);
        Assert.Equal(ram, bank.Size);
    }

    [Fact]
    public void Ram_over_3_GiB_spills_into_bank_1_at_8_GiB()
    {
        var layout = Arm64Layout.Create(5 * GiB, 4);
        Assert.Equal(2, layout.RamBanks.Count);
        Assert.Equal((0x40000000UL, 3 * GiB), (layout.RamBanks[0].Base, layout.RamBanks[0].Size));
        Assert.Equal((0x200000000UL, 2 * GiB), (layout.RamBanks[1].Base, layout.RamBanks[1].Size));
    }

    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(4097UL, 1)]
    [InlineData(64UL << 20, 0)]
    [InlineData(64UL << 20, 129)]
    public void Rejects_impossible_domains(ulong ram, int vcpus)
    {
        Assert.Throws<BootException>(() => Arm64Layout.Create(ram, vcpus));
    }

    [Fact]
    public void Rejects_more_ram_than_the_address_space_holds()
    {
        var e = Assert.Throws<BootException>(() => Arm64Layout.Create(ArmGuestLayout.RamMax + 4096, 1));
        Assert.Contains("memory=", e.Message);
    }

    [Theory]
    [InlineData(64UL << 20)]
    [InlineData(1UL << 30)]
    [InlineData(5UL << 30)]
    public void Backed_ranges_never_touch_device_regions_except_the_magic_pages(ulong ram)
    {
        var layout = Arm64Layout.Create(ram, 8);
        foreach (var (gpa, size) in layout.MemoryRanges())
        {
            foreach (var device in Arm64Layout.DeviceRegions)
            {
                if (device.Name == "magic pages")
                    continue;
                Assert.False(device.Overlaps(gpa, size), $"0x{gpa:x}+0x{size:x} overlaps {device.Name}");
            }
        }
        Assert.Contains((ArmGuestLayout.MagicBase, 4 * 4096UL), layout.MemoryRanges());
        Assert.DoesNotContain(layout.MemoryRanges(), r => r.GuestPhysical == ArmGuestLayout.GrantTableBase);
    }

    [Fact]
    public void Device_regions_do_not_overlap_each_other_or_ram()
    {
        var regions = Arm64Layout.DeviceRegions;
        for (int i = 0; i < regions.Count; i++)
        {
            for (int j = i + 1; j < regions.Count; j++)
                Assert.False(regions[i].Overlaps(regions[j].Base, regions[j].Size), $"{regions[i].Name} overlaps {regions[j].Name}");
            Assert.True(regions[i].End <= ArmGuestLayout.Ram0Base, $"{regions[i].Name} reaches into RAM");
        }
    }

    [Fact]
    public void Redistributors_are_128_KiB_apart_and_mpidr_follows_xen()
    {
        Assert.Equal(0x03020000UL, Arm64Layout.RedistributorBase(0));
        Assert.Equal(0x03040000UL, Arm64Layout.RedistributorBase(1));
        Assert.Equal(0x03020000UL + 127 * 0x20000UL, Arm64Layout.RedistributorBase(127));
        Assert.Equal(0x0UL, Arm64Layout.MpidrAffinity(0));
        Assert.Equal(0xFUL, Arm64Layout.MpidrAffinity(15));
        Assert.Equal(0x100UL, Arm64Layout.MpidrAffinity(16));
        Assert.Equal(0x703UL, Arm64Layout.MpidrAffinity(0x73));
    }

    [Fact]
    public void Magic_pages_follow_libxc_order()
    {
        Assert.Equal(0x39000000UL, Arm64Layout.MagicPage(ArmGuestLayout.ConsoleRingPage));
        Assert.Equal(0x39001000UL, Arm64Layout.MagicPage(ArmGuestLayout.XenStoreRingPage));
        Assert.Equal(0x39003000UL, Arm64Layout.MagicPage(ArmGuestLayout.VuartRingPage));
    }

    [Fact]
    public void Modules_go_to_128_MiB_when_bank_0_is_large_enough()
    {
        var layout = Arm64Layout.Create(512 * MiB, 1);
        var p = layout.PlaceModules(0x40200000, 0x41000000, dtbSize: 0x1234, initrdSize: 0x100001);
        Assert.Equal(0x48000000UL, p.InitrdBase);
        Assert.Equal(0x101000UL, p.InitrdSize);
        Assert.Equal(0x48101000UL, p.DtbBase);
        Assert.Equal(0x2000UL, p.DtbSize);
    }

    [Fact]
    public void Modules_go_to_the_top_of_a_small_bank_0()
    {
        var layout = Arm64Layout.Create(64 * MiB, 1);
        var p = layout.PlaceModules(0x40080000, 0x40300000, dtbSize: 0x800, initrdSize: 0);
        Assert.Equal(0x44000000UL - 0x1000, p.DtbBase);
        Assert.Equal(0UL, p.InitrdSize);
        Assert.Equal(p.DtbBase, p.InitrdBase);
    }

    [Fact]
    public void Modules_go_to_the_top_when_the_kernel_reaches_past_128_MiB()
    {
        var layout = Arm64Layout.Create(1 * GiB, 1);
        var p = layout.PlaceModules(0x40000000, 0x48800000, dtbSize: 0x1000, initrdSize: 0x3000);
        Assert.Equal(0x80000000UL - 0x4000, p.InitrdBase);
        Assert.Equal(0x80000000UL - 0x1000, p.DtbBase);
    }

    [Fact]
    public void Modules_go_below_a_kernel_placed_high()
    {
        var layout = Arm64Layout.Create(64 * MiB, 1);
        var p = layout.PlaceModules(0x42000000, 0x44000000, dtbSize: 0x1000, initrdSize: 0x100000);
        Assert.Equal(0x42000000UL - 0x101000, p.InitrdBase);
        Assert.Equal(0x42000000UL - 0x1000, p.DtbBase);
    }

    [Fact]
    public void Modules_that_do_not_fit_are_a_clear_error()
    {
        var layout = Arm64Layout.Create(16 * MiB, 1);
        var e = Assert.Throws<BootException>(() => layout.PlaceModules(0x40080000, 0x40400000, 0x1000, 15 * MiB));
        Assert.Contains("raise memory=", e.Message);
    }

    [Fact]
    public void A_kernel_outside_bank_0_is_rejected()
    {
        var layout = Arm64Layout.Create(16 * MiB, 1);
        Assert.Throws<BootException>(() => layout.PlaceModules(0x3F000000, 0x40100000, 0x1000, 0));
    }
}
