using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>
/// Realistic configuration files, assembled from the examples and key descriptions in
/// xl.cfg(5), parse into the expected domain configuration with no warnings.
/// </summary>
public class XlRealisticConfigTests
{
    private const string PvhGuest = """
        # =====================================================================
        # A PVH Linux guest
        # =====================================================================

        # This configures a PVH rather than PV guest
        type = "pvh"

        # Guest name
        name = "example.pvhlinux"

        # 128-bit UUID for the domain as a hexadecimal number.
        #uuid = "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"

        # Kernel image to boot
        kernel = "/boot/vmlinuz"

        # Ramdisk (optional)
        #ramdisk = "/boot/initrd.gz"

        # Kernel command line options
        extra = "root=/dev/xvda1"

        # Initial memory allocation (MB)
        memory = 512
        maxmem = 1024

        # Number of VCPUS
        vcpus = 4
        maxvcpus = 8
        cpus = "0-3,5,^1"
        cpu_weight = 512
        cap = 0

        on_poweroff = "destroy"
        on_reboot = "restart"
        on_crash = "coredump-restart"

        # Network devices
        vif = [ '' ]

        # Disk Devices
        disk = [ '/dev/zvol/tank/guest-volume,raw,xvda,rw' ]

        # Virtual NUMA
        vnuma = [ ["pnode=0","size=512","vcpus=0-1","vdistances=10,20"],
                  ["pnode=1","size=512","vcpus=2-3","vdistances=20,10"] ]

        channel = [ "connection=socket,path=/var/run/xen/guest.sock,name=org.example.agent" ]
        usbctrl = ["version=1,ports=4", "version=2,ports=8"]
        serial = [ "pty" ]
        nomigrate = 1; max_grant_frames = 64; max_event_channels = 0x3ff
        """;

    private const string HvmGuest = """
        builder = 'hvm'
        name = "win"
        memory = 4096
        vcpus = 2
        vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000', ]
        disk = [
            'phy:/dev/vg/win,hda,w',
            'file:/iso/install.iso,hdc:cdrom,r',
        ]
        boot = "dc"
        sdl = 0
        vnc = 1
        vnclisten = "0.0.0.0"
        vncpasswd = ''
        stdvga = 1
        videoram = 16
        serial = 'pty'
        usb = 1
        usbdevice = [ 'tablet' ]
        viridian = [ "all", "!freq" ]
        cpuid = "host,tm=0,sse3=0"
        smbios = [ "bios_vendor=Xen", 'system_product_name="HVM domU"' ]
        on_crash = 'preserve'
        """;

    [Fact]
    public void A_pvh_guest_parses()
    {
        var config = DomainConfig.FromFile(XlConfigParser.Parse(PvhGuest, "/etc/xen/example.pvhlinux"));

        Assert.Equal("example.pvhlinux", config.Name);
        Assert.Equal(DomainType.Pvh, config.Type);
        Assert.Equal("/boot/vmlinuz", config.Kernel);
        Assert.Null(config.Ramdisk);
        Assert.Null(config.Uuid);
        Assert.Equal("root=/dev/xvda1", config.Cmdline);
        Assert.Equal(512, config.MemoryMiB);
        Assert.Equal(1024, config.MaxMemMiB);
        Assert.Equal(4, config.Vcpus);
        Assert.Equal(8, config.MaxVcpus);
        Assert.Equal(ShutdownAction.CoredumpRestart, config.OnCrash);
        Assert.Empty(config.OtherWarnings());
        Assert.Equal(["vif", "channel", "usbctrl", "serial"],
            config.NotSupportedWarnings().Select(w => w.Split(": ")[1]));
        Assert.Equal(
            ["vif", "vnuma", "channel", "usbctrl", "serial", "nomigrate"],
            config.RawSettings.Keys);
        var disk = Assert.Single(config.Disks);
        Assert.Equal("/dev/zvol/tank/guest-volume", disk.Target);
        Assert.Equal(202 << 8, disk.VirtualDevice);
        Assert.False(disk.ReadOnly);
        Assert.Equal(["cpus", "cpu_weight", "cap"], config.SchedulingKeysSet);
        Assert.Equal(1023, config.MaxEventChannels);
        Assert.Equal(64, config.MaxGrantFrames);
        int line = PvhGuest.Split('\n').ToList().FindIndex(l => l.StartsWith("nomigrate", StringComparison.Ordinal)) + 1;
        Assert.Equal(line, config.RawSettings["nomigrate"].Line);
        var vnuma = Assert.IsType<XlList>(config.RawSettings["vnuma"].Value);
        Assert.Equal(2, vnuma.Count);
        Assert.Equal(new XlString("vdistances=20,10"), Assert.IsType<XlList>(vnuma[1])[3]);
    }

    [Fact]
    public void An_hvm_guest_with_the_legacy_builder_parses()
    {
        var config = DomainConfig.FromFile(XlConfigParser.Parse(HvmGuest, "win.cfg"));

        Assert.Equal(DomainType.Hvm, config.Type);
        Assert.Equal("win", config.Name);
        Assert.Null(config.Kernel);
        Assert.Equal(4096, config.MemoryMiB);
        Assert.Equal(ShutdownAction.Preserve, config.OnCrash);
        Assert.Equal(["win.cfg:1: builder is deprecated; use type = \"hvm\""], config.OtherWarnings());
        Assert.Equal(["/dev/vg/win", "/iso/install.iso"], config.Disks.Select(d => d.Target));
        Assert.Equal([3 << 8, 22 << 8], config.Disks.Select(d => d.VirtualDevice));
        Assert.Equal([DiskDeviceType.Disk, DiskDeviceType.Cdrom], config.Disks.Select(d => d.DeviceType));
        Assert.Equal([false, true], config.Disks.Select(d => d.ReadOnly));
        Assert.Equal(new XlString("system_product_name=\"HVM domU\""), ((XlList)config.RawSettings["smbios"].Value)[1]);
    }
}
