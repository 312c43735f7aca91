using System.Text;
using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class FuzzTests
{
    private static readonly string[] s_paths =
    [
        "/", "/a", "/a/b", "/a/b/c", "/a/d", "data", "data/x", "data/x/y", "x", "/local/domain/1/data",
        "/local/domain/2/data/q", "/local/domain/0/secret", "/local/domain", "/tool/xenstored",
        "@introduceDomain", "@releaseDomain", "@releaseDomain/1", "", "bad//p", "x/", "/sp ace", "/é",
    ];

    private static readonly string[] s_guestPaths = ["data", "data/a", "data/a/b", "data/c", "x", "x/y", "device/vif/0"];

    // Weighted request types: mostly store traffic, a little of everything else.
    private static readonly (XsMessageType Type, int Weight)[] s_types =
    [
        (XsMessageType.Write, 25), (XsMessageType.Read, 8), (XsMessageType.Mkdir, 6), (XsMessageType.Rm, 8),
        (XsMessageType.Directory, 4), (XsMessageType.DirectoryPart, 2), (XsMessageType.GetPerms, 3),
        (XsMessageType.SetPerms, 5), (XsMessageType.Watch, 8), (XsMessageType.Unwatch, 3),
        (XsMessageType.TransactionStart, 5), (XsMessageType.TransactionEnd, 5), (XsMessageType.Introduce, 1),
        (XsMessageType.Release, 1), (XsMessageType.IsDomainIntroduced, 1), (XsMessageType.GetDomainPath, 1),
        (XsMessageType.SetTarget, 1), (XsMessageType.ResetWatches, 1), (XsMessageType.GetQuota, 1),
        (XsMessageType.SetQuota, 1), (XsMessageType.Control, 1), (XsMessageType.Resume, 1),
        (XsMessageType.GetFeature, 1), (XsMessageType.SetFeature, 1), (XsMessageType.Invalid, 1),
        ((XsMessageType)20, 1), ((XsMessageType)99, 1), (XsMessageType.WatchEvent, 1),
    ];

    private static XsMessageType Pick(Random rng)
    {
        int total = s_types.Sum(t => t.Weight);
        int r = rng.Next(total);
        foreach (var (type, weight) in s_types)
        {
            if (r < weight) return type;
            r -= weight;
        }
        return XsMessageType.Write;
    }

    private static readonly string[] s_perms = ["n0", "b1", "r2", "w1", "n1", "b2", "r32757", "x9", "r", "b0x1", "n70000"];

    private sealed class FuzzClient
    {
        public required TestClient Client;
        public int Requests;   // complete requests sent on the current connection
        public uint? OpenTx;
        public int Seen;       // log entries already looked at
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomTrafficKeepsTheStoreConsistent(int seed)
    {
        var rng = new Random(seed);
        var store = StoreSetup.Create(new XenStoreQuotas { Nodes = 60, Watches = 12, Transactions = 4, NodeSize = 400, TransactionNodes = 40 });
        var internalErrors = new List<string>();
        store.Log = m => { if (m.StartsWith("internal error", StringComparison.Ordinal)) internalErrors.Add(m); };
        store.IntroduceDomain(1);
        store.IntroduceDomain(2);

        int[] domids = [0, 1, 2, 1, 3];
        var everyClient = new List<TestClient>();
        TestClient NewClient(int domid)
        {
            var c = new TestClient(store, domid);
            everyClient.Add(c);
            return c;
        }
        var clients = domids.Select(d => new FuzzClient { Client = NewClient(d) }).ToArray();
        var pending = new List<byte>[clients.Length];
        for (int i = 0; i < pending.Length; i++) pending[i] = [];

        for (int step = 0; step < 6000; step++)
        {
            int ci = rng.Next(clients.Length);
            var fc = clients[ci];
            if (fc.Client.Connection.IsClosed || rng.Next(400) == 0)
            {
                fc.Client.Connection.Close();
                clients[ci] = fc = new FuzzClient { Client = NewClient(domids[ci]) };
                pending[ci].Clear();
            }

            if (rng.Next(300) == 0)
            {
                // A protocol violation: the connection must close, nothing else may change.
                var header = new byte[16];
                new XsMessageHeader(XsMessageType.Write, 1, 0, (uint)(4097 + rng.Next(100000))).Write(header);
                Flush(fc, pending[ci]);
                fc.Client.SendRaw(header);
                Assert.True(fc.Client.Connection.IsClosed);
                continue;
            }

            var message = RandomMessage(rng, fc, out uint tx);
            pending[ci].AddRange(XsMessage.Encode(message.Type, (uint)step + 1, tx, message.Payload));
            fc.Requests++;
            if (rng.Next(3) == 0 || pending[ci].Count > 200)
            {
                Flush(fc, pending[ci], rng);
                CheckReplies(fc);
            }

            if (step % 500 == 0) Assert.Empty(store.CheckInvariants());
        }

        for (int i = 0; i < clients.Length; i++)
        {
            Flush(clients[i], pending[i], rng);
            if (!clients[i].Client.Connection.IsClosed) CheckReplies(clients[i]);
        }
        Assert.Empty(store.CheckInvariants());
        Assert.Empty(internalErrors);

        // The traffic really exercised the store: successes of the main kinds, watch events,
        // transaction conflicts or commits, and a spread of errors.
        var all = everyClient.SelectMany(c => c.Log).ToList();
        Assert.True(all.Count(m => m.Type == XsMessageType.Write) > 300);
        Assert.True(all.Count(m => m.Type == XsMessageType.Read) > 20);
        Assert.True(all.Count(m => m.Type == XsMessageType.Rm) > 20);
        Assert.True(all.Count(m => m.Type == XsMessageType.WatchEvent) > 100);
        Assert.True(all.Count(m => m.Type == XsMessageType.TransactionEnd) > 5);
        Assert.True(all.Where(m => m.IsError).Select(m => m.Error).Distinct().Count() >= 6);

        // The store still works normally afterwards.
        var fresh = new TestClient(store, 0);
        Expect.Ok(fresh.Write("/after/fuzz", "ok"));
        Expect.Value("ok", fresh.Read("/after/fuzz"));
    }

    private static void Flush(FuzzClient fc, List<byte> pending, Random? rng = null)
    {
        var bytes = pending.ToArray();
        pending.Clear();
        int at = 0;
        while (at < bytes.Length)
        {
            int n = rng is null ? bytes.Length : Math.Min(bytes.Length - at, 1 + rng.Next(64));
            fc.Client.SendRaw(bytes.AsSpan(at, n));
            at += n;
        }
    }

    private static void CheckReplies(FuzzClient fc)
    {
        var replies = fc.Client.Log.Where(m => m.Type != XsMessageType.WatchEvent).ToList();
        Assert.Equal(fc.Requests, replies.Count);
        foreach (var r in fc.Client.Log)
        {
            Assert.True(r.Payload.Length <= XsWireLimits.PayloadMax);
            if (r.IsError) Assert.True(XsErrors.IsKnown(r.Error!), r.Error);
        }
        // Track one open transaction from the replies, so that many requests use a valid tx_id.
        foreach (var m in fc.Client.Log.Skip(fc.Seen))
        {
            if (m.Type == XsMessageType.TransactionStart) fc.OpenTx = uint.Parse(m.Text);
            else if (m.TransactionId == fc.OpenTx && (m.Type == XsMessageType.TransactionEnd || m.Error == "EAGAIN")) fc.OpenTx = null;
            else if (m.Type == XsMessageType.ResetWatches) fc.OpenTx = null;
        }
        fc.Seen = fc.Client.Log.Count;
    }

    private static (XsMessageType Type, byte[] Payload) RandomMessage(Random rng, FuzzClient fc, out uint tx)
    {
        tx = rng.Next(10) switch
        {
            0 => (uint)rng.Next(1, 6),
            1 or 2 or 3 or 4 => fc.OpenTx ?? 0,
            _ => 0,
        };
        bool guest = fc.Client.Connection.DomainId != 0;
        string P() => rng.Next(20) == 0 ? RandomText(rng)
            : guest && rng.Next(3) != 0 ? s_guestPaths[rng.Next(s_guestPaths.Length)]
            : s_paths[rng.Next(s_paths.Length)];

        XsMessageType type = Pick(rng);
        byte[] payload = type switch
        {
            XsMessageType.Write => XsPayload.StringThenBytes(P(), RandomBytes(rng, rng.Next(4) == 0 ? 600 : 20)),
            XsMessageType.SetPerms => XsPayload.FromStrings([P(), .. Enumerable.Range(0, rng.Next(0, 7)).Select(_ => s_perms[rng.Next(s_perms.Length)])]),
            XsMessageType.Watch => rng.Next(4) == 0
                ? XsPayload.FromStrings(P(), "tok" + rng.Next(5), rng.Next(-1, 3).ToString())
                : XsPayload.FromStrings(P(), "tok" + rng.Next(5)),
            XsMessageType.Unwatch => XsPayload.FromStrings(P(), "tok" + rng.Next(5)),
            XsMessageType.DirectoryPart => XsPayload.FromStrings(P(), rng.Next(-5, 40).ToString()),
            XsMessageType.TransactionEnd => XsPayload.FromStrings(rng.Next(5) == 0 ? "X" : rng.Next(2) == 0 ? "T" : "F"),
            XsMessageType.TransactionStart => XsPayload.FromStrings(""),
            XsMessageType.Introduce => XsPayload.FromStrings(rng.Next(0, 5).ToString(), rng.Next().ToString(), rng.Next(-1, 9).ToString()),
            XsMessageType.Release or XsMessageType.IsDomainIntroduced or XsMessageType.GetDomainPath or XsMessageType.Resume =>
                XsPayload.FromStrings(rng.Next(6) == 0 ? RandomText(rng) : rng.Next(0, 5).ToString()),
            XsMessageType.SetTarget => XsPayload.FromStrings(rng.Next(0, 5).ToString(), rng.Next(0, 5).ToString()),
            XsMessageType.GetQuota => XsPayload.FromStrings(XenStoreQuotas.Names[rng.Next(XenStoreQuotas.Names.Count)]),
            XsMessageType.SetQuota => XsPayload.FromStrings("4", "watches", rng.Next(0, 20).ToString()),
            XsMessageType.Control => XsPayload.FromStrings(rng.Next(3) switch { 0 => "check", 1 => "quota", _ => "print" }),
            XsMessageType.GetFeature => rng.Next(2) == 0 ? [] : XsPayload.FromStrings(rng.Next(0, 5).ToString()),
            XsMessageType.SetFeature => XsPayload.FromStrings(rng.Next(0, 5).ToString(), rng.Next(0, 16).ToString()),
            _ => XsPayload.FromStrings(P()),
        };

        // Corrupt some payloads: drop the final NUL or append garbage.
        if (payload.Length > 0 && rng.Next(25) == 0) payload = payload[..^1];
        if (rng.Next(40) == 0) payload = [.. payload, .. RandomBytes(rng, rng.Next(1, 30))];
        return (type, payload);
    }

    private static byte[] RandomBytes(Random rng, int max)
    {
        var bytes = new byte[rng.Next(max + 1)];
        rng.NextBytes(bytes);
        return bytes;
    }

    private static string RandomText(Random rng)
    {
        var sb = new StringBuilder();
        int n = rng.Next(0, 12);
        for (int i = 0; i < n; i++) sb.Append((char)rng.Next(1, 128));
        return sb.ToString();
    }
}
