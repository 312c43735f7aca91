using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using XenSharp.Toolstack.Config;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class XlCommandCollection : ICollectionFixture<XenSharpHost> { public const string Name = "xl commands"; }

/// <summary>
/// xl's smaller commands end to end: pause/unpause, domid/domname, rename, uptime, list -l/-v,
/// vcpu-list, and create -n/-q/-F.
/// </summary>
[Collection(XlCommandCollection.Name)]
public sealed class XlCommandTests(XenSharpHost host) : XlTestBase(host)
{
    private static bool RunningOrBlocked(DomainRow d) => d.State.Contains('r') || d.State.Contains('b');

    private DomainRow CreateSpin(string name, int vcpus = 1)
    {
        Host.Xl("create", Host.WritePvhConfig(name, XenSharpHost.Guest("spin"), vcpus: vcpus)).AssertSuccess();
        var row = Host.List().SingleOrDefault(d => d.Name == name);
        Assert.True(row is not null, $"{name} is not listed after create");
        return row;
    }

    private DomainRow Row(string name) => Host.List().Single(d => d.Name == name);

    [Fact]
    public void Pause_StopsTheGuestWithoutLosingIt_AndUnpauseResumesIt()
    {
        CreateSpin("spin-pause");
        Thread.Sleep(500);

        Host.Xl("pause", "spin-pause").AssertSuccess();
        var paused = Row("spin-pause");
        Assert.True(paused.State == "--p---", $"expected state --p--- after xl pause: {paused.Line}");
        Thread.Sleep(1000);
        var later = Row("spin-pause");
        Assert.True(later.State == "--p---", $"the domain left the paused state by itself: {later.Line}");
        Assert.True(later.CpuSeconds - paused.CpuSeconds <= 0.1,
            $"CPU time grew while paused: {paused.CpuSeconds} -> {later.CpuSeconds}");

        Host.Xl("unpause", "spin-pause").AssertSuccess();
        Thread.Sleep(1500);
        var resumed = Row("spin-pause");
        Assert.True(RunningOrBlocked(resumed), $"expected r or b after xl unpause: {resumed.Line}");
        Assert.True(resumed.CpuSeconds > later.CpuSeconds + 0.5, $"the spinning guest gained no CPU time after unpause: {later.CpuSeconds} -> {resumed.CpuSeconds}");

        Host.Xl("pause", "no-such-domain").AssertExit(1);
        Host.Xl("destroy", "spin-pause").AssertSuccess();
    }

    [Fact]
    public void DestroyingAPausedDomain_RemovesIt()
    {
        CreateSpin("spin-pause-destroy", vcpus: 2);
        Host.Xl("pause", "spin-pause-destroy").AssertSuccess();
        Host.Xl("destroy", "spin-pause-destroy").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void DomidAndDomname_ConvertBothWays_AndFailForUnknownDomains()
    {
        var row = CreateSpin("spin-ids");
        Assert.Equal($"{row.Id}\n", Host.Xl("domid", "spin-ids").AssertSuccess().Stdout);
        Assert.Equal("spin-ids\n", Host.Xl("domname", row.Id.ToString(CultureInfo.InvariantCulture)).AssertSuccess().Stdout);
        Assert.Equal("0\n", Host.Xl("domid", "Domain-0").AssertSuccess().Stdout);
        Assert.Equal("Domain-0\n", Host.Xl("domname", "0").AssertSuccess().Stdout);

        var noName = Host.Xl("domid", "no-such-domain").AssertExit(1);
        Assert.Contains("Can't get domid of domain name 'no-such-domain', maybe this domain does not exist.", noName.Stderr);
        Assert.Equal("", noName.Stdout);
        var noId = Host.Xl("domname", "4242").AssertExit(1);
        Assert.Contains("Can't get domain name of domain id '4242', maybe this domain does not exist.", noId.Stderr);
        Host.Xl("destroy", "spin-ids").AssertSuccess();
    }

    [Fact]
    public void Rename_ChangesTheNameEverywhere_AndRefusesTakenOrInvalidNames()
    {
        var row = CreateSpin("spin-old");
        CreateSpin("spin-other");
        Guid uuid = Guid.Parse(ListLong("spin-old")[0].GetProperty("uuid").GetString()!);

        Host.Xl("rename", "spin-old", "spin-new").AssertSuccess();
        var rows = Host.List();
        Assert.DoesNotContain(rows, d => d.Name == "spin-old");
        Assert.Equal(row.Id, rows.Single(d => d.Name == "spin-new").Id);
        Assert.Equal($"{row.Id}\n", Host.Xl("domid", "spin-new").AssertSuccess().Stdout);
        Assert.Equal("spin-new", XenStoreRead($"/local/domain/{row.Id}/name"));
        Assert.Equal("spin-new", XenStoreRead($"/vm/{uuid}/name"));

        var taken = Host.Xl("rename", "spin-new", "spin-other").AssertExit(1);
        Assert.Contains("already exists", taken.Stderr);
        Assert.Contains("Can't rename domain 'spin-new'.", taken.Stderr);
        Host.Xl("rename", "spin-new", "Domain-0").AssertExit(1);
        Host.Xl("rename", "spin-new", "12345").AssertExit(1);
        Host.Xl("rename", "spin-new", "a/b").AssertExit(1);
        Host.Xl("rename", "no-such-domain", "whatever").AssertExit(1);
        Assert.Equal(row.Id, Host.List().Single(d => d.Name == "spin-new").Id);

        Host.Xl("destroy", "spin-new").AssertSuccess();
        Host.Xl("destroy", "spin-other").AssertSuccess();
    }

    [Fact]
    public void Uptime_PrintsXlsLayout_LongAndShort()
    {
        var row = CreateSpin("spin-up");
        Thread.Sleep(1200);

        var r = Host.Xl("uptime").AssertSuccess();
        var lines = r.StdoutLines.ToList();
        Assert.Equal(string.Format(CultureInfo.InvariantCulture, "{0,-33} {1,4} {2}", "Name", "ID", "Uptime"), lines[0]);
        Assert.Matches(@"^Domain-0 {25}    0 (\d+ days?, )?[ \d]\d:\d\d:\d\d$", lines[1]);
        var m = Regex.Match(lines.Single(l => l.StartsWith("spin-up ", StringComparison.Ordinal)),
            @"^spin-up +(\d+) (?:\d+ days?, )?[ \d](\d):(\d\d):(\d\d)$");
        Assert.True(m.Success, r.Describe());
        Assert.Equal(row.Id.ToString(CultureInfo.InvariantCulture), m.Groups[1].Value);
        int seconds = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) * 3600 + int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) * 60 + int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1, 120);

        var s = Host.Xl("uptime", "-s", "spin-up").AssertSuccess();
        Assert.Matches($@"^ \d\d:\d\d:\d\d up (\d+ days?, )?[ \d]\d:\d\d, spin-up \({row.Id}\)$", s.StdoutLines.Single());

        Host.Xl("uptime", "no-such-domain").AssertExit(1);
        Host.Xl("destroy", "spin-up").AssertSuccess();
    }

    [Fact]
    public void ListLong_PrintsJsonWithTheParsedConfig_AndListVerbose_AddsUuidAndReason()
    {
        string cfg = Host.WritePvhConfig("spin-json", XenSharpHost.Guest("spin"), memoryMiB: 24);
        Host.Xl("create", cfg).AssertSuccess();

        var all = ListLong();
        Assert.Equal("Domain-0", all[0].GetProperty("name").GetString());
        var d = ListLong("spin-json").Single();
        Assert.Equal("spin-json", d.GetProperty("name").GetString());
        Assert.Equal(24, d.GetProperty("memory").GetInt32());
        Assert.Equal(1, d.GetProperty("vcpus").GetInt32());
        Assert.Matches("^[-rbpscd]{6}$", d.GetProperty("state").GetString()!);
        int domid = d.GetProperty("domid").GetInt32();
        var config = d.GetProperty("config");
        Assert.Equal("spin-json", config.GetProperty("name").GetString());
        using (var expected = JsonDocument.Parse(DomainConfig.Load(cfg).ToJson()))
            Assert.Equal(expected.RootElement.GetProperty("memory").GetRawText(), config.GetProperty("memory").GetRawText());

        var v = Host.Xl("list", "-v", "spin-json").AssertSuccess();
        var lines = v.StdoutLines.ToList();
        Assert.Equal("Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            Reason-Code\tSecurity Label", lines[0]);
        Assert.Matches($@"^spin-json +{domid} +24 +1 +[-rbpscd]{{6}} +\d+\.\d {Regex.Escape(d.GetProperty("uuid").GetString()!)} +- +-$", lines[1]);

        Host.Xl("list", "-l", "no-such-domain").AssertExit(1);
        Host.Xl("destroy", "spin-json").AssertSuccess();
    }

    [Fact]
    public void VcpuList_ShowsEveryVcpuInXlsColumns()
    {
        var row = CreateSpin("spin-vcpus", vcpus: 2);
        Thread.Sleep(500);

        var r = Host.Xl("vcpu-list", "spin-vcpus").AssertSuccess();
        var lines = r.StdoutLines.ToList();
        Assert.Equal(string.Format(CultureInfo.InvariantCulture, "{0,-32} {1,5} {2,5} {3,5} {4,5} {5,9} {6}",
            "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)"), lines[0]);
        Assert.Equal(3, lines.Count);
        // vCPU 0 spins (r) on some host CPU; vCPU 1 was never brought up (offline: CPU -, --p).
        Assert.Matches($@"^spin-vcpus {{23}} +{row.Id} +0 +\d+ +r-- +\d+\.\d  all / all$", lines[1]);
        Assert.Matches($@"^spin-vcpus {{23}} +{row.Id} +1 +- +--p +0\.0  all / all$", lines[2]);

        Host.Xl("pause", "spin-vcpus").AssertSuccess();
        var p = Host.Xl("vcpu-list", "spin-vcpus").AssertSuccess().StdoutLines.ToList();
        Assert.Matches(@" 0 +\d+ +--p +\d+\.\d  all / all$", p[1]);

        var everything = Host.Xl("vcpu-list").AssertSuccess().StdoutLines.ToList();
        Assert.Contains(everything, l => l.StartsWith("Domain-0 ", StringComparison.Ordinal));
        Host.Xl("vcpu-list", "no-such-domain").AssertExit(1);
        Host.Xl("destroy", "spin-vcpus").AssertSuccess();
    }

    [Fact]
    public void CreateDryRun_PrintsTheParsedConfig_AndCreatesNothing()
    {
        string cfg = Host.WritePvhConfig("spin-dry", XenSharpHost.Guest("spin"));
        var r = Host.Xl("create", "-n", cfg).AssertSuccess();
        Assert.Equal(DomainConfig.Load(cfg).ToJson().TrimEnd('\n') + "\n", r.Stdout);
        Assert.Contains("Parsing config from ", r.Stderr);
        Host.AssertOnlyDomain0();

        // Errors as for create.
        string bad = Host.WritePvhConfig("spin-dry-bad", "/nonexistent/kernel.elf");
        var e = Host.Xl("create", "-n", bad).AssertExit(1);
        Assert.Contains("no such file", e.Stderr);
        string broken = Host.WriteConfig("broken", "name = \"x\"\nmemory = lots\n");
        Host.Xl("create", "-n", broken).AssertExit(1);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void CreateQuiet_PrintsNothing()
    {
        string cfg = Host.WritePvhConfig("spin-quiet", XenSharpHost.Guest("spin"));
        var r = Host.Xl("create", "-q", cfg).AssertSuccess();
        Assert.Equal("", r.Stdout);
        Assert.Equal("", r.Stderr);
        Assert.Contains(Host.List(), d => d.Name == "spin-quiet");
        Host.Xl("destroy", "spin-quiet").AssertSuccess();
    }

    [Fact]
    public void CreateForeground_WaitsUntilTheDomainIsGone_WithoutItsConsole()
    {
        string demo = File.ReadAllText(XenSharpHost.DemoConfig);
        string cfg = Host.WriteConfig("demo-fg", Regex.Replace(demo, @"^name\s*=.*$", "name = \"demo-fg\"", RegexOptions.Multiline));
        var r = Host.Xl("create", "-F", cfg).AssertSuccess();
        Assert.DoesNotContain("XenSharp demo", r.Stdout);
        Host.AssertOnlyDomain0();

        string spin = Host.WritePvhConfig("spin-fg", XenSharpHost.Guest("spin"));
        using var fg = Host.StartXl("create", "-F", spin);
        XenSharpHost.WaitUntil(() => Host.List().Any(d => d.Name == "spin-fg"), TimeSpan.FromSeconds(30), "spin-fg to be listed");
        Thread.Sleep(500);
        Assert.False(fg.HasExited, "xl create -F returned while its domain still runs\n" + fg.Stderr);
        Host.Xl("destroy", "spin-fg").AssertSuccess();
        Assert.True(fg.WaitForExit(TimeSpan.FromSeconds(30)), "xl create -F did not return after its domain was destroyed");
        Assert.Equal(0, fg.ExitCode);
        Assert.DoesNotContain("spin: running", fg.Stdout);
    }

    private List<JsonElement> ListLong(params string[] domains)
    {
        var r = Host.Xl(["list", "-l", .. domains]).AssertSuccess();
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(JsonValueKind.Array, doc.RootElement.ValueKind);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    /// <summary>Reads one XenStore node over the daemon's xenstored socket (xs_wire READ by hand).</summary>
    private string? XenStoreRead(string path)
    {
        var info = Host.Xl("info").AssertSuccess();
        string socketPath = info.StdoutLines.Select(l => Regex.Match(l, @"^xenstore_socket\s*: (.+)$")).First(m => m.Success).Groups[1].Value.Trim();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        byte[] payload = Encoding.ASCII.GetBytes(path + "\0");
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 2); // XS_READ
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)payload.Length);
        socket.Send([.. header, .. payload]);
        var reply = ReceiveExactly(socket, 16);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(reply);
        var body = ReceiveExactly(socket, (int)BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(12)));
        return type == 2 ? Encoding.UTF8.GetString(body) : null;
    }

    private static byte[] ReceiveExactly(Socket s, int count)
    {
        var buffer = new byte[count];
        for (int got = 0; got < count;)
        {
            int n = s.Receive(buffer, got, count - got, SocketFlags.None);
            if (n == 0) throw new IOException("xenstored closed the connection");
            got += n;
        }
        return buffer;
    }
}
