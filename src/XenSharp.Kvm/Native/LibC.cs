using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>The few libc calls the KVM accelerator needs.</summary>
internal static unsafe partial class LibC
{
    public const int O_RDWR = 2, O_CLOEXEC = 0x80000;
    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    public const int EINTR = 4, EAGAIN = 11, EACCES = 13, ENOENT = 2, EPERM = 1;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint arg);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigaction(int signum, void* act, void* oldact);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tgkill(int tgid, int tid, int sig);

    [LibraryImport("libc")]
    public static partial int getpid();

    [LibraryImport("libc")]
    public static partial int gettid();
}
