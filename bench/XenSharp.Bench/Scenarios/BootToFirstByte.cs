using System.Diagnostics;
using XenSharp.Hypervisor;
using XenSharp.Kvm;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;

namespace XenSharp.Bench.Scenarios;

/// <summary>
/// boot_to_first_byte: ms from starting a VMM process to the first byte a minimal PVH ELF
/// (guests/debugcon) writes to port 0xE9, as read on the process's stdout. XenSharp runs as
/// a fresh process (this program with --boot-once: .NET start, KVM open, domain build, run);
/// the baseline is QEMU booting the same ELF with -kernel (it reads PHYS32_ENTRY) and
/// -debugcon stdio, measured the same way in the same run.
/// </summary>
public static class BootToFirstByte
{
    private const int Rounds = 7;

    public static BenchResult Run()
    {
        string elf = Repo.Guest("debugcon");
        // XenSharp's VMM as xl ships it: compiled ahead of time (Native AOT). The JIT figure is
        // reported beside it.
        string aotDir = Path.Combine(Path.GetTempPath(), $"xensharp-bench-aot-{Environment.ProcessId}");
        string project = Path.Combine(Repo.Root, "bench", "XenSharp.Bench", "XenSharp.Bench.csproj");
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Repo.Run("dotnet", ["publish", project, "-c", "Release", "-r", rid, "-p:PublishAot=true", "-o", aotDir, "-nologo", "-v", "quiet"]);
        var samples = new List<double>();
        try
        {
            for (int r = 0; r < Rounds; r++) samples.Add(TimeFirstByte(Path.Combine(aotDir, "XenSharp.Bench"), ["--boot-once", elf]));
        }
        finally
        {
            Directory.Delete(aotDir, recursive: true);
        }
        var result = new BenchResult("boot_to_first_byte", "ms", samples);

        string self = Environment.ProcessPath!;
        var selfArgs = Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? new[] { Path.Combine(AppContext.BaseDirectory, "XenSharp.Bench.dll"), "--boot-once", elf }
            : new[] { "--boot-once", elf };
        var jit = new List<double>();
        for (int r = 0; r < Rounds; r++) jit.Add(TimeFirstByte(self, selfArgs));
        result.Extra["xensharp_jit_median"] = BenchResult.Median(jit);

        string? qemu = FindOnPath("qemu-system-x86_64");
        if (qemu is null)
        {
            result.Extra["baseline"] = "qemu-system-x86_64 not installed (apt-get install qemu-system-x86): baseline not measured";
            return result;
        }
        foreach (var machine in new[] { "microvm", "pc" })
        {
            var args = new[] { "-accel", "kvm", "-M", machine, "-m", "64", "-kernel", elf, "-debugcon", "stdio",
                               "-display", "none", "-nodefaults", "-no-user-config", "-no-reboot" };
            try
            {
                var q = new List<double>();
                for (int r = 0; r < Rounds; r++) q.Add(TimeFirstByte(qemu, args));
                result.Extra[$"baseline_qemu_{machine}_median"] = BenchResult.Median(q);
                result.Extra[$"baseline_qemu_{machine}_min"] = q.Min();
            }
            catch (Exception e)
            {
                result.Extra[$"baseline_qemu_{machine}"] = "failed: " + e.Message;
            }
        }
        return result;
    }

    private static double TimeFirstByte(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        _ = p.StandardError.ReadToEndAsync();
        var read = Task.Run(() => p.StandardOutput.BaseStream.ReadByte());
        if (!read.Wait(TimeSpan.FromSeconds(30)) || read.Result < 0)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{Path.GetFileName(file)} printed nothing");
        }
        double ms = sw.Elapsed.TotalMilliseconds;
        try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        p.WaitForExit();
        return ms;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>The child side: boot the ELF and copy its port-0xE9 bytes to stdout.</summary>
    public static int BootOnce(string elf)
    {
        var stdout = Console.OpenStandardOutput();
        using var kvm = KvmAccelerator.Open();
        using var hv = new XenHypervisor(kvm);
        var manager = new DomainManager(hv);
        var config = DomainConfig.FromFile(XlConfigParser.Parse(
            $"name = \"boot\"\ntype = \"pvh\"\nkernel = \"{elf}\"\nmemory = 16\n", "bench.cfg"));
        using var first = new ManualResetEventSlim();
        manager.Create(config, "/", beforeStart: m => m.Domain.DebugPortObserver = b =>
        {
            stdout.WriteByte(b);
            stdout.Flush();
            first.Set();
        });
        first.Wait(TimeSpan.FromSeconds(30));
        Environment.Exit(0);
        return 0;
    }
}
