using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>
/// The signal used to pull a vCPU thread out of KVM_RUN. Its handler must exist (an ignored
/// signal never interrupts the ioctl) but must do nothing, and must not run managed code in
/// signal context: it is a single `ret` instruction on an executable page of its own.
/// </summary>
internal static unsafe class KickSignal
{
    /// <summary>SIGRTMIN+6 in glibc numbering; the .NET runtime does not use it.</summary>
    public const int Number = 40;
    private static int _installed;

    public static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref _installed, 1) != 0) return;
        byte* page = (byte*)LibC.mmap(null, 4096, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        if (page == (byte*)-1) throw new InvalidOperationException($"mmap for the kick handler failed: {Marshal.GetLastPInvokeErrorMessage()}");
        page[0] = 0xC3; // ret
        // Make it executable only (W^X).
        if (Mprotect(page, 4096, LibC.PROT_READ | LibC.PROT_EXEC) != 0)
            throw new InvalidOperationException($"mprotect for the kick handler failed: {Marshal.GetLastPInvokeErrorMessage()}");

        // glibc struct sigaction on x86-64: handler (8), sa_mask (128), sa_flags (int) + pad, sa_restorer (8).
        byte* act = stackalloc byte[152];
        new Span<byte>(act, 152).Clear();
        *(nint*)act = (nint)page;
        *(int*)(act + 136) = 0; // no SA_RESTART: KVM_RUN must come back with EINTR
        if (LibC.sigaction(Number, act, null) != 0)
            throw new InvalidOperationException($"sigaction for the kick signal failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(void* addr, nuint len, int prot);
}
