using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// The host's time-stamp counter. .NET has no RDTSC intrinsic, so <see cref="Read"/> calls a
/// tiny machine-code routine on an executable page of its own (rdtsc; shl rdx, 32; or rax,
/// rdx; ret). The frequency comes from the kernel (sysfs), CPUID leaf 0x15, a hypervisor's
/// 0x40000010 leaf, or, failing those, a one-off calibration against <see cref="Stopwatch"/>.
/// </summary>
public static unsafe class HostTsc
{
    private static readonly delegate* unmanaged<ulong> s_read = CreateReader();
    private static readonly Lazy<ulong> s_frequency = new(FindFrequency);

    /// <summary>Whether the host TSC can be read (x86-64 only).</summary>
    public static bool IsSupported => s_read != null;

    /// <summary>The host TSC now.</summary>
    public static ulong Read() =>
        s_read != null ? s_read() : (ulong)Stopwatch.GetTimestamp();

    /// <summary>TSC ticks per second.</summary>
    public static ulong FrequencyHz => s_frequency.Value;

    private static delegate* unmanaged<ulong> CreateReader()
    {
        if (!X86Base.X64.IsSupported || !OperatingSystem.IsLinux()) return null;
        const int protRead = 1, protWrite = 2, protExec = 4, mapPrivate = 2, mapAnonymous = 0x20;
        byte* page = (byte*)Mmap(null, 4096, protRead | protWrite, mapPrivate | mapAnonymous, -1, 0);
        if (page == (byte*)-1) return null;
        ReadOnlySpan<byte> code =
        [
            0x0F, 0x31,             // rdtsc
            0x48, 0xC1, 0xE2, 0x20, // shl rdx, 32
            0x48, 0x09, 0xD0,       // or rax, rdx
            0xC3,                   // ret
        ];
        code.CopyTo(new Span<byte>(page, code.Length));
        if (Mprotect(page, 4096, protRead | protExec) != 0) return null; // W^X
        return (delegate* unmanaged<ulong>)page;
    }

    private static ulong FindFrequency()
    {
        if (!IsSupported) return (ulong)Stopwatch.Frequency;
        try
        {
            string path = "/sys/devices/system/cpu/cpu0/tsc_freq_khz";
            if (File.Exists(path) && ulong.TryParse(File.ReadAllText(path).Trim(), out ulong khz) && khz > 0)
                return khz * 1000;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        // CPUID 0x15: TSC = crystal (ECX Hz) * EBX / EAX.
        if (X86Base.CpuId(0, 0).Eax >= 0x15)
        {
            var (a, b, c, _) = X86Base.CpuId(0x15, 0);
            if (a != 0 && b != 0 && c != 0) return (ulong)(uint)c * (uint)b / (uint)a;
        }
        // The timing leaf some hypervisors offer (0x40000010 EAX: TSC kHz).
        if ((X86Base.CpuId(1, 0).Ecx & (1 << 31)) != 0 && (uint)X86Base.CpuId(0x40000000, 0).Eax >= 0x40000010)
        {
            uint khz = (uint)X86Base.CpuId(0x40000010, 0).Eax;
            if (khz != 0) return khz * 1000UL;
        }
        return Calibrate();
    }

    private static ulong Calibrate()
    {
        long t0 = Stopwatch.GetTimestamp();
        ulong c0 = Read();
        Thread.Sleep(50);
        long t1 = Stopwatch.GetTimestamp();
        ulong c1 = Read();
        double seconds = (t1 - t0) / (double)Stopwatch.Frequency;
        return (ulong)((c1 - c0) / seconds);
    }

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(void* addr, nuint len, int prot);
}
