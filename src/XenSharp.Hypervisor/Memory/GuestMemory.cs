using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// A guest's physical memory, and the one place through which the hypervisor touches it.
///
/// Guest RAM is anonymous shared memory (a memfd, so a device-model process can map it too),
/// mapped once into this process. It is made of a few <see cref="GuestMemoryRegion"/>s, each a
/// contiguous guest-physical range backed by a contiguous host range. Every access made on a
/// guest's behalf asks for (guest-physical address, length) and gets a span only when the
/// whole range lies inside one region; otherwise it gets <c>false</c>, which hypercall code
/// turns into -EFAULT. Nothing here throws for a guest-supplied address: this type is the
/// security boundary between a guest and the host, and it is kept small on purpose.
/// </summary>
public sealed unsafe partial class GuestMemory : IDisposable
{
    /// <summary>Replaced whole (copy-on-write) when a frame is added, so readers need no lock.</summary>
    private GuestMemoryRegion[] _regions;
    private readonly byte* _hostBase;
    private readonly ulong _hostLength;
    private readonly object _growLock = new();
    private readonly List<(nint Address, ulong Length)> _addedMappings = [];
    private ulong _memFdLength;
    private int _disposed;

    /// <summary>
    /// Raised after <see cref="TryAddRegion"/> backed a new range, for accelerators that must map
    /// it too (KVM adds a memory slot; the software CPU reads through this type and needs nothing).
    /// </summary>
    public event Action<GuestMemoryRegion>? RegionAdded;

    /// <summary>The memfd holding all of this guest's memory (regions are consecutive in it).</summary>
    public int MemFd { get; }

    /// <summary>Guest-physical regions in ascending order.</summary>
    public IReadOnlyList<GuestMemoryRegion> Regions => Volatile.Read(ref _regions);

    /// <summary>Bytes of guest memory allocated at creation (RAM and special pages; frames added later not counted).</summary>
    public ulong TotalSize => _hostLength;

    private GuestMemory(int memFd, byte* hostBase, ulong hostLength, GuestMemoryRegion[] regions)
    {
        MemFd = memFd;
        _hostBase = hostBase;
        _hostLength = hostLength;
        _regions = regions;
        _memFdLength = hostLength;
    }

    /// <summary>
    /// Backs one more page-aligned guest-physical range that overlaps no region: a frame the
    /// guest asked Xen to place outside its RAM (shared_info or grant-table frames with
    /// XENMEM_add_to_physmap at a gfn in a hole of its memory map, as GRUB does). The memfd grows
    /// and the new part is mapped separately; existing spans stay valid. False when the range is
    /// malformed, overlaps, or the host has no memory for it.
    /// </summary>
    public bool TryAddRegion(ulong gpa, ulong size, out GuestMemoryRegion added)
    {
        added = default;
        if ((gpa | size) % PageSize != 0 || size == 0 || gpa + size < gpa) return false;
        lock (_growLock)
        {
            if (Volatile.Read(ref _disposed) != 0) return false;
            var current = _regions;
            foreach (var r in current)
                if (gpa < r.End && r.GuestPhysical < gpa + size) return false;
            if (Native.ftruncate(MemFd, (long)(_memFdLength + size)) != 0) return false;
            void* p = Native.mmap(null, (nuint)size, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_NORESERVE, MemFd, (long)_memFdLength);
            if (p == (void*)-1) return false;
            added = new GuestMemoryRegion(gpa, size, (nint)p, _memFdLength);
            _memFdLength += size;
            _addedMappings.Add(((nint)p, size));
            var next = new GuestMemoryRegion[current.Length + 1];
            int i = 0, j = 0;
            while (i < current.Length && current[i].GuestPhysical < gpa) next[j++] = current[i++];
            next[j++] = added;
            while (i < current.Length) next[j++] = current[i++];
            Volatile.Write(ref _regions, next);
        }
        RegionAdded?.Invoke(added);
        return true;
    }

    /// <summary>
    /// Allocates zeroed shared memory for the given guest-physical ranges (start, size), which
    /// must be page aligned, ascending and non-overlapping.
    /// </summary>
    /// <exception cref="GuestMemoryAllocationException">the host cannot provide the memory.</exception>
    public static GuestMemory Allocate(ReadOnlySpan<(ulong GuestPhysical, ulong Size)> ranges, string name = "xensharp-guest")
    {
        if (ranges.Length == 0) throw new ArgumentException("at least one memory range is needed", nameof(ranges));
        ulong total = 0;
        ulong previousEnd = 0;
        foreach (var (gpa, size) in ranges)
        {
            if ((gpa | size) % PageSize != 0 || size == 0)
                throw new ArgumentException($"memory range 0x{gpa:x}+0x{size:x} is not page aligned", nameof(ranges));
            if (gpa < previousEnd)
                throw new ArgumentException("memory ranges must be ascending and disjoint", nameof(ranges));
            previousEnd = gpa + size;
            total += size;
        }

        int fd = Native.memfd_create(name, Native.MFD_CLOEXEC);
        if (fd < 0) throw new GuestMemoryAllocationException($"memfd_create failed: {Marshal.GetLastPInvokeErrorMessage()}");
        if (Native.ftruncate(fd, (long)total) != 0)
        {
            string err = Marshal.GetLastPInvokeErrorMessage();
            Native.close(fd);
            throw new GuestMemoryAllocationException($"cannot size guest memory to {total >> 20} MiB: {err}");
        }
        void* p = Native.mmap(null, (nuint)total, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_NORESERVE, fd, 0);
        if (p == (void*)-1)
        {
            string err = Marshal.GetLastPInvokeErrorMessage();
            Native.close(fd);
            throw new GuestMemoryAllocationException($"cannot map {total >> 20} MiB of guest memory: {err}");
        }

        var regions = new GuestMemoryRegion[ranges.Length];
        ulong offset = 0;
        for (int i = 0; i < ranges.Length; i++)
        {
            regions[i] = new GuestMemoryRegion(ranges[i].GuestPhysical, ranges[i].Size, (nint)((byte*)p + offset), offset);
            offset += ranges[i].Size;
        }
        return new GuestMemory(fd, (byte*)p, total, regions);
    }

    public const ulong PageSize = 4096;

    /// <summary>
    /// The host bytes for guest-physical [gpa, gpa+length), or false when any byte of it is
    /// outside guest memory or the range crosses a region boundary.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetSpan(ulong gpa, int length, out Span<byte> span)
    {
        if (length >= 0)
        {
            foreach (ref readonly var r in Volatile.Read(ref _regions).AsSpan())
            {
                ulong off = gpa - r.GuestPhysical; // wraps to huge when gpa < start
                if (off < r.Size && (ulong)length <= r.Size - off)
                {
                    span = new Span<byte>((byte*)r.HostAddress + off, length);
                    return true;
                }
            }
        }
        span = default;
        return false;
    }

    /// <summary>Whether [gpa, gpa+length) lies wholly inside guest memory.</summary>
    public bool Contains(ulong gpa, ulong length) =>
        length <= int.MaxValue && TryGetSpan(gpa, (int)length, out _);

    /// <summary>Reads an unmanaged value (little endian, as the guest stores it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead<T>(ulong gpa, out T value) where T : unmanaged
    {
        if (TryGetSpan(gpa, sizeof(T), out var s))
        {
            value = Unsafe.ReadUnaligned<T>(ref s[0]);
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>Writes an unmanaged value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite<T>(ulong gpa, in T value) where T : unmanaged
    {
        if (TryGetSpan(gpa, sizeof(T), out var s))
        {
            Unsafe.WriteUnaligned(ref s[0], value);
            return true;
        }
        return false;
    }

    /// <summary>Copies guest bytes out; false if the range is not all guest memory.</summary>
    public bool TryReadBytes(ulong gpa, Span<byte> destination)
    {
        if (!TryGetSpan(gpa, destination.Length, out var s)) return false;
        s.CopyTo(destination);
        return true;
    }

    /// <summary>Copies bytes into the guest; false (and nothing written) if the range is not all guest memory.</summary>
    public bool TryWriteBytes(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!TryGetSpan(gpa, source.Length, out var s)) return false;
        source.CopyTo(s);
        return true;
    }

    /// <summary>
    /// Writes bytes that the builder (not a guest) places; throws with a clear message when the
    /// image does not fit, since that is a configuration error, not a guest action.
    /// </summary>
    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!TryWriteBytes(gpa, source))
            throw new GuestMemoryAllocationException(
                $"0x{gpa:x}..0x{gpa + (ulong)source.Length:x} does not fit in guest memory (give the domain more memory)");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Native.munmap(_hostBase, (nuint)_hostLength);
        lock (_growLock)
            foreach (var (address, length) in _addedMappings) Native.munmap((void*)address, (nuint)length);
        Native.close(MemFd);
    }

    private static unsafe partial class Native
    {
        public const uint MFD_CLOEXEC = 1;
        public const int PROT_READ = 1, PROT_WRITE = 2;
        public const int MAP_SHARED = 1, MAP_NORESERVE = 0x4000;

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int memfd_create(string name, uint flags);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int ftruncate(int fd, long length);

        [LibraryImport("libc", SetLastError = true)]
        public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int munmap(void* addr, nuint length);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int close(int fd);
    }
}

/// <summary>One contiguous guest-physical range and where it lives in this process.</summary>
public readonly record struct GuestMemoryRegion(ulong GuestPhysical, ulong Size, nint HostAddress, ulong MemFdOffset)
{
    public ulong End => GuestPhysical + Size;
}

/// <summary>The host could not provide (or the builder could not place) guest memory.</summary>
public sealed class GuestMemoryAllocationException(string message) : Exception(message);
