using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

/// <summary>Core files: on_crash = "coredump-destroy" and `xl dump-core` (ELF64 ET_CORE, one PT_LOAD per memory region, vCPU notes).</summary>
[Collection(XlCommandCollection.Name)]
public sealed class CoreDumpTests(XenSharpHost host) : XlTestBase(host)
{
    private const ulong MiB = 1 << 20;

    private string DumpDir => Path.Combine(Host.StateDir, "dump");

    /// <summary>Checks the ELF header and program headers; returns the PT_LOAD (p_paddr, p_filesz) list and the number of vCPU notes.</summary>
    private static (List<(ulong, ulong)> Loads, int Notes) ReadCore(string path)
    {
        byte[] f = File.ReadAllBytes(path);
        Assert.True(f.Length >= 64 && f[0] == 0x7f && f[1] == 'E' && f[2] == 'L' && f[3] == 'F', $"{path} is not an ELF file");
        Assert.Equal(2, f[4]); // ELFCLASS64
        Assert.Equal(1, f[5]); // little endian
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(16))); // ET_CORE
        Assert.Equal(62, BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(18))); // EM_X86_64
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(32));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(54));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(56));
        Assert.Equal(56, phentsize);
        var loads = new List<(ulong, ulong)>();
        ulong lastEnd = 0;
        int notes = 0;
        for (int i = 0; i < phnum; i++)
        {
            var p = f.AsSpan((int)phoff + i * phentsize, phentsize);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(p);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(p[32..]);
            Assert.True(offset + filesz <= (ulong)f.Length, $"segment {i} runs past the end of the file");
            if (type == 1)
            {
                Assert.True(paddr >= lastEnd, "PT_LOAD segments are not ascending in guest-physical address");
                lastEnd = paddr + filesz;
                Assert.Equal(filesz, BinaryPrimitives.ReadUInt64LittleEndian(p[40..])); // p_memsz
                Assert.Equal(0UL, offset % 4096);
                loads.Add((paddr, filesz));
            }
            else if (type == 4)
            {
                for (ulong at = offset; at < offset + filesz;)
                {
                    var n = f.AsSpan((int)at);
                    uint namesz = BinaryPrimitives.ReadUInt32LittleEndian(n), descsz = BinaryPrimitives.ReadUInt32LittleEndian(n[4..]);
                    Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(n[8..]));
                    Assert.Equal("XenSharp\0", System.Text.Encoding.ASCII.GetString(n.Slice(12, (int)namesz)));
                    Assert.Equal(192u, descsz);
                    notes++;
                    at += 12 + ((namesz + 3) & ~3u) + descsz;
                }
            }
        }
        return (loads, notes);
    }

    [Fact]
    public void OnCrashCoredumpDestroy_WritesACoreFileOfTheDomainsMemory_AndDestroysIt()
    {
        string cfg = Host.WriteConfig("crash-core", $"""
            name = "crash-core"
            type = "pvh"
            kernel = "{XenSharpHost.Guest("crash")}"
            memory = 16
            on_crash = "coredump-destroy"
            """);
        Host.Xl("create", "-c", cfg).AssertExit(2);
        Assert.DoesNotContain(Host.List(), d => d.Name == "crash-core");

        string dmesg = Host.Xl("dmesg").AssertSuccess().Stdout;
        var m = Regex.Matches(dmesg, @"core dump written to (\S+crash-core-\S+\.core)");
        Assert.True(m.Count > 0, "no \"core dump written to\" line in `xl dmesg`\n" + dmesg);
        string path = m[^1].Groups[1].Value;
        Assert.Equal(Path.GetFullPath(DumpDir), Path.GetDirectoryName(path));
        Assert.True(File.Exists(path), $"{path} does not exist");
        var (loads, notes) = ReadCore(path);
        // The domain's memory: its GuestMemory regions (16 MiB of RAM at 0 and the special pages).
        Assert.Equal(XenSharp.Boot.X86.X86Layout.MemoryRanges(16 * MiB), loads);
        Assert.Equal(1, notes);
        Assert.DoesNotContain("not supported yet", dmesg);
    }

    [Fact]
    public void DumpCore_OfARunningGuest_WritesTheFile_AndTheGuestKeepsRunning()
    {
        Host.Xl("create", Host.WritePvhConfig("spin-core", XenSharpHost.Guest("spin"), memoryMiB: 32, vcpus: 2)).AssertSuccess();
        Thread.Sleep(300);
        string file = Path.Combine(Host.StateDir, "spin-core.core");
        var r = Host.Xl("dump-core", "spin-core", file).AssertSuccess();
        Assert.Equal(file + "\n", r.Stdout);
        var (loads, notes) = ReadCore(file);
        Assert.Equal(XenSharp.Boot.X86.X86Layout.MemoryRanges(32 * MiB), loads);
        Assert.Equal(2, notes);

        var before = Host.List().Single(d => d.Name == "spin-core");
        Assert.True(before.State.Contains('r') || before.State.Contains('b'), $"not running after dump-core: {before.Line}");
        Thread.Sleep(1000);
        var after = Host.List().Single(d => d.Name == "spin-core");
        Assert.True(after.CpuSeconds > before.CpuSeconds, $"the guest gained no CPU time after dump-core: {before.Line} -> {after.Line}");

        // Without a file name: a new file in the dump directory.
        string auto = Host.Xl("dump-core", "spin-core").AssertSuccess().Stdout.Trim();
        Assert.StartsWith(Path.Combine(Path.GetFullPath(DumpDir), "spin-core-"), auto);
        Assert.Equal(XenSharp.Boot.X86.X86Layout.MemoryRanges(32 * MiB), ReadCore(auto).Loads);

        var exists = Host.Xl("dump-core", "spin-core", file).AssertExit(1);
        Assert.Contains("already exists", exists.Stderr);
        Assert.Contains("no such domain", Host.Xl("dump-core", "no-such-domain", file + "2").AssertExit(1).Stderr);
        Host.Xl("destroy", "spin-core").AssertSuccess();
    }
}

/// <summary>`xl mem-set`, `xl mem-max`, `xl vcpu-set` (XenStore nodes) and `xl top -b`.</summary>
[Collection(XlCommandCollection.Name)]
public sealed class XlResourceCommandTests(XenSharpHost host) : XlTestBase(host)
{
    private string XenStoreRead(string path)
    {
        var info = Host.Xl("info").AssertSuccess();
        string socket = info.StdoutLines.Select(l => Regex.Match(l, @"^xenstore_socket\s*: (.+)$")).First(m => m.Success).Groups[1].Value.Trim();
        var psi = new ProcessStartInfo("xenstore-read") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(path);
        psi.Environment["XENSTORED_PATH"] = socket;
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "xenstore-read did not finish");
        Assert.True(p.ExitCode == 0, $"xenstore-read {path} failed: {stderr}");
        return stdout.TrimEnd('\n');
    }

    private int CreateSpin(string name, int memoryMiB = 16, int vcpus = 1, string extra = "")
    {
        Host.Xl("create", Host.WritePvhConfig(name, XenSharpHost.Guest("spin"), memoryMiB, vcpus, extra)).AssertSuccess();
        return Host.List().Single(d => d.Name == name).Id;
    }

    [XenStoreToolsFact]
    public void MemSetAndMemMax_WriteTheXenStoreNodes_AndRefuseATargetAboveTheMaximum()
    {
        int id = CreateSpin("spin-mem", memoryMiB: 32);
        string dom = $"/local/domain/{id}";
        Assert.Equal("32768", XenStoreRead($"{dom}/memory/target"));

        Host.Xl("mem-set", "spin-mem", "20m").AssertSuccess();
        Assert.Equal("20480", XenStoreRead($"{dom}/memory/target"));
        Host.Xl("mem-set", "spin-mem", "16384k").AssertSuccess();
        Assert.Equal("16384", XenStoreRead($"{dom}/memory/target"));
        Host.Xl("mem-set", "spin-mem", "24").AssertSuccess(); // MiB without a suffix
        Assert.Equal("24576", XenStoreRead($"{dom}/memory/target"));

        var above = Host.Xl("mem-set", "spin-mem", "1g").AssertExit(1);
        Assert.Contains("1048576 KiB is above domain", above.Stderr);
        Assert.Contains("maximum of 32768 KiB", above.Stderr);
        Assert.Equal("24576", XenStoreRead($"{dom}/memory/target"));

        Host.Xl("mem-max", "spin-mem", "64m").AssertSuccess();
        Assert.Equal("65536", XenStoreRead($"{dom}/memory/static-max"));
        Host.Xl("mem-set", "spin-mem", "48m").AssertSuccess();
        Assert.Equal("49152", XenStoreRead($"{dom}/memory/target"));
        Assert.Contains("below domain", Host.Xl("mem-max", "spin-mem", "40m").AssertExit(1).Stderr);

        Assert.Contains("invalid memory size: 12q", Host.Xl("mem-set", "spin-mem", "12q").AssertExit(1).Stderr);
        Assert.Contains("invalid memory size: lots", Host.Xl("mem-max", "spin-mem", "lots").AssertExit(1).Stderr);
        Assert.Contains("no such domain", Host.Xl("mem-set", "no-such-domain", "16m").AssertExit(1).Stderr);
        Assert.Contains("usage", Host.Xl("mem-set", "spin-mem").AssertExit(1).Stderr);
        Host.Xl("destroy", "spin-mem").AssertSuccess();
    }

    [XenStoreToolsFact]
    public void VcpuSet_WritesCpuAvailability_WithinMaxvcpus()
    {
        int id = CreateSpin("spin-vcpus", vcpus: 1, extra: "maxvcpus = 3");
        string cpu = $"/local/domain/{id}/cpu";
        Host.Xl("vcpu-set", "spin-vcpus", "3").AssertSuccess();
        Assert.Equal(["online", "online", "online"], Enumerable.Range(0, 3).Select(i => XenStoreRead($"{cpu}/{i}/availability")));
        Host.Xl("vcpu-set", "spin-vcpus", "2").AssertSuccess();
        Assert.Equal(["online", "online", "offline"], Enumerable.Range(0, 3).Select(i => XenStoreRead($"{cpu}/{i}/availability")));
        Assert.Contains("accepted 1..3", Host.Xl("vcpu-set", "spin-vcpus", "4").AssertExit(1).Stderr);
        Assert.Contains("accepted 1..3", Host.Xl("vcpu-set", "spin-vcpus", "0").AssertExit(1).Stderr);
        Host.Xl("vcpu-set", "spin-vcpus", "x").AssertExit(1);
        Host.Xl("destroy", "spin-vcpus").AssertSuccess();
    }

    [Fact]
    public void TopBatch_ListsDomain0AndARunningGuest_WithPlausibleNumbers()
    {
        CreateSpin("spin-top", memoryMiB: 16);
        Thread.Sleep(300);
        var r = Host.Xl("top", "-b", "-i", "2", "-d", "1").AssertSuccess();
        var lines = r.StdoutLines.ToList();
        var headers = lines.Where(l => l.Contains("NAME") && l.Contains("STATE") && l.Contains("CPU(%)") && l.Contains("MAXMEM(k)") && l.Contains("VCPUS")).ToList();
        Assert.True(headers.Count == 2, "expected one header per iteration\n" + r.Describe());
        var row = new Regex(@"^\s*(?<name>\S+)\s+(?<state>[-dsbcpr]{6})\s+(?<sec>\d+)\s+(?<pct>\d+\.\d)\s+(?<mem>\d+)\s+(?<mempct>\d+\.\d)\s+(?<max>\d+)\s+(?<vcpus>\d+)$");
        var second = lines.Skip(lines.LastIndexOf(headers[1]) + 1).Select(l => row.Match(l)).ToList();
        Assert.True(second.All(m => m.Success), "a row is not in the NAME STATE CPU(sec) CPU(%) MEM(k) MEM(%) MAXMEM(k) VCPUS layout\n" + r.Describe());
        Assert.Contains(second, m => m.Groups["name"].Value == "Domain-0");
        var spin = second.Single(m => m.Groups["name"].Value == "spin-top");
        Assert.Equal("16384", spin.Groups["mem"].Value);
        Assert.Equal("16384", spin.Groups["max"].Value);
        Assert.Equal("1", spin.Groups["vcpus"].Value);
        Assert.EndsWith("r", spin.Groups["state"].Value);
        double pct = double.Parse(spin.Groups["pct"].Value, CultureInfo.InvariantCulture);
        Assert.True(pct is > 30 and <= 110, $"a spinning 1-vCPU guest should show about 100 CPU%: {pct}\n" + r.Describe());
        Assert.True(r.Elapsed >= TimeSpan.FromSeconds(1), "xl top -i 2 -d 1 did not wait between iterations");

        Assert.Contains("iterations", Host.Xl("top", "-b", "-i", "0").AssertExit(1).Stderr);
        Host.Xl("destroy", "spin-top").AssertSuccess();
    }
}
