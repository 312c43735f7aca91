using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenSharp.Devices.Block;

/// <summary>
/// A raw disk image file (xl.cfg <c>format=raw</c>) as the block backend uses it: positioned
/// reads and writes through <see cref="RandomAccess"/> (no shared file position, so one handle
/// serves any thread), flush to stable storage, and discard as a punched hole (zeros, the file
/// keeps its size). The size in 512-byte sectors is fixed when the image is opened; a trailing
/// partial sector is not part of the disk. A read-only image is opened without write access,
/// so the host itself refuses to change it. Callers check ranges (<see cref="Contains"/>); the
/// methods throw IOException on host errors.
/// </summary>
public sealed class RawImage : IDisposable
{
    public const int SectorSize = 512;

    private readonly SafeFileHandle _handle;
    private byte[]? _zeros;

    private RawImage(string path, SafeFileHandle handle, bool readOnly, long length)
    {
        Path = path;
        _handle = handle;
        ReadOnly = readOnly;
        Length = length;
        Sectors = (ulong)length / SectorSize;
    }

    /// <summary>
    /// Opens <paramref name="path"/> (which must exist; it is never created). Throws
    /// FileNotFoundException, UnauthorizedAccessException or IOException as the host reports.
    /// </summary>
    public static RawImage Open(string path, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(path);
        var handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            FileShare.ReadWrite, FileOptions.None);
        try
        {
            long length = RandomAccess.GetLength(handle);
            return new RawImage(path, handle, readOnly, length);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public string Path { get; }
    public bool ReadOnly { get; }
    /// <summary>The file's size in bytes when opened.</summary>
    public long Length { get; }
    /// <summary>The disk's size in 512-byte sectors (the backend's <c>sectors</c> node).</summary>
    public ulong Sectors { get; }

    /// <summary>Whether sectors [sector, sector+count) all lie on the disk (no overflow).</summary>
    public bool Contains(ulong sector, ulong count) => sector <= Sectors && count <= Sectors - sector;

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; bytes past the end of the file read as zeros.</summary>
    public void Read(long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(_handle, destination[done..], offset + done);
            if (n <= 0)
            {
                destination[done..].Clear();
                return;
            }
            done += n;
        }
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>.</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (ReadOnly) throw new IOException($"{Path} is read-only");
        RandomAccess.Write(_handle, source, offset);
    }

    /// <summary>Commits written data to stable storage (fdatasync).</summary>
    public void Flush()
    {
        if (ReadOnly) return;
        RandomAccess.FlushToDisk(_handle);
    }

    /// <summary>
    /// Discards [offset, offset+length): punches a hole (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE), or
    /// writes zeros where the file system cannot. Either way the range reads as zeros afterwards.
    /// </summary>
    public void Discard(long offset, long length)
    {
        if (ReadOnly) throw new IOException($"{Path} is read-only");
        if (length <= 0) return;
        if (OperatingSystem.IsLinux() && PunchHole(offset, length)) return;
        _zeros ??= new byte[64 * 1024];
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(_zeros.Length, length - done);
            RandomAccess.Write(_handle, _zeros.AsSpan(0, n), offset + done);
            done += n;
        }
    }

    private bool PunchHole(long offset, long length)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return Fallocate((int)_handle.DangerousGetHandle(), FallocFlPunchHole | FallocFlKeepSize, offset, length) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    private const int FallocFlKeepSize = 0x01;
    private const int FallocFlPunchHole = 0x02;

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int Fallocate(int fd, int mode, long offset, long length);

    public void Dispose() => _handle.Dispose();
}
