namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class BlockDeviceCollection : ICollectionFixture<XenSharpHost> { public const string Name = "block device guests"; }

/// <summary>
/// guests/build/blkfront-test.elf against XenSharp's block backend: the guest connects to its
/// vbd through xenbus, writes a pattern to a sector, flushes, reads it back, and checks that bad
/// requests fail; the image file holds the pattern afterwards. A read-only disk refuses the
/// write and the file is unchanged. Bad disk configurations fail `xl create` with one line and
/// leave no domain.
/// </summary>
[Collection(BlockDeviceCollection.Name)]
public sealed class BlockDeviceTests(XenSharpHost host) : XlTestBase(host)
{
    private const int Sectors = 2048; // a 1 MiB image

    private string NewImage(string name, byte fill = 0)
    {
        string path = Path.Combine(Host.StateDir, $"{name}-{Guid.NewGuid():N}.img");
        var bytes = new byte[Sectors * 512];
        Array.Fill(bytes, fill);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private GuestRunResult Run(string name, string disk, string cmdline)
    {
        string cfg = Host.WritePvhConfig(name, XenSharpHost.Guest("blkfront-test"), memoryMiB: 32,
            extra: $"disk = [ '{disk}' ]\ncmdline = \"{cmdline}\"");
        var r = Host.Xl(GuestGroup.RunTimeout, "create", "-c", cfg);
        return new GuestRunResult(name, -1, r.ExitCode, r.Stdout, r.Stderr, Host);
    }

    [Fact]
    public void The_guest_writes_a_pattern_through_blkfront_and_the_image_holds_it()
    {
        string image = NewImage("blk-rw");
        const string Pattern = "XenSharp-was-here-0123456789";
        const int Sector = 5;

        var result = Run("blk-rw", $"format=raw, vdev=xvda, access=rw, target={image}", $"pattern={Pattern} sector={Sector}");

        result.AssertPassed("blkfront-test", minPassed: 14);
        Assert.Contains("PASS write-pattern", result.Output);
        Assert.Contains("PASS pattern-matches", result.Output);
        Assert.Contains("PASS read-past-end-refused", result.Output);
        Assert.Contains("PASS bad-grant-refused", result.Output);
        Assert.Contains($"INFO vbd=51712 sectors={Sectors} sector-size=512 mode=w", result.Output);
        var bytes = File.ReadAllBytes(image);
        Assert.Equal(Sectors * 512, bytes.Length);
        Assert.Equal(Pattern, System.Text.Encoding.ASCII.GetString(bytes, Sector * 512, Pattern.Length));
        Assert.All(bytes.AsSpan(Sector * 512 + Pattern.Length, 512 - Pattern.Length).ToArray(), b => Assert.Equal(0, b));
        Assert.All(bytes.AsSpan(0, Sector * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.All(bytes.AsSpan((Sector + 1) * 512).ToArray(), b => Assert.Equal(0, b));
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void The_legacy_syntax_works_too()
    {
        string image = NewImage("blk-legacy");
        var result = Run("blk-legacy", $"file:{image},xvdb,w", "pattern=legacy sector=1");
        result.AssertPassed("blkfront-test", minPassed: 14);
        Assert.Contains("INFO vbd=51728 ", result.Output);
        Assert.Equal("legacy", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(image), 512, 6));
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void A_read_only_disk_refuses_the_write_and_the_file_is_unchanged()
    {
        string image = NewImage("blk-ro", fill: 0x5A);
        var before = File.ReadAllBytes(image);

        var result = Run("blk-ro", $"{image},raw,xvda,ro", "pattern=must-not-land sector=2 ro=1");

        result.AssertPassed("blkfront-test", minPassed: 14);
        Assert.Contains("PASS write-refused", result.Output);
        Assert.Contains("PASS pattern-absent", result.Output);
        Assert.Contains("mode=r", result.Output);
        Assert.Equal(before, File.ReadAllBytes(image));
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void A_missing_image_fails_create_with_one_line_and_leaves_no_domain()
    {
        string missing = Path.Combine(Host.StateDir, "no-such-disk.img");
        string cfg = Host.WritePvhConfig("blk-missing", XenSharpHost.Guest("blkfront-test"),
            extra: $"disk = [ 'format=raw, vdev=xvda, access=rw, target={missing}' ]");

        var r = Host.Xl("create", cfg);

        Assert.NotEqual(0, r.ExitCode);
        var line = Assert.Single(r.ErrorLines);
        Assert.Contains($"{cfg}:", line);
        Assert.Contains($"disk: target {missing} does not exist", line);
        Host.AssertOnlyDomain0();
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public void An_unknown_format_fails_create_with_one_line_and_leaves_no_domain()
    {
        string image = NewImage("blk-qcow");
        string cfg = Host.WritePvhConfig("blk-qcow", XenSharpHost.Guest("blkfront-test"),
            extra: $"disk = [ 'format=qcow2, vdev=xvda, access=rw, target={image}' ]");

        var r = Host.Xl("create", cfg);

        Assert.NotEqual(0, r.ExitCode);
        var line = Assert.Single(r.ErrorLines);
        Assert.Contains($"{cfg}:", line);
        Assert.Contains("unknown format qcow2: XenSharp supports raw", line);
        Host.AssertOnlyDomain0();
    }
}
