using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class XenStoreCollection : ICollectionFixture<XenSharpHost> { public const string Name = "xenstored"; }

/// <summary>
/// A test that drives Debian's xenstore-utils (xenstore-read, xenstore-ls, ...); skipped with a
/// message saying what to install when they are not on PATH.
/// </summary>
public sealed class XenStoreToolsFactAttribute : FactAttribute
{
    public XenStoreToolsFactAttribute()
    {
        if (XenStoreTests.FindOnPath("xenstore-ls") is null)
            Skip = "xenstore-ls is not on PATH: install Debian's xenstore-utils (run-tests does) to run the xenstored client tests";
    }
}

/// <summary>
/// The daemon's xenstored socket (`xl info` → xenstore_socket) driven by the real C clients from
/// Debian's xenstore-utils with XENSTORED_PATH set, by raw sockets speaking the wire protocol
/// (no XenSharp code on the client side), and the nodes the toolstack writes for a running guest.
/// </summary>
[Collection(XenStoreCollection.Name)]
public sealed class XenStoreTests(XenSharpHost host) : XlTestBase(host)
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);
    private string? _socket;

    /// <summary>The xenstored socket of this collection's daemon (starting it if needed).</summary>
    private string XsSocket => _socket ??= ReadSocketPath();

    private string ReadSocketPath()
    {
        var info = Host.Xl("info").AssertSuccess();
        var m = info.StdoutLines.Select(l => Regex.Match(l, @"^xenstore_socket\s*: (.+)$")).FirstOrDefault(m => m.Success);
        Assert.True(m is not null, "`xl info` printed no xenstore_socket line\n" + info.Describe());
        string path = m.Groups[1].Value.Trim();
        XenSharpHost.WaitUntil(() => File.Exists(path), TimeSpan.FromSeconds(10), $"the xenstored socket {path}");
        return path;
    }

    // ---------------------------------------------------------------- xenstore-utils

    [XenStoreToolsFact]
    public void WriteAndRead_SeveralKeys_IncludingAValueWithSpaces()
    {
        Tool("xenstore-write", "/t/rw/a", "1", "/t/rw/b", "hello world", "/t/rw/c", "").AssertSuccess();

        var r = Tool("xenstore-read", "/t/rw/a", "/t/rw/b", "/t/rw/c").AssertSuccess();
        Assert.Equal("1\nhello world\n\n", r.Stdout);

        Assert.Equal("hello world\n", Tool("xenstore-read", "/t/rw/b").AssertSuccess().Stdout);

        // Overwriting replaces the value.
        Tool("xenstore-write", "/t/rw/a", "two  spaces  inside").AssertSuccess();
        Assert.Equal("two  spaces  inside\n", Tool("xenstore-read", "/t/rw/a").AssertSuccess().Stdout);
    }

    [XenStoreToolsFact]
    public void Ls_OfASubtree_ShowsKeyEqualsQuotedValueLines()
    {
        Tool("xenstore-write", "/t/ls/x", "1", "/t/ls/sub/y", "two words", "/t/ls/sub/z", "").AssertSuccess();

        var r = Tool("xenstore-ls", "/t/ls").AssertSuccess();

        // Children in creation order, one space of indent per level.
        Assert.Equal(["x = \"1\"", "sub = \"\"", " y = \"two words\"", " z = \"\""], r.StdoutLines);
    }

    [XenStoreToolsFact]
    public void List_PrintsTheChildrenOneALine()
    {
        Tool("xenstore-write", "/t/list/one", "1", "/t/list/two", "2", "/t/list/three/deep", "3").AssertSuccess();

        Assert.Equal(["one", "two", "three"], Tool("xenstore-list", "/t/list").AssertSuccess().StdoutLines);
        Assert.Equal(["deep"], Tool("xenstore-list", "/t/list/three").AssertSuccess().StdoutLines);
        Assert.Empty(Tool("xenstore-list", "/t/list/one").AssertSuccess().StdoutLines);
        Assert.NotEqual(0, Tool("xenstore-list", "/t/list/missing").ExitCode);
    }

    [XenStoreToolsFact]
    public void Exists_ExitsZeroForANodeAndNonZeroForAMissingOne()
    {
        Tool("xenstore-write", "/t/ex/here", "yes").AssertSuccess();

        Assert.Equal(0, Tool("xenstore-exists", "/t/ex/here").ExitCode);
        Assert.Equal(0, Tool("xenstore-exists", "/t/ex").ExitCode);
        Assert.NotEqual(0, Tool("xenstore-exists", "/t/ex/missing").ExitCode);
        Assert.NotEqual(0, Tool("xenstore-exists", "/t/no/such/parent").ExitCode);
    }

    [XenStoreToolsFact]
    public void Rm_ThenReadFails()
    {
        Tool("xenstore-write", "/t/rm/gone/child", "c", "/t/rm/kept", "k").AssertSuccess();

        Tool("xenstore-rm", "/t/rm/gone").AssertSuccess();

        var read = Tool("xenstore-read", "/t/rm/gone");
        Assert.True(read.ExitCode != 0, "reading a removed node should fail\n" + read.Describe());
        Assert.NotEqual(0, Tool("xenstore-read", "/t/rm/gone/child").ExitCode); // the subtree went with it
        Assert.NotEqual(0, Tool("xenstore-exists", "/t/rm/gone").ExitCode);
        Assert.Equal("k\n", Tool("xenstore-read", "/t/rm/kept").AssertSuccess().Stdout);
        Assert.Equal(["kept"], Tool("xenstore-list", "/t/rm").AssertSuccess().StdoutLines);
    }

    [XenStoreToolsFact]
    public void Chmod_ThenLsMinusP_ShowsThePermissions()
    {
        Tool("xenstore-write", "/t/perm/a", "1", "/t/perm/b", "2").AssertSuccess();
        var before = Tool("xenstore-ls", "-p", "/t/perm").AssertSuccess();
        Assert.Matches(@"^a = ""1"" .*\(n0\)$", before.StdoutLines.First());

        Tool("xenstore-chmod", "/t/perm/a", "n0", "r3").AssertSuccess();
        Tool("xenstore-chmod", "/t/perm/b", "b5", "w1", "n2").AssertSuccess();

        var after = Tool("xenstore-ls", "-p", "/t/perm").AssertSuccess().StdoutLines.ToList();
        Assert.Equal(2, after.Count);
        Assert.Matches(@"^a = ""1"" .*\(n0,r3\)$", after[0]);
        Assert.Matches(@"^b = ""2"" .*\(b5,w1,n2\)$", after[1]);
        // The value is untouched by chmod.
        Assert.Equal("1\n", Tool("xenstore-read", "/t/perm/a").AssertSuccess().Stdout);
    }

    [XenStoreToolsFact]
    public void Watch_PrintsThePathForTheInitialEventAndForAWrite_ThenExits()
    {
        Tool("xenstore-write", "/t/w", "initial").AssertSuccess();
        using var watch = new ToolProcess(StartInfo("xenstore-watch", "-n", "2", "/t/w"));

        // The first event fires as the watch is set up.
        watch.WaitForLines(1, TimeSpan.FromSeconds(20));
        Assert.False(watch.HasExited, "xenstore-watch -n 2 exited after one event\n" + watch.Describe());

        Tool("xenstore-write", "/t/w", "changed").AssertSuccess();

        Assert.True(watch.WaitForExit(TimeSpan.FromSeconds(20)), "xenstore-watch -n 2 did not exit after the second event\n" + watch.Describe());
        Assert.Equal(0, watch.ExitCode);
        Assert.Equal(["/t/w", "/t/w"], watch.StdoutLines);
    }

    [XenStoreToolsFact]
    public void Watch_ReportsAChildPathAndNothingOutsideTheWatchedSubtree()
    {
        Tool("xenstore-write", "/t/ws/a", "0", "/t/other", "0").AssertSuccess();
        using var watch = new ToolProcess(StartInfo("xenstore-watch", "-n", "2", "/t/ws"));
        watch.WaitForLines(1, TimeSpan.FromSeconds(20));

        Tool("xenstore-write", "/t/other", "1").AssertSuccess(); // not under /t/ws: no event
        Tool("xenstore-write", "/t/ws/a", "1").AssertSuccess();

        Assert.True(watch.WaitForExit(TimeSpan.FromSeconds(20)), "xenstore-watch did not exit\n" + watch.Describe());
        Assert.Equal(["/t/ws", "/t/ws/a"], watch.StdoutLines);
    }

    // ---------------------------------------------------------------- the toolstack's nodes

    [XenStoreToolsFact]
    public void RunningGuest_HasItsToolstackNodes_AndTheyGoAwayWithXlDestroy()
    {
        const string name = "xs-spin";
        const string uuid = "6b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b";
        string cfg = Host.WritePvhConfig(name, XenSharpHost.Guest("spin"), extra: $"uuid = \"{uuid}\"");
        Host.Xl("create", cfg).AssertSuccess();
        var row = Host.List().Single(d => d.Name == name);
        string home = $"/local/domain/{row.Id}";

        Assert.Equal(name + "\n", Tool("xenstore-read", $"{home}/name").AssertSuccess().Stdout);
        Assert.Equal($"{row.Id}\n", Tool("xenstore-read", $"{home}/domid").AssertSuccess().Stdout);
        Assert.Equal($"/vm/{uuid}\n", Tool("xenstore-read", $"{home}/vm").AssertSuccess().Stdout);
        Assert.Equal(0, Tool("xenstore-exists", $"/vm/{uuid}").ExitCode);
        Assert.Equal(name + "\n", Tool("xenstore-read", $"/vm/{uuid}/name").AssertSuccess().Stdout);
        Assert.Equal(0, Tool("xenstore-exists", $"{home}/control/shutdown").ExitCode);
        Assert.Equal(0, Tool("xenstore-exists", $"{home}/store/ring-ref").ExitCode);
        Assert.Equal(0, Tool("xenstore-exists", $"{home}/console/port").ExitCode);
        Assert.Contains(row.Id.ToString(), Tool("xenstore-list", "/local/domain").AssertSuccess().StdoutLines);

        // As libxl lays it out: owned by dom0, readable by the guest; control/shutdown the guest's.
        var perms = Tool("xenstore-ls", "-p", home).AssertSuccess().StdoutLines.ToList();
        Assert.Contains(perms, l => Regex.IsMatch(l, $@"^name = ""{name}"" .*\(n0,r{row.Id}\)$"));
        Assert.Contains(perms, l => Regex.IsMatch(l, $@"^ shutdown = """" .*\(n{row.Id}\)$"));

        Host.Xl("destroy", name).AssertSuccess();

        Assert.NotEqual(0, Tool("xenstore-exists", home).ExitCode);
        Assert.NotEqual(0, Tool("xenstore-exists", $"/vm/{uuid}").ExitCode);
        Assert.NotEqual(0, Tool("xenstore-read", $"{home}/name").ExitCode);
        Assert.DoesNotContain(row.Id.ToString(), Tool("xenstore-list", "/local/domain").StdoutLines);
    }

    // ---------------------------------------------------------------- bad input on a raw socket

    [Fact]
    public void OversizedHeader_ClosesThatConnection_OtherClientsWork_StoreUnchanged()
    {
        using (var setup = new RawClient(XsSocket))
            Assert.Equal((RawClient.Write, "OK"), setup.Call(RawClient.Write, RawClient.PathThen("/t/big/keep", "v")));
        var before = Snapshot("/t");

        using var bad = new RawClient(XsSocket);
        using var good = new RawClient(XsSocket);
        // A header announcing 5000 bytes (over XENSTORE_PAYLOAD_MAX), followed by bytes that would
        // be a valid WRITE if the server went on parsing after it.
        var evil = RawClient.Message(RawClient.Write, 7, RawClient.PathThen("/t/big/evil", "x"));
        bad.SendRaw([.. RawClient.Header(RawClient.Write, 1, 5000), .. evil]);

        Assert.True(bad.WaitForClose(TimeSpan.FromSeconds(10)), "the server kept the connection open after a 5000-byte length");

        Assert.Equal((RawClient.Read, "v"), good.Call(RawClient.Read, RawClient.Path("/t/big/keep")));
        using (var third = new RawClient(XsSocket))
            Assert.Equal((RawClient.Read, "v"), third.Call(RawClient.Read, RawClient.Path("/t/big/keep")));
        Assert.Equal(before, Snapshot("/t"));
        Assert.Equal((RawClient.Error, "ENOENT"), good.Call(RawClient.Read, RawClient.Path("/t/big/evil")));
    }

    [Fact]
    public void UnknownMessageType_GetsAnErrorReplyWithENOSYS_AndTheConnectionStaysUsable()
    {
        using var c = new RawClient(XsSocket);

        var (type, reqId, payload) = c.CallRaw(99, 4242, RawClient.Path("/t"));

        Assert.Equal(RawClient.Error, type);
        Assert.Equal(16u, type);
        Assert.Equal(4242u, reqId);
        Assert.Equal("ENOSYS\0", Encoding.ASCII.GetString(payload));
        Assert.Equal(RawClient.Directory, c.Call(RawClient.Directory, RawClient.Path("/")).Type);
    }

    [Fact]
    public void ReadWithoutTheTerminatingNul_GetsAnErrorReply()
    {
        using var c = new RawClient(XsSocket);
        Assert.Equal((RawClient.Write, "OK"), c.Call(RawClient.Write, RawClient.PathThen("/t/nonul", "value")));

        var (type, text) = c.Call(RawClient.Read, Encoding.ASCII.GetBytes("/t/nonul"));

        Assert.Equal(RawClient.Error, type);
        Assert.Equal("EINVAL", text);
        Assert.Equal((RawClient.Read, "value"), c.Call(RawClient.Read, RawClient.Path("/t/nonul")));
    }

    [Fact]
    public void RequestSentOneByteAtATime_IsAnsweredOnce()
    {
        using var c = new RawClient(XsSocket);
        Assert.Equal((RawClient.Write, "OK"), c.Call(RawClient.Write, RawClient.PathThen("/t/bytewise", "ok")));

        foreach (byte b in RawClient.Message(RawClient.Read, 77, RawClient.Path("/t/bytewise")))
        {
            c.SendRaw([b]);
            Thread.Sleep(1);
        }
        var (type, reqId, payload) = c.ReceiveMessage();
        Assert.Equal((RawClient.Read, 77u, "ok"), (type, reqId, Encoding.ASCII.GetString(payload)));
    }

    [Fact]
    public void ClientThatStopsReadingItsWatchEvents_DoesNotStallOthers()
    {
        using var lazy = new RawClient(XsSocket);
        Assert.Equal((RawClient.Watch, "OK"), lazy.Call(RawClient.Watch, Encoding.ASCII.GetBytes("/t/flood\0tok\0")));
        // From here on, lazy never reads again: its events pile up.

        using var writer = new RawClient(XsSocket, receiveTimeoutMs: 5000);
        var clock = Stopwatch.StartNew();
        int done = 0;
        try
        {
            for (; done < 2000; done++)
                Assert.Equal((RawClient.Write, "OK"), writer.Call(RawClient.Write, RawClient.PathThen("/t/flood/x", new string('v', 100))));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            Assert.Fail($"the writer got no reply for 5 s after {done} writes ({clock.Elapsed.TotalSeconds:0.0} s): a client that does not read its watch events blocks the store");
        }
        using var third = new RawClient(XsSocket, receiveTimeoutMs: 5000);
        Assert.Equal(RawClient.Read, third.Call(RawClient.Read, RawClient.Path("/t/flood/x")).Type);
    }

    /// <summary>Every node under <paramref name="path"/> with its value, read over a raw socket.</summary>
    private string Snapshot(string path)
    {
        using var c = new RawClient(XsSocket);
        var sb = new StringBuilder();
        void Walk(string p)
        {
            var (t, value) = c.Call(RawClient.Read, RawClient.Path(p));
            sb.Append(p).Append(" = ").Append(t == RawClient.Error ? "<" + value + ">" : value).Append('\n');
            var (dt, children) = c.Call(RawClient.Directory, RawClient.Path(p));
            Assert.Equal(RawClient.Directory, dt);
            foreach (var child in children.Split('\0', StringSplitOptions.RemoveEmptyEntries))
                Walk(p == "/" ? "/" + child : p + "/" + child);
        }
        Walk(path);
        return sb.ToString();
    }

    // ---------------------------------------------------------------- helpers

    internal static string? FindOnPath(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string full = Path.Combine(dir, program);
            if (File.Exists(full)) return full;
        }
        return null;
    }

    private ProcessStartInfo StartInfo(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Host.StateDir,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XENSTORED_PATH"] = XsSocket;
        return psi;
    }

    /// <summary>Runs one xenstore-utils command to completion against the daemon's socket.</summary>
    private ToolResult Tool(string tool, params string[] args)
    {
        using var p = new ToolProcess(StartInfo(tool, args));
        if (!p.WaitForExit(ToolTimeout))
            Assert.Fail($"`{tool} {string.Join(' ', args)}` did not finish within {ToolTimeout.TotalSeconds:0} s\n{p.Describe()}\n" +
                        $"--- daemon log (tail) ---\n{Host.DaemonLogTail(15)}");
        return new ToolResult($"{tool} {string.Join(' ', args.Select(a => a.Contains(' ') || a.Length == 0 ? $"\"{a}\"" : a))}",
                              p.ExitCode, p.Stdout, p.Stderr);
    }

    private sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
    {
        public IReadOnlyList<string> StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public ToolResult AssertSuccess()
        {
            Assert.True(ExitCode == 0, "expected exit code 0\n" + Describe());
            return this;
        }

        public string Describe() => $"`{Command}` exited {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    /// <summary>A client program whose output is collected as it comes.</summary>
    private sealed class ToolProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private readonly string _command;

        public ToolProcess(ProcessStartInfo psi)
        {
            _command = psi.FileName + " " + string.Join(' ', psi.ArgumentList);
            _process = new Process { StartInfo = psi };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Append(e.Data).Append('\n'); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Append(e.Data).Append('\n'); };
            _process.Start();
            _process.StandardInput.Close();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
        public IReadOnlyList<string> StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public bool HasExited => _process.HasExited;
        public int ExitCode => _process.ExitCode;

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) return false;
            _process.WaitForExit(); // lets the output readers reach EOF
            return true;
        }

        public void WaitForLines(int count, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (StdoutLines.Count < count)
            {
                if (clock.Elapsed > timeout || (_process.HasExited && WaitForExit(TimeSpan.Zero) && StdoutLines.Count < count))
                    Assert.Fail($"`{_command}` did not print {count} line(s)\n{Describe()}");
                Thread.Sleep(20);
            }
        }

        public string Describe() =>
            $"`{_command}` {(_process.HasExited ? $"exited {_process.ExitCode}" : "still running")}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

        public void Dispose()
        {
            try { if (!_process.HasExited) _process.Kill(); _process.WaitForExit(5000); }
            catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }

    /// <summary>
    /// Thousands of random messages (seeded, so a failure can be replayed): random types incl.
    /// unknown ones, random request ids and transaction ids, payloads that are valid paths,
    /// garbage, missing NULs, or lengths that do not match. Xenstored answers or drops the
    /// connection; afterwards a new client is served and the daemon still answers `xl list`.
    /// </summary>
    [Fact]
    public void RandomMessagesOverTheSocket_NeverTakeXenstoredDown()
    {
        var random = new Random(20261125);
        string[] paths = ["/fuzz", "/fuzz/a", "fuzz/b", "/local/domain/0", "/", "@introduceDomain", "//bad", "/fuzz/\u00ff", ""];
        int sent = 0, connections = 0;
        // Keep going on new connections when xenstored drops one (e.g. for a length over 4096),
        // until 3,000 messages went out.
        while (sent < 3000 && connections < 1000)
        {
            connections++;
            using var c = new RawClient(XsSocket, receiveTimeoutMs: 2000);
            for (int i = 0; i < 400 && sent < 3000; i++)
            {
                uint type = random.Next(10) == 0 ? (uint)random.Next(0x10000) : (uint)random.Next(30);
                byte[] payload = random.Next(4) switch
                {
                    0 => RawClient.Path(paths[random.Next(paths.Length)]),
                    1 => RawClient.PathThen(paths[random.Next(paths.Length)], new string('v', random.Next(64))),
                    2 => RandomBytes(random, random.Next(200)),
                    _ => Encoding.ASCII.GetBytes(paths[random.Next(paths.Length)]), // no NUL
                };
                var header = RawClient.Header(type, (uint)random.Next(), random.Next(20) == 0 ? (uint)random.Next(8192) : (uint)payload.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), random.Next(8) == 0 ? (uint)random.Next(5) : 0);
                try
                {
                    c.SendRaw([.. header, .. payload]);
                    sent++;
                }
                catch (SocketException)
                {
                    break; // xenstored dropped this client (e.g. a length over 4096): expected
                }
            }
        }
        Assert.True(sent >= 3000, $"only {sent} messages were sent over {connections} connections");

        using var fresh = new RawClient(XsSocket);
        Assert.Equal((RawClient.Write, "OK"), fresh.Call(RawClient.Write, RawClient.PathThen("/fuzz-check", "alive")));
        Assert.Equal((RawClient.Read, "alive"), fresh.Call(RawClient.Read, RawClient.Path("/fuzz-check")));
        Host.Xl("list").AssertSuccess();
    }

    private static byte[] RandomBytes(Random random, int n)
    {
        var b = new byte[n];
        random.NextBytes(b);
        return b;
    }

    /// <summary>
    /// The xs_wire protocol by hand on a Unix socket: a 16-byte header (type, req_id, tx_id, len;
    /// little endian) and the payload. Nothing of XenSharp's own XenStore code is used here.
    /// </summary>
    private sealed class RawClient : IDisposable
    {
        public const uint Directory = 1, Read = 2, Watch = 4, Write = 11, WatchEvent = 15, Error = 16;

        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private uint _nextId = 1;

        public RawClient(string path, int receiveTimeoutMs = 10_000)
        {
            _socket.Connect(new UnixDomainSocketEndPoint(path));
            _socket.ReceiveTimeout = receiveTimeoutMs;
        }

        public static byte[] Header(uint type, uint reqId, uint length)
        {
            var h = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(h, type);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), reqId);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), 0);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), length);
            return h;
        }

        public static byte[] Message(uint type, uint reqId, byte[] payload) => [.. Header(type, reqId, (uint)payload.Length), .. payload];

        public static byte[] Path(string path) => Encoding.ASCII.GetBytes(path + "\0");

        public static byte[] PathThen(string path, string value) => Encoding.ASCII.GetBytes(path + "\0" + value);

        public void SendRaw(byte[] bytes) => _socket.Send(bytes);

        /// <summary>Sends a request; returns the reply's type and payload text without its trailing NUL.</summary>
        public (uint Type, string Text) Call(uint type, byte[] payload)
        {
            var (t, _, p) = CallRaw(type, _nextId++, payload);
            return (t, Encoding.ASCII.GetString(p).TrimEnd('\0'));
        }

        public (uint Type, uint ReqId, byte[] Payload) CallRaw(uint type, uint reqId, byte[] payload)
        {
            SendRaw(Message(type, reqId, payload));
            var reply = ReceiveMessage();
            while (reply.Type == WatchEvent) reply = ReceiveMessage();
            Assert.Equal(reqId, reply.ReqId);
            return reply;
        }

        public (uint Type, uint ReqId, byte[] Payload) ReceiveMessage()
        {
            var header = ReceiveExactly(16);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12));
            Assert.True(len <= 4096, $"reply length {len} is over XENSTORE_PAYLOAD_MAX");
            return (BinaryPrimitives.ReadUInt32LittleEndian(header), BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)), ReceiveExactly((int)len));
        }

        private byte[] ReceiveExactly(int n)
        {
            var buffer = new byte[n];
            int got = 0;
            while (got < n)
            {
                int r = _socket.Receive(buffer, got, n - got, SocketFlags.None);
                if (r == 0) throw new IOException($"the server closed the connection after {got} of {n} bytes");
                got += r;
            }
            return buffer;
        }

        /// <summary>Whether the server closes the connection (EOF or reset) within <paramref name="timeout"/>, receiving nothing before.</summary>
        public bool WaitForClose(TimeSpan timeout)
        {
            _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            var buffer = new byte[64];
            try
            {
                int n = _socket.Receive(buffer);
                Assert.True(n == 0, $"the server sent {n} bytes instead of closing the connection");
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                return false;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
