using XenSharp.Boot.Elf;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot.Pvh;

/// <summary>
/// Places a PVH kernel (an x86 ELF with a XEN_ELFNOTE_PHYS32_ENTRY note) into guest memory:
/// each PT_LOAD segment goes to its p_paddr, with the bytes past p_filesz zeroed. Everything is
/// checked before anything is written, so a rejected kernel leaves guest memory untouched.
/// </summary>
public static class PvhKernelLoader
{
    private const int ChunkSize = 1 << 30;

    /// <summary>Parses and loads the ELF file <paramref name="elf"/>; <paramref name="path"/> names it in messages.</summary>
    /// <exception cref="BootException">the file is malformed, not a PVH kernel, or does not fit in guest RAM.</exception>
    public static LoadedKernel Load(GuestMemory memory, ReadOnlyMemory<byte> elf, string path) =>
        Load(memory, ElfImage.Parse(elf, path));

    /// <summary>Loads an already parsed ELF image.</summary>
    /// <exception cref="BootException">the image is not a PVH kernel or does not fit in guest RAM.</exception>
    public static LoadedKernel Load(GuestMemory memory, ElfImage image)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(image);
        string path = image.Path;

        var notes = XenElfNotes.From(image);
        if (notes.Phys32Entry is not uint entry)
            throw new BootException($"{path}: not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY (18) note; XenSharp boots PVH guests, which need it");

        var segments = image.LoadSegments.Where(s => s.MemorySize > 0).ToArray();
        if (segments.Length == 0)
            throw new BootException($"{path}: no PT_LOAD segment with contents; nothing to load");

        ulong lowest = ulong.MaxValue, end = 0;
        foreach (var s in segments)
        {
            if (!BootFormat.FitsInOneRegion(memory, s.PhysicalAddress, s.MemorySize))
                throw new BootException(
                    $"{path}: PT_LOAD segment {s.Index} (0x{s.PhysicalAddress:x}..0x{s.PhysicalEnd:x}, {BootFormat.Size(s.MemorySize)}) " +
                    $"does not fit in guest RAM ({BootFormat.Ram(memory)}); raise memory= in the domain configuration");
            lowest = Math.Min(lowest, s.PhysicalAddress);
            end = Math.Max(end, s.PhysicalEnd);
        }

        if (!segments.Any(s => entry >= s.PhysicalAddress && entry < s.PhysicalEnd))
            throw new BootException($"{path}: PHYS32_ENTRY 0x{entry:x} is not inside any PT_LOAD segment");

        foreach (var s in segments)
        {
            ReadOnlySpan<byte> data = image.GetFileBytes(s);
            for (int done = 0; done < data.Length; done += ChunkSize)
            {
                int n = Math.Min(ChunkSize, data.Length - done);
                memory.Write(s.PhysicalAddress + (ulong)done, data.Slice(done, n));
            }
            for (ulong at = s.PhysicalAddress + s.FileSize; at < s.PhysicalEnd;)
            {
                int n = (int)Math.Min((ulong)ChunkSize, s.PhysicalEnd - at);
                if (!memory.TryGetSpan(at, n, out var span))
                    throw new BootException($"{path}: PT_LOAD segment {s.Index}: cannot clear 0x{at:x}..0x{at + (ulong)n:x}");
                span.Clear();
                at += (ulong)n;
            }
        }

        return new LoadedKernel(entry, lowest, end - 1, notes, image);
    }
}
