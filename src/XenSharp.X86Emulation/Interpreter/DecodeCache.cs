using System.Runtime.CompilerServices;
using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Instruction fetch and the decode cache.
///
/// The cache is direct-mapped (<see cref="CacheSize"/> entries) and keyed by the guest-physical
/// address of the instruction, its RIP (Iced resolves branch targets and RIP-relative operands
/// against it) and the code bitness. A hit is validated by comparing the instruction's bytes as
/// cached with the bytes now in guest memory (two 8-byte loads and masks), so self-modifying code
/// and code written by devices or other vCPUs need no invalidation. Instructions that cross a page
/// boundary are decoded every time and not cached. Iced's decoder runs only on a miss, over a
/// reusable byte buffer (no allocation per instruction).
/// </summary>
public sealed unsafe partial class X86Interpreter
{
    private const int CacheSize = 1 << 16;

    private struct CacheEntry
    {
        public ulong Physical;
        public ulong Rip;
        public ulong Bytes0, Bytes1, Mask0, Mask1;
        public int Bitness;
        public Instruction Instruction;
    }

    private sealed class BufferReader : CodeReader
    {
        public readonly byte[] Buffer = new byte[16];
        public int Position, Length;
        public override int ReadByte() => Position < Length ? Buffer[Position++] : -1;
    }

    private CacheEntry[] _cache = [];
    private readonly BufferReader _reader = new();
    private Decoder? _decoder16, _decoder32, _decoder64;
    private Instruction _uncached;
    /// <summary>The bytes of the instruction being executed (for Unsupported reasons).</summary>
    private ulong _currentBytes0, _currentBytes1;

    private void InitDecodeCache()
    {
        _cache = new CacheEntry[CacheSize];
        for (int i = 0; i < _cache.Length; i++) _cache[i].Physical = ulong.MaxValue;
        _decoder16 = Decoder.Create(16, _reader, 0, DecoderOptions.None);
        _decoder32 = Decoder.Create(32, _reader, 0, DecoderOptions.None);
        _decoder64 = Decoder.Create(64, _reader, 0, DecoderOptions.None);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CacheIndex(ulong physical) => (int)((physical ^ (physical >> 16)) & (CacheSize - 1));

    /// <summary>Fetches and decodes the instruction at CS:RIP (#PF/#GP as the processor raises them).</summary>
    private ref Instruction Fetch()
    {
        ulong rip = _state.Registers.Rip;
        ref var cs = ref _state.Special.Cs;
        ulong linear;
        if (_is64)
        {
            if (!IsCanonical(rip)) throw GuestFaultException.Gp(0);
            linear = rip;
        }
        else
        {
            rip &= _ipMask;
            linear = (cs.Base + rip) & 0xFFFF_FFFF;
        }
        nint host = Translate(linear, PageAccess.Execute, _tlbFetch, out ulong physical);
        if (host == 0)
            throw new EmulationUnsupportedException($"instruction fetch from guest-physical 0x{physical:x}, which is not RAM");
        int offset = (int)(linear & 0xFFF);
        ref var e = ref _cache[CacheIndex(physical)];
        if (e.Physical == physical && e.Rip == rip && e.Bitness == _bitness)
        {
            bool match;
            if (offset <= 4096 - 16)
            {
                ulong b0 = *(ulong*)host, b1 = *(ulong*)(host + 8);
                match = ((b0 ^ e.Bytes0) & e.Mask0) == 0 && ((b1 ^ e.Bytes1) & e.Mask1) == 0;
            }
            else
            {
                match = SlowMatch(host, e.Instruction.Length, e.Bytes0, e.Bytes1);
            }
            if (match)
            {
                _currentBytes0 = e.Bytes0;
                _currentBytes1 = e.Bytes1;
                if (!_is64 && cs.Limit != 0xFFFF_FFFF && rip + (ulong)e.Instruction.Length - 1 > cs.Limit) throw GuestFaultException.Gp(0);
                return ref e.Instruction;
            }
        }
        return ref DecodeMiss(ref e, host, offset, linear, physical, rip);
    }

    private static bool SlowMatch(nint host, int length, ulong bytes0, ulong bytes1)
    {
        for (int k = 0; k < length; k++)
        {
            byte expected = (byte)(k < 8 ? bytes0 >> (8 * k) : bytes1 >> (8 * (k - 8)));
            if (*(byte*)(host + k) != expected) return false;
        }
        return true;
    }

    private ref Instruction DecodeMiss(ref CacheEntry e, nint host, int offset, ulong linear, ulong physical, ulong rip)
    {
        var decoder = _bitness == 64 ? _decoder64! : _bitness == 32 ? _decoder32! : _decoder16!;
        byte[] buffer = _reader.Buffer;
        int inPage = Math.Min(15, 4096 - offset);
        new ReadOnlySpan<byte>((void*)host, inPage).CopyTo(buffer);
        _reader.Position = 0;
        _reader.Length = inPage;
        decoder.IP = rip;
        decoder.Decode(out Instruction instruction);
        bool crossesPage = false;
        if (decoder.LastError == DecoderError.NoMoreBytes && inPage < 15)
        {
            ulong next = Wrap(linear + (ulong)inPage);
            nint host2 = Translate(next, PageAccess.Execute, _tlbFetch, out ulong physical2);
            if (host2 == 0)
                throw new EmulationUnsupportedException($"instruction fetch from guest-physical 0x{physical2:x}, which is not RAM");
            new ReadOnlySpan<byte>((void*)host2, 15 - inPage).CopyTo(buffer.AsSpan(inPage));
            _reader.Position = 0;
            _reader.Length = 15;
            decoder.IP = rip;
            decoder.Decode(out instruction);
            crossesPage = true;
        }
        if (decoder.LastError != DecoderError.None)
        {
            // 15 bytes and still incomplete: too long (#GP); anything else does not decode (#UD).
            throw decoder.LastError == DecoderError.NoMoreBytes ? GuestFaultException.Gp(0) : GuestFaultException.Ud();
        }
        int length = instruction.Length;
        ulong b0 = 0, b1 = 0;
        for (int k = 0; k < length; k++)
        {
            if (k < 8) b0 |= (ulong)buffer[k] << (8 * k);
            else b1 |= (ulong)buffer[k] << (8 * (k - 8));
        }
        _currentBytes0 = b0;
        _currentBytes1 = b1;
        if (!_is64 && _state.Special.Cs.Limit != 0xFFFF_FFFF && rip + (ulong)length - 1 > _state.Special.Cs.Limit)
            throw GuestFaultException.Gp(0);
        if (crossesPage)
        {
            _uncached = instruction;
            return ref _uncached;
        }
        e.Physical = physical;
        e.Rip = rip;
        e.Bitness = _bitness;
        e.Bytes0 = b0;
        e.Bytes1 = b1;
        e.Mask0 = length >= 8 ? ulong.MaxValue : (1UL << (8 * length)) - 1;
        e.Mask1 = length <= 8 ? 0 : (1UL << (8 * (length - 8))) - 1;
        e.Instruction = instruction;
        return ref e.Instruction;
    }

    /// <summary>The reason for an instruction the interpreter does not implement.</summary>
    private NotImplementedInstructionException NotImplemented(in Instruction instruction)
    {
        var sb = new System.Text.StringBuilder();
        for (int k = 0; k < instruction.Length; k++)
            sb.Append(((byte)(k < 8 ? _currentBytes0 >> (8 * k) : _currentBytes1 >> (8 * (k - 8)))).ToString("x2"));
        return new NotImplementedInstructionException(
            $"{instruction.Mnemonic.ToString().ToUpperInvariant()} at {_state.Special.Cs.Selector:x4}:{_saved.Rip:x} (bytes {sb}) is not implemented");
    }
}
