using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// xenstore_ops: request/reply throughput of the daemon's xenstored socket, measured by a small
/// wire-protocol client of its own (one request in flight per connection, as libxenstore's
/// synchronous calls): READ and WRITE per second with 1 client and with 8 concurrent clients
/// (each on its own socket and thread), and transactions per second (TRANSACTION_START, two
/// WRITEs, TRANSACTION_END commit; an EAGAIN commit is retried and counted). The main figure is
/// reads/s with one client, as the median of 0.5 s windows over 3 s; the others are rates over
/// 3 s each. With XENSTORED_BASELINE=/path/to/xenstored (or a script that execs it), the same
/// is measured against that daemon and added as baseline_c_xenstored_* fields: it is started in
/// the foreground with the arguments in XENSTORED_BASELINE_ARGS (default "-N") and a private
/// socket through XENSTORED_RUNDIR and XENSTORED_PATH. Debian's C xenstored needs Xen to set up
/// dom0 (with -D, which skips that, it crashes on the first request), so on a machine without
/// Xen the script has to stand in for the few Xen interfaces it opens at start-up; a failure to
/// start or to serve is reported as baseline_c_xenstored_error.
/// </summary>
public static class XenStoreOps
{
    private static readonly TimeSpan Measurement = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(500);
    private const int ManyClients = 8;

    public static BenchResult Run()
    {
        Figures ours;
        using (var d = new BenchDaemon())
            ours = Measure(d.XenStoreSocket);

        var result = new BenchResult("xenstore_ops", "reads/s", ours.ReadWindows);
        ours.AddTo(result.Extra, "");
        result.Extra["value_bytes"] = ValueBytes;
        result.Extra["seconds_per_measurement"] = Measurement.TotalSeconds;

        if (Environment.GetEnvironmentVariable("XENSTORED_BASELINE") is { Length: > 0 } baseline)
        {
            try
            {
                using var c = new CXenstored(baseline);
                Measure(c.Socket).AddTo(result.Extra, "baseline_c_xenstored_");
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or SocketException or TimeoutException)
            {
                result.Extra["baseline_c_xenstored_error"] = e.Message;
            }
        }
        return result;
    }

    private const int ValueBytes = 16;

    private sealed record Figures(List<double> ReadWindows, double Reads1, double Writes1, double Reads8, double Writes8,
                                  double Tx1, double Tx8, long TxRetries8)
    {
        public void AddTo(Dictionary<string, object> extra, string prefix)
        {
            extra[prefix + "reads_per_s_1_client"] = Math.Round(Reads1);
            extra[prefix + "reads_per_s_1_client_median_window"] = Math.Round(BenchResult.Median(ReadWindows));
            extra[prefix + "writes_per_s_1_client"] = Math.Round(Writes1);
            extra[prefix + "reads_per_s_8_clients"] = Math.Round(Reads8);
            extra[prefix + "writes_per_s_8_clients"] = Math.Round(Writes8);
            extra[prefix + "tx_commits_per_s_1_client"] = Math.Round(Tx1);
            extra[prefix + "tx_commits_per_s_8_clients"] = Math.Round(Tx8);
            extra[prefix + "tx_eagain_retries_8_clients"] = TxRetries8;
        }
    }

    private static Figures Measure(string socket)
    {
        string value = new('v', ValueBytes);
        using (var setup = new WireClient(socket))
        {
            for (int i = 0; i < ManyClients; i++)
            {
                setup.Write($"/bench/c{i}/key", value);
                setup.Write($"/bench/c{i}/tx/a", value);
                setup.Write($"/bench/c{i}/tx/b", value);
            }
        }

        // Warm-up (JIT, connection set-up paths), then the measurements.
        Run(socket, 1, TimeSpan.FromMilliseconds(500), (c, i) => { c.Read(Key(i)); return 0; });
        var windows = new List<double>();
        Run(socket, 1, Measurement, (c, i) => { c.Read(Key(i)); return 0; }, windows);
        double reads1 = Run(socket, 1, Measurement, (c, i) => { c.Read(Key(i)); return 0; }).Rate;
        double writes1 = Run(socket, 1, Measurement, (c, i) => { c.Write(Key(i), value); return 0; }).Rate;
        double reads8 = Run(socket, ManyClients, Measurement, (c, i) => { c.Read(Key(i)); return 0; }).Rate;
        double writes8 = Run(socket, ManyClients, Measurement, (c, i) => { c.Write(Key(i), value); return 0; }).Rate;
        double tx1 = Run(socket, 1, Measurement, (c, i) => c.Transaction($"/bench/c{i}/tx", value)).Rate;
        var tx8 = Run(socket, ManyClients, Measurement, (c, i) => c.Transaction($"/bench/c{i}/tx", value));
        return new Figures(windows, reads1, writes1, reads8, writes8, tx1, tx8.Rate, tx8.Retries);
    }

    private static string Key(int client) => $"/bench/c{client}/key";

    /// <summary>
    /// Runs <paramref name="clients"/> threads, each on its own connection, doing
    /// <paramref name="op"/> back to back for <paramref name="duration"/>. Returns completed
    /// operations per second over all clients and the sum of what <paramref name="op"/> returned
    /// (retries). With <paramref name="windows"/>, also the rate of each <see cref="Window"/>.
    /// </summary>
    private static (double Rate, long Retries) Run(string socket, int clients, TimeSpan duration,
                                                   Func<WireClient, int, int> op, List<double>? windows = null)
    {
        var connections = Enumerable.Range(0, clients).Select(_ => new WireClient(socket)).ToArray();
        try
        {
            long total = 0, retries = 0;
            Exception? failure = null;
            using var start = new Barrier(clients + 1);
            var threads = Enumerable.Range(0, clients).Select(i => new Thread(() =>
            {
                long n = 0, r = 0;
                try
                {
                    start.SignalAndWait();
                    var clock = Stopwatch.StartNew();
                    var nextWindow = Window;
                    long windowStart = 0;
                    while (clock.Elapsed < duration)
                    {
                        r += op(connections[i], i);
                        n++;
                        if (windows is not null && clock.Elapsed >= nextWindow)
                        {
                            windows.Add((n - windowStart) / Window.TotalSeconds);
                            windowStart = n;
                            nextWindow += Window;
                        }
                    }
                }
                catch (Exception e)
                {
                    Volatile.Write(ref failure, e);
                }
                Interlocked.Add(ref total, n);
                Interlocked.Add(ref retries, r);
            }) { IsBackground = true }).ToArray();
            foreach (var t in threads) t.Start();
            start.SignalAndWait();
            var wall = Stopwatch.StartNew();
            foreach (var t in threads) t.Join();
            double seconds = wall.Elapsed.TotalSeconds;
            if (failure is not null) throw new InvalidOperationException($"xenstored client failed: {failure.Message}", failure);
            return (total / seconds, retries);
        }
        finally
        {
            foreach (var c in connections) c.Dispose();
        }
    }

    /// <summary>The xs_wire protocol on a Unix socket, one request at a time.</summary>
    private sealed class WireClient : IDisposable
    {
        private const uint Read_ = 2, TransactionStart = 6, TransactionEnd = 7, Write_ = 11, Error = 16;
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly byte[] _send = new byte[16 + 4096];
        private readonly byte[] _reply = new byte[16 + 4096];
        private readonly Dictionary<string, byte[]> _paths = new();
        private uint _nextId = 1;

        public WireClient(string path)
        {
            _socket.Connect(new UnixDomainSocketEndPoint(path));
            _socket.ReceiveTimeout = 10_000;
        }

        private byte[] PathBytes(string path)
        {
            if (!_paths.TryGetValue(path, out var b)) _paths[path] = b = Encoding.ASCII.GetBytes(path + "\0");
            return b;
        }

        public void Read(string path) => Call(Read_, 0, PathBytes(path), []);

        public void Write(string path, string value, uint tx = 0) => Call(Write_, tx, PathBytes(path), Encoding.ASCII.GetBytes(value));

        /// <summary>Start, write a and b, commit; retried on EAGAIN. Returns the number of retries.</summary>
        public int Transaction(string dir, string value)
        {
            for (int retries = 0; ; retries++)
            {
                int n = Call(TransactionStart, 0, "\0"u8, []);
                uint tx = uint.Parse(Encoding.ASCII.GetString(_reply, 16, n).TrimEnd('\0'));
                Write(dir + "/a", value, tx);
                Write(dir + "/b", value, tx);
                if (Call(TransactionEnd, tx, "T\0"u8, [], allowEagain: true) >= 0) return retries;
                if (retries > 1000) throw new InvalidOperationException("transaction commit kept failing with EAGAIN");
            }
        }

        /// <summary>Sends one request and waits for its reply; returns the reply's payload length (-1 for an allowed EAGAIN).</summary>
        private int Call(uint type, uint tx, ReadOnlySpan<byte> part1, ReadOnlySpan<byte> part2, bool allowEagain = false)
        {
            uint id = _nextId++;
            int len = part1.Length + part2.Length;
            var h = _send.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(h, type);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], id);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], tx);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)len);
            part1.CopyTo(h[16..]);
            part2.CopyTo(h[(16 + part1.Length)..]);
            int sent = 0;
            while (sent < 16 + len) sent += _socket.Send(_send, sent, 16 + len - sent, SocketFlags.None);

            while (true)
            {
                ReceiveExactly(0, 16);
                uint rtype = BinaryPrimitives.ReadUInt32LittleEndian(_reply);
                uint rid = BinaryPrimitives.ReadUInt32LittleEndian(_reply.AsSpan(4));
                int rlen = (int)BinaryPrimitives.ReadUInt32LittleEndian(_reply.AsSpan(12));
                if (rlen > 4096) throw new IOException($"reply length {rlen}");
                ReceiveExactly(16, rlen);
                if (rtype == 15) continue; // a watch event (none are set, but skip them anyway)
                if (rid != id) throw new IOException($"reply to request {rid}, expected {id}");
                if (rtype == Error)
                {
                    string err = Encoding.ASCII.GetString(_reply, 16, rlen).TrimEnd('\0');
                    if (allowEagain && err == "EAGAIN") return -1;
                    throw new IOException($"request type {type} failed: {err}");
                }
                if (rtype != type) throw new IOException($"reply type {rtype} to request type {type}");
                return rlen;
            }
        }

        private void ReceiveExactly(int offset, int count)
        {
            int got = 0;
            while (got < count)
            {
                int n = _socket.Receive(_reply, offset + got, count - got, SocketFlags.None);
                if (n == 0) throw new IOException("xenstored closed the connection");
                got += n;
            }
        }

        public void Dispose() => _socket.Dispose();
    }

    /// <summary>
    /// A C xenstored for the baseline: started in the foreground with XENSTORED_BASELINE_ARGS
    /// (default "-N"), its socket in a private directory (XENSTORED_RUNDIR and XENSTORED_PATH).
    /// </summary>
    private sealed class CXenstored : IDisposable
    {
        private readonly Process _process;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), $"xensharp-bench-cxs-{Environment.ProcessId}-{Guid.NewGuid():N}");

        public string Socket { get; }

        public CXenstored(string binary)
        {
            if (!File.Exists(binary)) throw new InvalidOperationException($"XENSTORED_BASELINE: {binary}: no such file");
            Directory.CreateDirectory(_dir);
            Socket = Path.Combine(_dir, "socket");
            var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            string args = Environment.GetEnvironmentVariable("XENSTORED_BASELINE_ARGS") is { Length: > 0 } a ? a : "-N";
            foreach (var arg in args.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(arg);
            psi.Environment["XENSTORED_RUNDIR"] = _dir;
            psi.Environment["XENSTORED_PATH"] = Socket;
            try
            {
                _process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {binary}");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Directory.Delete(_dir, recursive: true);
                throw new InvalidOperationException($"cannot start {binary}: {e.Message}");
            }
            try
            {
                WaitUntilServing(binary, args);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private void WaitUntilServing(string binary, string args)
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Socket))
            {
                if (_process.HasExited)
                    throw new InvalidOperationException($"{binary} exited {DescribeExit(_process.ExitCode)} before creating its socket: {_process.StandardError.ReadToEnd().Trim()}");
                if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException($"{binary} created no socket in 10 s");
                Thread.Sleep(20);
            }
            // Fail early, with the reason, if the daemon cannot serve a request.
            try
            {
                using var probe = new WireClient(Socket);
                probe.Write("/bench/probe", "1");
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                Thread.Sleep(200);
                string state = _process.HasExited
                    ? $"exited {DescribeExit(_process.ExitCode)}" + (_process.StandardError.ReadToEnd().Trim() is { Length: > 0 } err ? $" ({err.ReplaceLineEndings("; ")})" : "")
                    : "still running";
                throw new InvalidOperationException($"{binary} {args} does not serve requests: {e.Message}; the daemon {state}");
            }
        }

        private static string DescribeExit(int code) => code > 128 ? $"{code} (signal {code - 128})" : code.ToString();

        public void Dispose()
        {
            try { if (!_process.HasExited) _process.Kill(); _process.WaitForExit(5000); }
            catch (InvalidOperationException) { }
            _process.Dispose();
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }
}
