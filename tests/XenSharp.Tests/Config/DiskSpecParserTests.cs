using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>xl.cfg disk entries (xl-disk-configuration(5)) and vdev names (xen-vbd-interface(7)).</summary>
public class DiskSpecParserTests
{
    private static DomainConfig Read(string text) => DomainConfig.FromFile(XlConfigParser.Parse(text, "vm.cfg"));

    private static DiskSpec One(string entry) => Assert.Single(Read($"name = 'vm'\ndisk = [ '{entry}' ]").Disks);

    private static XlConfigException Bad(string entry) =>
        Assert.Throws<XlConfigException>(() => Read($"name = 'vm'\ndisk = [ '{entry}' ]"));

    [Theory]
    [InlineData("format=raw, vdev=xvda, access=rw, target=/img/a.img")]
    [InlineData("/img/a.img,raw,xvda,rw")]
    [InlineData("/img/a.img,,xvda")]
    [InlineData("/img/a.img,raw,xvda,w")]
    [InlineData("vdev=xvda, /img/a.img")]
    [InlineData("file:/img/a.img,xvda,w")]
    [InlineData("phy:/img/a.img,xvda,w")]
    [InlineData("aio:/img/a.img,xvda,rw")]
    [InlineData("tap:aio:/img/a.img,xvda,w")]
    [InlineData("raw:/img/a.img,xvda,w")]
    [InlineData("  /img/a.img , raw , xvda , rw ")]
    [InlineData("/img/a.img,raw,xvda,rw,")]
    [InlineData("backendtype=qdisk, /img/a.img,raw,xvda")]
    [InlineData("backendtype=phy,vdev=xvda,target=/img/a.img")]
    [InlineData("backendtype=tap,devtype=disk,vdev=xvda,target=/img/a.img")]
    public void Every_form_of_a_writable_xvda_reads_the_same(string entry)
    {
        var d = One(entry);
        Assert.Equal("/img/a.img", d.Target);
        Assert.Equal("raw", d.Format);
        Assert.Equal("xvda", d.Vdev);
        Assert.Equal(202 << 8, d.VirtualDevice);
        Assert.False(d.ReadOnly);
        Assert.Equal(DiskDeviceType.Disk, d.DeviceType);
        Assert.Equal("vm.cfg:2", d.Location);
        Assert.Equal(entry, d.Text);
    }

    [Theory]
    [InlineData("/img/a.img,raw,xvdb,ro")]
    [InlineData("/img/a.img,raw,xvdb,r")]
    [InlineData("format=raw, vdev=xvdb, access=ro, target=/img/a.img")]
    [InlineData("file:/img/a.img,xvdb,r")]
    public void Read_only_access(string entry)
    {
        var d = One(entry);
        Assert.True(d.ReadOnly);
        Assert.Equal("r", d.Mode);
        Assert.Equal((202 << 8) | (1 << 4), d.VirtualDevice);
    }

    [Theory]
    [InlineData("/srv/images/image.iso,,hdc,cdrom")]
    [InlineData("/srv/images/image.iso,,hdc,,cdrom")]
    [InlineData("/srv/images/image.iso,raw,hdc,devtype=cdrom")]
    [InlineData("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/srv/images/image.iso")]
    [InlineData("raw:/srv/images/image.iso,hdc:cdrom,ro")]
    public void Cdrom_forms_are_equivalent_and_read_only(string entry)
    {
        var d = One(entry);
        Assert.Equal("/srv/images/image.iso", d.Target);
        Assert.Equal(DiskDeviceType.Cdrom, d.DeviceType);
        Assert.True(d.ReadOnly);
        Assert.Equal(22 << 8, d.VirtualDevice);
    }

    [Fact]
    public void Target_takes_the_rest_of_the_entry_commas_and_spaces_included()
    {
        var d = One("vdev=xvda, target=/img/with,comma and=equals ");
        Assert.Equal("/img/with,comma and=equals ", d.Target);
    }

    [Fact]
    public void Flags_are_read()
    {
        var d = One("/img/a.img,raw,xvda,rw,no-discard,direct-io-safe,untrusted");
        Assert.False(d.Discard);
        Assert.True(d.DirectIoSafe);
        Assert.False(d.Trusted);
        Assert.True(One("/img/a.img,,xvda,discard,trusted").Discard);
    }

    [Fact]
    public void Several_disks_keep_their_order_and_lines()
    {
        var config = Read("name = 'vm'\ndisk = [\n  '/a.img,,xvda',\n  '/b.img,,xvdb,ro',\n]\n");
        Assert.Equal(["/a.img", "/b.img"], config.Disks.Select(d => d.Target));
        Assert.Equal(["vm.cfg:3", "vm.cfg:4"], config.Disks.Select(d => d.Location));
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void Disk_is_no_longer_warned_about_and_shows_in_json()
    {
        var config = Read("name = 'vm'\ndisk = [ '/a.img,raw,xvda,rw' ]");
        Assert.DoesNotContain(config.Warnings, w => w.Contains("disk", StringComparison.Ordinal));
        Assert.Contains("\"format=raw, vdev=xvda, access=rw, devtype=disk, target=/a.img\"", config.ToJson());
    }

    [Theory]
    [InlineData("xvda", (202 << 8) | 0)]
    [InlineData("xvdb", (202 << 8) | (1 << 4))]
    [InlineData("xvdb2", (202 << 8) | (1 << 4) | 2)]
    [InlineData("xvdp", (202 << 8) | (15 << 4))]
    [InlineData("xvdq", (1 << 28) | (16 << 8))]
    [InlineData("xvdz", (1 << 28) | (25 << 8))]
    [InlineData("xvdaa", (1 << 28) | (26 << 8))]
    [InlineData("xvdtq37", (1 << 28) | (536 << 8) | 37)]
    [InlineData("xvda16", (1 << 28) | 16)]
    [InlineData("d0", 202 << 8)]
    [InlineData("d0p0", 202 << 8)]
    [InlineData("d1p2", (202 << 8) | (1 << 4) | 2)]
    [InlineData("d536p37", (1 << 28) | (536 << 8) | 37)]
    [InlineData("hda", 3 << 8)]
    [InlineData("hdb1", (3 << 8) | (1 << 6) | 1)]
    [InlineData("hdc", 22 << 8)]
    [InlineData("hdd63", (22 << 8) | (1 << 6) | 63)]
    [InlineData("sda", 8 << 8)]
    [InlineData("sdb3", (8 << 8) | (1 << 4) | 3)]
    [InlineData("51712", 51712)]
    [InlineData("0xca00", 0xca00)]
    public void Vdev_names_encode_as_xen_vbd_interface_says(string vdev, int expected) =>
        Assert.Equal(expected, DiskSpecVdev.TryEncode(vdev));

    [Theory]
    [InlineData("")]
    [InlineData("xvd")]
    [InlineData("xvdA")]
    [InlineData("xvda01")]
    [InlineData("xvda256")]
    [InlineData("hde")]
    [InlineData("hda64")]
    [InlineData("sdq")]
    [InlineData("sda16")]
    [InlineData("vda")]
    [InlineData("d")]
    [InlineData("dxp1")]
    [InlineData("0")]
    [InlineData("0x")]
    public void Bad_vdev_names_are_refused(string vdev) => Assert.Null(DiskSpecVdev.TryEncode(vdev));

    [Theory]
    [InlineData("format=qcow2, vdev=xvda, target=/a.img", "unknown format qcow2: XenSharp supports raw")]
    [InlineData("/a.img,qcow2,xvda,rw", "unknown format qcow2: XenSharp supports raw")]
    [InlineData("qcow2:/a.img,xvda,w", "unknown format qcow2: XenSharp supports raw")]
    [InlineData("/a.img,vhd,xvda", "unknown format vhd: XenSharp supports raw")]
    [InlineData("/a.img,raw,xvda,rx", "unknown access rx (accepted: ro, r, rw, w)")]
    [InlineData("/a.img,raw,vda", "unknown vdev vda (accepted: xvd")]
    [InlineData("/a.img,raw", "vdev is missing")]
    [InlineData("vdev=xvda", "target is missing")]
    [InlineData("vdev=xvda, devtype=cdrom", "an empty cdrom drive is not supported")]
    [InlineData("/a.img,raw,xvda,rw,devtype=floppy", "unknown devtype floppy (accepted: disk, cdrom)")]
    [InlineData("/a.img,raw,xvda,rw,backendtype=standalone", "unknown backendtype standalone (accepted: phy, qdisk, tap)")]
    [InlineData("/a.img,raw,xvda,rw,backend=driverdom", "driver domains are not supported")]
    [InlineData("/a.img,raw,xvda,rw,script=block-iscsi", "block scripts are not supported")]
    [InlineData("iscsi:iqn.2001-05.com.example,xvda,w", "iscsi: block scripts are not supported")]
    [InlineData("/a.img,raw,xvda,rw,specification=virtio", "specification=virtio is not supported (accepted: xen)")]
    [InlineData("/a.img,raw,xvda,rw,colo", "COLO is not supported")]
    [InlineData("/a.img,raw,xvda,rw,frobnicate=1", "unknown parameter frobnicate (accepted: target, format, vdev, access")]
    [InlineData("/a.img,raw,xvda,rw,extra", "'extra': too many positional parameters")]
    [InlineData("/a.img,raw,xvda,vdev=xvdb", "vdev is given twice")]
    [InlineData("format=raw,/a.img,raw,xvda", "format is given twice")]
    [InlineData("/a.img,raw,xvda,rw,discard,no-discard", "no-discard is given twice or contradicts")]
    [InlineData("/a.img,raw,hdc,rw,cdrom", "a cdrom is read-only")]
    public void Bad_entries_name_the_file_line_entry_and_what_is_accepted(string entry, string what)
    {
        var e = Bad(entry);
        Assert.StartsWith($"vm.cfg:2: disk: '{entry}': ", e.Message);
        Assert.Contains(what, e.Message);
        Assert.Equal("disk", e.Key);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Two_disks_on_the_same_device_are_refused()
    {
        var e = Assert.Throws<XlConfigException>(() => Read("name = 'vm'\ndisk = [ '/a.img,,xvda',\n '/b.img,,d0p0' ]"));
        Assert.Equal("vm.cfg:3: disk: '/b.img,,d0p0': vdev d0p0 is the same device as '/a.img,,xvda' (each disk needs its own vdev)", e.Message);
    }

    [Theory]
    [InlineData("disk = '/a.img,,xvda'")]
    [InlineData("disk = 3")]
    [InlineData("disk = [ [ '/a.img,,xvda' ] ]")]
    public void Disk_must_be_a_list_of_strings(string line)
    {
        var e = Assert.Throws<XlConfigException>(() => Read($"name = 'vm'\n{line}"));
        Assert.StartsWith("vm.cfg:2: disk: ", e.Message);
        Assert.Contains("a list of disk specifications", e.Message);
    }
}
