namespace XenSharp.X86Emulation;

/// <summary>
/// Reads and writes at linear addresses: each page is translated by <see cref="PageWalker"/>
/// (raising #PF) and then accessed in guest-physical memory. A write that spans two pages
/// translates both before storing anything, so a #PF on the second page leaves memory as it was.
/// A linear address that maps outside guest RAM (MMIO) is reported Unsupported: the emulated
/// instructions never target devices in practice, and the host must not read anything else.
/// Outside long mode linear addresses wrap at 4 GiB.
/// </summary>
public static class LinearMemory
{
    public static ulong Translate(X86EmulationState state, ulong linear, PageAccess access)
    {
        if (!PageWalker.TryTranslate(state, linear, access, out ulong physical, out var fault))
            throw new GuestFaultException(fault);
        return physical;
    }

    /// <summary>Whether the access is a user-mode one at privilege <paramref name="cpl"/>.</summary>
    public static PageAccess ForCpl(int cpl, PageAccess kind) => cpl == 3 ? kind | PageAccess.User : kind;

    public static void Read(X86EmulationState state, ulong linear, Span<byte> destination, PageAccess access)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ulong address = Wrap(state, linear + (ulong)done);
            int chunk = (int)Math.Min((ulong)(destination.Length - done), 4096 - (address & 0xFFF));
            ulong physical = Translate(state, address, access & ~PageAccess.Write);
            if (!state.Memory.TryReadBytes(physical, destination.Slice(done, chunk)))
                throw new EmulationUnsupportedException($"read of guest-physical 0x{physical:x} outside RAM (MMIO)");
            done += chunk;
        }
    }

    public static void Write(X86EmulationState state, ulong linear, ReadOnlySpan<byte> source, PageAccess access)
    {
        access |= PageAccess.Write;
        ulong first = Wrap(state, linear);
        int firstChunk = (int)Math.Min((ulong)source.Length, 4096 - (first & 0xFFF));
        ulong p1 = Translate(state, first, access);
        ulong p2 = 0;
        if (firstChunk < source.Length)
        {
            if (source.Length - firstChunk > 4096) throw new EmulationUnsupportedException("write larger than a page");
            p2 = Translate(state, Wrap(state, first + (ulong)firstChunk), access);
        }
        if (!state.Memory.Contains(p1, (ulong)firstChunk) || (firstChunk < source.Length && !state.Memory.Contains(p2, (ulong)(source.Length - firstChunk))))
            throw new EmulationUnsupportedException($"write to guest-physical 0x{p1:x} outside RAM (MMIO)");
        state.Memory.TryWriteBytes(p1, source[..firstChunk]);
        if (firstChunk < source.Length) state.Memory.TryWriteBytes(p2, source[firstChunk..]);
    }

    public static ulong ReadUInt(X86EmulationState state, ulong linear, int size, PageAccess access)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        Read(state, linear, b[..size], access);
        return BitConverter.ToUInt64(b);
    }

    public static void WriteUInt(X86EmulationState state, ulong linear, int size, ulong value, PageAccess access)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, value);
        Write(state, linear, b[..size], access);
    }

    /// <summary>
    /// Host bytes for a linear range inside one page, translated for write (for atomic
    /// read-modify-write). Null when the range crosses a page boundary.
    /// </summary>
    public static bool TryGetWritableSpan(X86EmulationState state, ulong linear, int length, PageAccess access, out Span<byte> span)
    {
        linear = Wrap(state, linear);
        if ((linear & 0xFFF) + (ulong)length > 4096) { span = default; return false; }
        ulong physical = Translate(state, linear, access | PageAccess.Write);
        if (!state.Memory.TryGetSpan(physical, length, out span))
            throw new EmulationUnsupportedException($"atomic access to guest-physical 0x{physical:x} outside RAM (MMIO)");
        return true;
    }

    private static ulong Wrap(X86EmulationState state, ulong linear) => state.LongModeActive ? linear : linear & 0xFFFF_FFFF;
}
