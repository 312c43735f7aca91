using XenSharp.Boot.Elf;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot.Arm64;

/// <summary>How an ARM kernel was recognised.</summary>
public enum Arm64KernelFormat
{
    /// <summary>An arm64 Linux-style <c>Image</c> (also what Xen calls zImage64).</summary>
    Image,
    /// <summary>An ELF64 EM_AARCH64 executable, loaded at its p_paddr.</summary>
    Elf,
}

/// <summary>One piece of the kernel: <see cref="Data"/> at <see cref="GuestPhysical"/>, then zeros up to <see cref="MemorySize"/>.</summary>
public readonly record struct Arm64KernelSegment(ulong GuestPhysical, ReadOnlyMemory<byte> Data, ulong MemorySize)
{
    public ulong End => GuestPhysical + MemorySize;
}

/// <summary>
/// A parsed ARM kernel and where it goes: <see cref="Start"/>..<see cref="End"/> is everything it
/// occupies (for an Image, text_offset + image_size, so its bss too), <see cref="Entry"/> where
/// the boot vCPU starts.
/// </summary>
public sealed record Arm64Kernel(
    string Path,
    Arm64KernelFormat Format,
    ulong Entry,
    ulong Start,
    ulong End,
    IReadOnlyList<Arm64KernelSegment> Segments,
    Arm64ImageHeader? ImageHeader);

/// <summary>
/// Parses an ARM guest kernel, an arm64 <c>Image</c> or an AArch64 ELF, and places it in the
/// domain's layout; <see cref="Load"/> copies it into guest memory. Everything is checked before
/// anything is written.
/// </summary>
/// <remarks>
/// An Image goes to RAM base (0x4000_0000, 2 MiB aligned) + text_offset and is entered at its
/// first byte, as libxc's zImage64 loader does; when image_size is 0 (Linux &lt; 3.17)
/// text_offset is taken to be 0x80000. The image occupies max(file size, image_size) bytes.
/// Big-endian kernels (flags bit 0) are refused: the vCPU starts little-endian. Flags bit 3 clear
/// asks for a base as close as possible to the start of DRAM, which RAM base is; set, any base
/// would do, and the same one is used.
/// </remarks>
public static class Arm64ImageLoader
{
    private const int ChunkSize = 1 << 30;

    /// <summary>Recognises and places the kernel in <paramref name="bytes"/>; <paramref name="path"/> names it in messages.</summary>
    /// <exception cref="BootException">the file is not an ARM kernel XenSharp can boot, or does not fit the layout.</exception>
    public static Arm64Kernel Parse(ReadOnlyMemory<byte> bytes, string path, Arm64Layout layout)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(layout);
        ReadOnlySpan<byte> span = bytes.Span;
        if (ElfImage.HasElfMagic(span))
            return ParseElf(ElfImage.Parse(bytes, path, ElfTarget.Arm64), layout);
        if (Arm64ImageHeader.HasMagic(span))
            return ParseImage(bytes, path, layout);
        if (BootImageArchitecture.Detect(span) == BootImageKind.X86)
            throw new BootException($"{path}: an x86 kernel (Linux bzImage), but this is an ARM domain (the ARM builder loads an arm64 Image or an AArch64 ELF)");
        throw new BootException(span.Length < Arm64ImageHeader.Size
            ? $"{path}: {span.Length} bytes, too short for an arm64 Image header ({Arm64ImageHeader.Size} bytes) and not an ELF file"
            : $"{path}: neither an AArch64 ELF nor an arm64 Image (no \"ARM\\x64\" magic at offset 0x38)");
    }

    private static Arm64Kernel ParseImage(ReadOnlyMemory<byte> bytes, string path, Arm64Layout layout)
    {
        var header = Arm64ImageHeader.Read(bytes.Span);
        if (header.IsBigEndian)
            throw new BootException($"{path}: a big-endian arm64 Image (flags bit 0 set); XenSharp starts ARM guests little-endian and boots little-endian kernels only");

        ulong textOffset = header.EffectiveTextOffset;
        ulong fileSize = (ulong)bytes.Length;
        ulong size = Math.Max(fileSize, header.ImageSize);
        ulong start = layout.RamBanks[0].Base + textOffset;
        if (textOffset >= layout.RamBanks[0].Size || size > layout.Bank0End - start)
            throw new BootException(
                $"{path}: the Image (text_offset 0x{textOffset:x}, {BootFormat.Size(size)}) does not fit in RAM bank 0 " +
                $"(0x{layout.RamBanks[0].Base:x}..0x{layout.Bank0End:x}); raise memory=");

        var segment = new Arm64KernelSegment(start, bytes, size);
        return new Arm64Kernel(path, Arm64KernelFormat.Image, start, start, start + size, [segment], header);
    }

    private static Arm64Kernel ParseElf(ElfImage image, Arm64Layout layout)
    {
        string path = image.Path;
        var loads = image.LoadSegments.Where(s => s.MemorySize > 0).ToArray();
        if (loads.Length == 0)
            throw new BootException($"{path}: no PT_LOAD segment with contents; nothing to load");

        ulong lowest = ulong.MaxValue, end = 0;
        var segments = new List<Arm64KernelSegment>();
        foreach (var s in loads)
        {
            if (!layout.InRam(s.PhysicalAddress, s.MemorySize))
                throw new BootException(
                    $"{path}: PT_LOAD segment {s.Index} (0x{s.PhysicalAddress:x}..0x{s.PhysicalEnd:x}) is not inside guest RAM " +
                    $"({string.Join(", ", layout.RamBanks.Select(b => $"0x{b.Base:x}..0x{b.End:x}"))}); an ARM guest's RAM starts at 0x40000000");
            foreach (var other in segments)
                if (s.PhysicalAddress < other.End && other.GuestPhysical < s.PhysicalEnd)
                    throw new BootException($"{path}: PT_LOAD segment {s.Index} (0x{s.PhysicalAddress:x}..0x{s.PhysicalEnd:x}) overlaps another segment");
            segments.Add(new Arm64KernelSegment(s.PhysicalAddress, image.Bytes.Slice((int)s.FileOffset, (int)s.FileSize), s.MemorySize));
            lowest = Math.Min(lowest, s.PhysicalAddress);
            end = Math.Max(end, s.PhysicalEnd);
        }

        if (!segments.Any(s => image.Entry >= s.GuestPhysical && image.Entry < s.End))
            throw new BootException($"{path}: entry point 0x{image.Entry:x} is not inside any PT_LOAD segment (ARM ELF kernels are entered at a physical address, with the MMU off)");
        if ((image.Entry & 3) != 0)
            throw new BootException($"{path}: entry point 0x{image.Entry:x} is not 4-byte aligned");

        return new Arm64Kernel(path, Arm64KernelFormat.Elf, image.Entry, lowest, end, segments, null);
    }

    /// <summary>Copies the kernel into guest memory (file bytes, then zeros to each segment's memory size).</summary>
    /// <exception cref="BootException">a segment is not backed by guest memory.</exception>
    public static void Load(GuestMemory memory, Arm64Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        foreach (var s in kernel.Segments)
            if (!BootFormat.FitsInOneRegion(memory, s.GuestPhysical, s.MemorySize))
                throw new BootException($"{kernel.Path}: 0x{s.GuestPhysical:x}..0x{s.End:x} is not in guest RAM ({BootFormat.Ram(memory)})");

        foreach (var s in kernel.Segments)
        {
            ReadOnlySpan<byte> data = s.Data.Span;
            for (int done = 0; done < data.Length; done += ChunkSize)
            {
                int n = Math.Min(ChunkSize, data.Length - done);
                memory.Write(s.GuestPhysical + (ulong)done, data.Slice(done, n));
            }
            for (ulong at = s.GuestPhysical + (ulong)data.Length; at < s.End;)
            {
                int n = (int)Math.Min((ulong)ChunkSize, s.End - at);
                if (!memory.TryGetSpan(at, n, out var span))
                    throw new BootException($"{kernel.Path}: cannot clear 0x{at:x}..0x{at + (ulong)n:x}");
                span.Clear();
                at += (ulong)n;
            }
        }
    }
}
