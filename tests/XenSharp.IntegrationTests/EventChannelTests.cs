using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class EventChannelCollection : ICollectionFixture<XenSharpHost> { public const string Name = "event channel guests"; }

/// <summary>
/// guests/build/evtchn-pingpong.elf: two domains that meet through XenStore (as split drivers
/// do) and exchange events over an interdomain channel; guests/build/virq-ticks.elf: the
/// periodic timer raising VIRQ_TIMER.
/// </summary>
[Collection(EventChannelCollection.Name)]
public sealed class EventChannelTests(XenSharpHost host) : XlTestBase(host)
{
    private const int Rounds = 10_000;

    [Fact]
    public void TwoDomains_ExchangeTenThousandEvents_NoneLostOrDuplicated()
    {
        using var group = GuestGroup.CreatePaused(Host,
            ("ping", Host.WritePvhConfig("ping", XenSharpHost.Guest("evtchn-pingpong"), memoryMiB: 32,
                extra: $"cmdline = \"role=ping rounds={Rounds}\"")),
            ("pong", Host.WritePvhConfig("pong", XenSharpHost.Guest("evtchn-pingpong"), memoryMiB: 32,
                extra: $"cmdline = \"role=pong rounds={Rounds}\"")));
        group.LinkPeers("ping", "pong");
        group.UnpauseAll();

        var ping = group.WaitForEnd("ping", GuestGroup.RunTimeout);
        var pong = group.WaitForEnd("pong", GuestGroup.RunTimeout);

        foreach (var r in new[] { ping, pong })
        {
            r.AssertPassed("evtchn-pingpong", minPassed: 20);
            Assert.True(r.Info("received") == Rounds.ToString(CultureInfo.InvariantCulture),
                $"{r.Name} did not receive exactly {Rounds} events\n{r.Describe()}");
        }
        var rt = Regex.Match(ping.Output, @"^INFO pingpong rounds=(\d+) ns=(\d+)\r?$", RegexOptions.Multiline);
        Assert.True(rt.Success, "ping printed no `INFO pingpong rounds=N ns=T` line\n" + ping.Describe());
        Assert.Equal(Rounds.ToString(CultureInfo.InvariantCulture), rt.Groups[1].Value);
        Assert.True(long.Parse(rt.Groups[2].Value, CultureInfo.InvariantCulture) > 0, "elapsed time 0\n" + ping.Describe());
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void PeriodicTimer_Raises50Ticks_AndStops()
    {
        string cfg = Host.WritePvhConfig("virq-ticks", XenSharpHost.Guest("virq-ticks"), memoryMiB: 32);

        var r = Host.Xl(GuestGroup.RunTimeout, "create", "-c", cfg);

        var result = new GuestRunResult("virq-ticks", -1, r.ExitCode, r.Stdout, r.Stderr, Host);
        result.AssertPassed("virq-ticks", minPassed: 13);
        Assert.Contains("INFO 50 ticks in ", r.Stdout);
        Host.AssertOnlyDomain0();
    }
}

/// <summary>
/// Several guests created paused (`xl create -p`), each with an `xl console` attached (the
/// console keeps what the guest printed before the attach), wired together through XenStore
/// by dom0 and then unpaused together.
/// </summary>
internal sealed class GuestGroup : IDisposable
{
    /// <summary>How long a group of guests may run.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    private readonly XenSharpHost _host;
    private readonly Dictionary<string, (int Id, XlProcess Console)> _guests = new();
    private string? _xenstoreSocket;

    private GuestGroup(XenSharpHost host) => _host = host;

    /// <summary>Creates each (name, config) paused and attaches its console.</summary>
    public static GuestGroup CreatePaused(XenSharpHost host, params (string Name, string Config)[] guests)
    {
        var group = new GuestGroup(host);
        try
        {
            foreach (var (name, cfg) in guests) group.AddPaused(name, cfg);
        }
        catch
        {
            group.Dispose();
            throw;
        }
        return group;
    }

    /// <summary>Creates one more guest paused and attaches its console; returns its domain id.</summary>
    public int AddPaused(string name, string config)
    {
        _host.Xl("create", "-p", config).AssertSuccess();
        int id = _host.List().Single(d => d.Name == name).Id;
        _guests[name] = (id, _host.StartXl("console", name));
        return id;
    }

    public int Id(string name) => _guests[name].Id;

    /// <summary>Tells each of the two domains the other's id: /local/domain/ID/data/peer, written by dom0.</summary>
    public void LinkPeers(string a, string b)
    {
        WritePeer(Id(a), Id(b));
        WritePeer(Id(b), Id(a));
    }

    private void WritePeer(int domid, int peer)
    {
        string node = $"/local/domain/{domid}/data/peer";
        XenStoreTool("xenstore-write", node, peer.ToString(CultureInfo.InvariantCulture));
        // Owned by dom0 and readable by the guest, as libxl writes the toolstack's nodes.
        XenStoreTool("xenstore-chmod", node, "n0", $"r{domid}");
    }

    /// <summary>Runs one of Debian's xenstore-utils against this daemon's xenstored; fails the test if it fails.</summary>
    public void XenStoreTool(string tool, params string[] args)
    {
        string? path = XenStoreTests.FindOnPath(tool);
        Assert.True(path is not null, $"{tool} is not installed (./run-tests installs Debian's xenstore-utils)");
        _xenstoreSocket ??= ReadXenStoreSocket();
        var psi = new ProcessStartInfo(path!)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XENSTORED_PATH"] = _xenstoreSocket;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), $"`{tool} {string.Join(' ', args)}` did not finish within 30 s");
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"`{tool} {string.Join(' ', args)}` exited {p.ExitCode}\n{stdout.Result}\n{stderr.Result}");
    }

    private string ReadXenStoreSocket()
    {
        var info = _host.Xl("info").AssertSuccess();
        var m = info.StdoutLines.Select(l => Regex.Match(l, @"^xenstore_socket\s*: (.+)$")).FirstOrDefault(m => m.Success);
        Assert.True(m is not null, "`xl info` printed no xenstore_socket line\n" + info.Describe());
        return m.Groups[1].Value.Trim();
    }

    public void UnpauseAll()
    {
        foreach (var name in _guests.Keys) _host.Xl("unpause", name).AssertSuccess();
    }

    /// <summary>Waits until the guest's console shows <paramref name="text"/>.</summary>
    public void WaitForOutput(string name, string text, TimeSpan timeout) => _guests[name].Console.WaitForStdout(text, timeout);

    /// <summary>Waits for the guest to end; its console output and how `xl console` exited.</summary>
    public GuestRunResult WaitForEnd(string name, TimeSpan timeout)
    {
        var (id, console) = _guests[name];
        if (!console.WaitForExit(timeout))
            Assert.Fail($"{name} (domain {id}) did not end within {timeout.TotalSeconds:0} s\n--- console ---\n{console.Stdout}\n" +
                        $"--- stderr ---\n{console.Stderr}\n--- xl list ---\n{_host.Xl("list").Stdout}\n--- daemon log (tail) ---\n{_host.DaemonLogTail()}");
        return new GuestRunResult(name, id, console.ExitCode, console.Stdout, console.Stderr, _host);
    }

    public void Dispose()
    {
        foreach (var (_, console) in _guests.Values) console.Dispose();
    }
}

/// <summary>What one guest printed (PASS/FAIL/INFO lines and its summary) and how it ended.</summary>
internal sealed record GuestRunResult(string Name, int Id, int ExitCode, string Output, string Stderr, XenSharpHost Host)
{
    public IEnumerable<string> Lines => Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);

    /// <summary>The value of an `INFO key=value` line, or null.</summary>
    public string? Info(string key)
    {
        var m = Regex.Match(Output, $@"^INFO {Regex.Escape(key)}=(\S+)\r?$", RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>No FAIL line, a summary "GUEST: P passed, 0 failed" with P at least minPassed, and a poweroff (exit 0).</summary>
    public void AssertPassed(string guest, int minPassed)
    {
        var failed = Lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList();
        Assert.True(failed.Count == 0, $"{Name} reported failures:\n{string.Join('\n', failed)}\n{Describe()}");
        var summary = Regex.Match(Output, $@"^{Regex.Escape(guest)}: (\d+) passed, (\d+) failed\r?$", RegexOptions.Multiline);
        Assert.True(summary.Success, $"{Name} printed no summary line\n{Describe()}");
        Assert.True(summary.Groups[2].Value == "0", $"{Name}: {summary.Value}\n{Describe()}");
        int passed = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(passed >= minPassed, $"{Name}: only {passed} checks passed (expected at least {minPassed})\n{Describe()}");
        Assert.True(ExitCode == 0, $"{Name} did not power off (xl exited {ExitCode})\n{Describe()}");
    }

    public string Describe() =>
        $"--- {Name} (domain {Id}), xl exited {ExitCode} ---\n{Output}\n--- stderr ---\n{Stderr}\n--- daemon log (tail) ---\n{Host.DaemonLogTail(20)}";
}
