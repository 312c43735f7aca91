using System.Diagnostics;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class GrubCollection : ICollectionFixture<XenSharpHost> { public const string Name = "GRUB2 for Xen PVH"; }

/// <summary>
/// Debian's GRUB2 for Xen PVH (package grub-xen-host, grub-i386-xen_pvh.bin) — a guest no one
/// here wrote — boots on XenSharp. ./run-tests downloads and extracts it into .cache/grub-xen/;
/// the disks are ext2 images the tests build with mkfs.ext2 -d. GRUB's built-in configuration
/// searches the guest's disks for /boot/grub/grub.cfg (pvgrub2): XenSharp never reads the
/// guest's disk itself, GRUB does, through the PV block device.
/// </summary>
[Collection(GrubCollection.Name)]
public sealed class GrubTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);

    /// <summary>The GRUB image ./run-tests fetched; the test fails saying how to fetch it when it is missing.</summary>
    private static string GrubImage()
    {
        string path = Path.Combine(XenSharpHost.RepoRoot, ".cache", "grub-xen", "grub-i386-xen_pvh.bin");
        Assert.True(File.Exists(path), $"{path} is missing: ./run-tests downloads it with `apt-get download grub-xen-host` and extracts it");
        return path;
    }

    /// <summary>An ext2 image of 8 MiB holding <paramref name="files"/> (path → contents).</summary>
    private string Ext2Disk(string name, IReadOnlyDictionary<string, byte[]> files)
    {
        string root = Path.Combine(Host.StateDir, $"{name}-root-{Guid.NewGuid():N}");
        foreach (var (path, bytes) in files)
        {
            string full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }
        string image = Path.Combine(Host.StateDir, $"{name}-{Guid.NewGuid():N}.img");
        var psi = new ProcessStartInfo("mkfs.ext2", ["-q", "-F", "-d", root, image, "8M"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var mkfs = Process.Start(psi)!;
        string err = mkfs.StandardError.ReadToEnd();
        mkfs.WaitForExit();
        Assert.True(mkfs.ExitCode == 0, $"mkfs.ext2 failed: {err}");
        return image;
    }

    private static byte[] Text(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    private XlResult Boot(string name, string disk, string extra = "")
    {
        string cfg = Host.WriteConfig(name, $"""
            name = "{name}"
            type = "pvh"
            kernel = "{GrubImage()}"
            memory = 64
            on_poweroff = "destroy"
            on_crash = "destroy"
            disk = [ 'format=raw, vdev=xvda, access=rw, target={disk}' ]
            {extra}
            """);
        return Host.Xl(BootTimeout, "create", "-c", cfg);
    }

    [Fact]
    public void Grub_shows_the_menu_from_the_disks_grub_cfg_runs_the_entry_that_cats_a_file_and_halts()
    {
        string disk = Ext2Disk("grub-menu", new Dictionary<string, byte[]>
        {
            ["boot/grub/grub.cfg"] = Text("""
                set timeout=1
                menuentry 'XenSharp scripted entry' {
                  echo 'reading the file from the disk'
                  cat /etc/motd-from-disk.txt
                  halt
                }
                menuentry 'A second entry never chosen' {
                  echo 'must not run'
                }
                """),
            ["etc/motd-from-disk.txt"] = Text("the quick brown fox read through blkfront\n"),
        });

        var run = Boot("grub-menu", disk);

        run.AssertSuccess(); // halt = SCHEDOP_shutdown(poweroff): xl create -c returns 0
        Assert.Contains("Reading (xen/xvda)/boot/grub/grub.cfg", run.Stdout);       // GRUB's own config found ours
        Assert.Contains("XenSharp scripted entry", run.Stdout);                       // the menu, from grub.cfg
        Assert.Contains("A second entry never chosen", run.Stdout);
        Assert.Contains("Booting `XenSharp scripted entry'", run.Stdout);
        Assert.Contains("the quick brown fox read through blkfront", run.Stdout);     // cat of a file on the disk
        Assert.DoesNotContain("must not run", run.Stdout);
        string dmesg = Host.Xl("dmesg").AssertSuccess().Stdout;
        Assert.Contains("shutdown: poweroff", dmesg);
        Assert.Contains("connected (x86_32-abi", dmesg);                              // GRUB's blkfront negotiated
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Pvgrub2_boots_the_kernel_the_guests_own_grub_cfg_names()
    {
        string disk = Ext2Disk("pvgrub", new Dictionary<string, byte[]>
        {
            ["boot/grub/grub.cfg"] = Text("""
                set timeout=0
                menuentry 'guest kernel from its own disk' {
                  multiboot /boot/pvgrub-hello.elf console=pv from-the-guest-disk
                  boot
                }
                """),
            ["boot/pvgrub-hello.elf"] = File.ReadAllBytes(XenSharpHost.Guest("pvgrub-hello")),
        });

        var run = Boot("pvgrub", disk);

        run.AssertSuccess();
        Assert.Contains("XenSharp pvgrub2 guest: booted by GRUB (multiboot magic 0x2badb002), cmdline \"console=pv from-the-guest-disk\"", run.Stdout);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void Grub_finds_no_grub_cfg_on_an_empty_disk_and_the_domain_can_be_destroyed()
    {
        string disk = Ext2Disk("grub-empty", new Dictionary<string, byte[]> { ["readme.txt"] = Text("no grub.cfg here\n") });
        string cfg = Host.WriteConfig("grub-empty", $"""
            name = "grub-empty"
            type = "pvh"
            kernel = "{GrubImage()}"
            memory = 64
            disk = [ '{disk},raw,xvda,rw' ]
            """);
        using var console = Host.StartXl("create", "-c", cfg);
        // GRUB searched the disk, found no grub.cfg, and fell back to its command line.
        console.WaitForStdout("error: no such device: /boot/grub/grub.cfg", BootTimeout);
        console.WaitForStdout("Minimal BASH-like line editing is supported", BootTimeout);
        Host.Xl("destroy", "grub-empty").AssertSuccess();
        Assert.True(console.WaitForExit(TimeSpan.FromSeconds(30)), "xl create -c did not return after destroy");
        Host.AssertOnlyDomain0();
    }
}
