using System.Runtime.InteropServices;

namespace XenSharp.Arm64.Decoding;

/// <summary>
/// One decoded instruction: the kind, the register fields every class uses and the immediates
/// computed once at decode time (branch offsets, logical/bitfield masks, scaled load/store offsets).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct A64Inst
{
    public uint Raw;
    public A64Kind Kind;
    /// <summary>Rd / Rt.</summary>
    public byte Rd;
    public byte Rn;
    public byte Rm;
    /// <summary>Ra / Rt2.</summary>
    public byte Ra;
    /// <summary>Class-specific: log2 access size for loads/stores, sf for data processing.</summary>
    public byte Size;
    /// <summary>Class-specific small operation code (see the decoder).</summary>
    public byte Op;
    public long Imm;
    public ulong Imm2;
}
