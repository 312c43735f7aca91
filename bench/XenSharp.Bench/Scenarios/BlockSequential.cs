using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// blk_seq_read and blk_seq_write: MB/s (10^6 bytes per second) a guest gets through its PV
/// block device, sequentially, with 1 and with 32 requests in flight. guests/build/blk-bench.elf
/// (one vCPU, 32 MiB of RAM, on a daemon of the benchmark's own) connects to a 32 MiB raw image
/// through lib/blkfront.c and makes <see cref="Passes"/> passes over the whole disk, each request
/// 11 segments × 4 KiB (44 KiB; blkfront has no indirect descriptors), keeping qd requests on the
/// ring. The guest times each pass itself with its pvclock (Xen's vcpu_time_info scaled from the
/// TSC) from the first request queued to the last response taken — a write pass ends with a
/// FLUSH_DISKCACHE inside the timing — and prints `INFO blkbench ... bytes=B ns=T errors=E`; one
/// sample is B / T of one pass, pass 0 warms up and is not counted. The figures include
/// everything on the I/O path: the guest's ring work on XenSharp's software CPU (no KVM here),
/// event-channel kicks and SCHEDOP_poll, and the backend thread mapping each grant and copying
/// through the image file (page cache).
///
/// Data is checked: the image starts with every 4 KiB page holding its byte offset in its first
/// 8 bytes; a reading guest checks each page it got (a mismatch is an error), a writing guest
/// writes that pattern and the benchmark checks the file afterwards.
///
/// The median/min/max are qd=32; the qd1_* fields are the same with one request in flight.
/// Baseline, in the same run on the same image file: dd with the same 44 KiB blocks,
/// `dd if=IMG of=/dev/null bs=44k` (reads, from the page cache as the guest's are) and
/// `dd if=/dev/zero of=IMG bs=44k count=32M iflag=count_bytes conv=notrunc,fdatasync` (writes);
/// median of <see cref="DdRuns"/> runs after one warm-up, from dd's own byte count and seconds.
/// </summary>
public static class BlockSequential
{
    private const int ImageMiB = 32;
    private const int Passes = 6;          // pass 0 is the warm-up
    private const int DdRuns = 5;
    private const int RequestKiB = 44;
    private static readonly int[] QueueDepths = [1, 32];
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromMinutes(3);

    public static BenchResult Read() => Run(write: false);

    public static BenchResult Write() => Run(write: true);

    private static BenchResult Run(bool write)
    {
        string name = write ? "blk_seq_write" : "blk_seq_read";
        string elf = Repo.Guest("blk-bench");
        if (!File.Exists(elf)) throw new BenchSkippedException($"{elf} is missing (build it with `make -C guests`)");
        using var d = new BenchDaemon();
        string dir = d.Env["XENSHARP_STATE_DIR"];
        string image = Path.Combine(dir, "blk-bench.img");
        const long size = ImageMiB << 20;
        if (!write) WriteStampedImage(image, size);

        var perQd = new Dictionary<int, List<double>>();
        foreach (int qd in QueueDepths)
        {
            if (write) WriteZeros(image, size); // the guest's writes must put the stamps there
            perQd[qd] = RunGuest(d, dir, elf, image, write, qd);
            string? bad = CheckStamps(image, size);
            if (bad is not null) throw new InvalidOperationException($"after the qd={qd} {(write ? "write" : "read")} run the image is wrong: {bad}");
        }

        var dd = DdBaseline(image, size, write);

        var main = perQd[32];
        var result = new BenchResult(name, "MB/s", main);
        result.Extra["qd"] = 32;
        foreach (int qd in QueueDepths)
        {
            result.Extra[$"qd{qd}_median"] = BenchResult.Median(perQd[qd]);
            result.Extra[$"qd{qd}_min"] = perQd[qd].Min();
            result.Extra[$"qd{qd}_max"] = perQd[qd].Max();
        }
        result.Extra["request_kib"] = RequestKiB;
        result.Extra["image_mib"] = ImageMiB;
        result.Extra["passes_counted"] = Passes - 1;
        result.Extra["baseline_dd_mb_s"] = BenchResult.Median(dd);
        result.Extra["baseline_dd_min"] = dd.Min();
        result.Extra["baseline_dd_max"] = dd.Max();
        result.Extra["ratio_qd32_to_dd"] = BenchResult.Median(main) / BenchResult.Median(dd);
        result.Extra["timing"] = "guest pvclock per pass" + (write ? ", flush included" : "");
        return result;
    }

    /// <summary>One blk-bench domain to its end; MB/s of each counted pass.</summary>
    private static List<double> RunGuest(BenchDaemon d, string dir, string elf, string image, bool write, int qd)
    {
        string op = write ? "write" : "read";
        string domain = $"blk-{op}-qd{qd}";
        string cfg = Path.Combine(dir, domain + ".cfg");
        File.WriteAllText(cfg, $"""
            name = "{domain}"
            type = "pvh"
            kernel = "{elf}"
            memory = 32
            vcpus = 1
            on_poweroff = "destroy"
            on_crash = "destroy"
            disk = [ 'format=raw, vdev=xvda, access=rw, target={image}' ]
            cmdline = "op={op} qd={qd} passes={Passes}"
            """);
        string output = CreateAndWait(d, cfg, domain, GuestTimeout);
        var lines = Regex.Matches(output, @"^INFO blkbench op=\w+ qd=\d+ pass=(\d+) bytes=(\d+) ns=(\d+) errors=(\d+)\r?$", RegexOptions.Multiline);
        if (lines.Count != Passes || !output.Contains("blk-bench: done errors=0"))
            throw new InvalidOperationException($"{domain} did not complete {Passes} clean passes:\n{output}");
        var samples = new List<double>();
        foreach (Match m in lines)
        {
            if (m.Groups[1].Value == "0") continue;
            long bytes = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            long ns = long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            samples.Add(bytes / 1e6 / (ns / 1e9));
        }
        return samples;
    }

    /// <summary>`xl create -c cfg`: its output once the domain is gone (destroyed on timeout).</summary>
    internal static string CreateAndWait(BenchDaemon d, string cfg, string domain, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(d.Xl) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("create");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(cfg);
        foreach (var (k, v) in d.Env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            Repo.Run(d.Xl, ["destroy", domain], d.Env, allowFailure: true);
            if (!p.WaitForExit(TimeSpan.FromSeconds(10))) p.Kill();
            p.WaitForExit();
            throw new TimeoutException($"{domain} did not finish within {timeout.TotalSeconds:0} s:\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return stdout.Result + stderr.Result;
    }

    /// <summary>A file of <paramref name="size"/> bytes whose every 4 KiB page starts with its offset (little-endian u64).</summary>
    private static void WriteStampedImage(string path, long size)
    {
        var chunk = new byte[1 << 20];
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        for (long at = 0; at < size; at += chunk.Length)
        {
            for (int o = 0; o < chunk.Length; o += 4096) BinaryPrimitives.WriteUInt64LittleEndian(chunk.AsSpan(o), (ulong)(at + o));
            f.Write(chunk);
        }
    }

    private static void WriteZeros(string path, long size)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        var zeros = new byte[1 << 20];
        for (long at = 0; at < size; at += zeros.Length) f.Write(zeros);
    }

    /// <summary>null when every page starts with its offset and the file has its size; else what is wrong.</summary>
    private static string? CheckStamps(string path, long size)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != size) return $"{bytes.Length} bytes, expected {size}";
        for (long o = 0; o < size; o += 4096)
        {
            ulong got = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)o));
            if (got != (ulong)o) return $"page at {o} starts with {got}";
        }
        return null;
    }

    /// <summary>MB/s of <see cref="DdRuns"/> dd runs (after one warm-up) on the image.</summary>
    private static List<double> DdBaseline(string image, long size, bool write)
    {
        string[] args = write
            ? ["if=/dev/zero", $"of={image}", $"bs={RequestKiB}k", $"count={size}", "iflag=count_bytes", "conv=notrunc,fdatasync"]
            : [$"if={image}", "of=/dev/null", $"bs={RequestKiB}k"];
        var env = new Dictionary<string, string> { ["LC_ALL"] = "C" };
        var samples = new List<double>();
        for (int i = 0; i <= DdRuns; i++)
        {
            var (_, _, err) = Repo.Run("dd", args, env);
            var m = Regex.Match(err, @"^(\d+) bytes .* copied, ([0-9.e+-]+) s", RegexOptions.Multiline);
            if (!m.Success) throw new InvalidOperationException($"cannot read dd's summary: {err}");
            long bytes = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            double s = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            if (bytes != size) throw new InvalidOperationException($"dd copied {bytes} bytes, expected {size}");
            if (i > 0) samples.Add(bytes / 1e6 / s);
        }
        return samples;
    }
}
