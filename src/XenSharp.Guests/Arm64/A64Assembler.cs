using System.Buffers.Binary;

namespace XenSharp.Guests.Arm64;

/// <summary>
/// Just enough of an A64 assembler for the built-in AArch64 guests: the instructions they use,
/// encoded from the ARM ARM's encoding tables, with labels resolved when the code is finished.
/// Registers are numbers 0..30 (31 is XZR or SP, as the instruction defines).
/// </summary>
public sealed class A64Assembler
{
    private readonly List<uint> _code = [];
    private readonly List<(int At, Label Target, Func<uint, long, uint> Patch)> _fixups = [];

    /// <summary>A position in the code, bound once with <see cref="Bind"/>.</summary>
    public sealed class Label
    {
        internal int Index = -1;
    }

    /// <summary>Bytes emitted so far.</summary>
    public int Size => _code.Count * 4;

    public Label NewLabel() => new();

    public void Bind(Label label)
    {
        if (label.Index >= 0) throw new InvalidOperationException("label bound twice");
        label.Index = _code.Count;
    }

    private void Emit(uint word) => _code.Add(word);

    /// <summary>Emits an instruction word as given (for encodings this class has no method for).</summary>
    public void Raw(uint word) => Emit(word);

    private static uint R(int r) => (uint)r & 31;

    /// <summary>Loads a 64-bit constant with MOVZ and as many MOVKs as it needs.</summary>
    public void Mov(int rd, ulong value)
    {
        Emit(0xD280_0000u | (uint)(value & 0xFFFF) << 5 | R(rd));
        for (int hw = 1; hw < 4; hw++)
        {
            uint part = (uint)(value >> (16 * hw)) & 0xFFFF;
            if (part != 0) Emit(0xF280_0000u | (uint)hw << 21 | part << 5 | R(rd));
        }
    }

    /// <summary>MOV Xd, Xm (ORR Xd, XZR, Xm).</summary>
    public void MovReg(int rd, int rm) => Emit(0xAA00_03E0u | R(rm) << 16 | R(rd));

    public void AddImm(int rd, int rn, uint imm12) => Emit(0x9100_0000u | (imm12 & 0xFFF) << 10 | R(rn) << 5 | R(rd));
    public void SubImm(int rd, int rn, uint imm12) => Emit(0xD100_0000u | (imm12 & 0xFFF) << 10 | R(rn) << 5 | R(rd));
    /// <summary>SUB Xd, Xn, Xm.</summary>
    public void SubReg(int rd, int rn, int rm) => Emit(0xCB00_0000u | R(rm) << 16 | R(rn) << 5 | R(rd));
    /// <summary>CMP Xn, Xm (SUBS XZR, Xn, Xm).</summary>
    public void CmpReg(int rn, int rm) => Emit(0xEB00_001Fu | R(rm) << 16 | R(rn) << 5);
    /// <summary>CMP Xn, #imm12 (SUBS XZR, Xn, #imm12).</summary>
    public void CmpImm(int rn, uint imm12) => Emit(0xF100_001Fu | (imm12 & 0xFFF) << 10 | R(rn) << 5);
    public void Udiv(int rd, int rn, int rm) => Emit(0x9AC0_0800u | R(rm) << 16 | R(rn) << 5 | R(rd));
    /// <summary>MSUB Xd, Xn, Xm, Xa: Xd = Xa − Xn × Xm.</summary>
    public void Msub(int rd, int rn, int rm, int ra) => Emit(0x9B00_8000u | R(rm) << 16 | R(ra) << 10 | R(rn) << 5 | R(rd));
    /// <summary>LSR Xd, Xn, #shift (UBFM Xd, Xn, #shift, #63).</summary>
    public void LsrImm(int rd, int rn, int shift) => Emit(0xD340_FC00u | (uint)(shift & 63) << 16 | R(rn) << 5 | R(rd));
    /// <summary>AND Xd, Xn, #0xFFFF.</summary>
    public void AndLow16(int rd, int rn) => Emit(0x9240_3C00u | R(rn) << 5 | R(rd));

    public void Ldrb(int rt, int rn, uint offset = 0) => Emit(0x3940_0000u | (offset & 0xFFF) << 10 | R(rn) << 5 | R(rt));
    public void Strb(int rt, int rn, uint offset = 0) => Emit(0x3900_0000u | (offset & 0xFFF) << 10 | R(rn) << 5 | R(rt));
    /// <summary>LDR Wt, [Xn, #offset] (offset a multiple of 4).</summary>
    public void LdrW(int rt, int rn, uint offset = 0) => Emit(0xB940_0000u | (offset / 4 & 0xFFF) << 10 | R(rn) << 5 | R(rt));
    /// <summary>STR Wt, [Xn, #offset] (offset a multiple of 4).</summary>
    public void StrW(int rt, int rn, uint offset = 0) => Emit(0xB900_0000u | (offset / 4 & 0xFFF) << 10 | R(rn) << 5 | R(rt));

    public void Hvc(ushort imm) => Emit(0xD400_0002u | (uint)imm << 5);
    /// <summary>MSR VBAR_EL1, Xt.</summary>
    public void MsrVbarEl1(int rt) => Emit(0xD518_C000u | R(rt));
    /// <summary>MRS Xt, ELR_EL1.</summary>
    public void MrsElrEl1(int rt) => Emit(0xD538_4020u | R(rt));
    /// <summary>MSR ELR_EL1, Xt.</summary>
    public void MsrElrEl1(int rt) => Emit(0xD518_4020u | R(rt));
    public void Eret() => Emit(0xD69F_03E0u);
    /// <summary>Pads with UDF #0 words up to <paramref name="offset"/> bytes from the start.</summary>
    public void AlignTo(int offset)
    {
        if (Size > offset) throw new InvalidOperationException($"code is already past offset 0x{offset:x}");
        while (Size < offset) Emit(0);
    }
    public void Ret() => Emit(0xD65F_03C0u);
    public void Wfi() => Emit(0xD503_207Fu);

    public void B(Label target) => Branch(0x1400_0000u, target, Imm26);
    public void Bl(Label target) => Branch(0x9400_0000u, target, Imm26);
    public void Cbz(int rt, Label target) => Branch(0xB400_0000u | R(rt), target, Imm19);
    public void Cbnz(int rt, Label target) => Branch(0xB500_0000u | R(rt), target, Imm19);
    /// <summary>B.cond (cond: 0 EQ, 1 NE, 2 HS, 3 LO, …, 10 GE, 11 LT, 12 GT, 13 LE).</summary>
    public void BCond(int cond, Label target) => Branch(0x5400_0000u | (uint)(cond & 15), target, Imm19);
    /// <summary>TBNZ Wt, #bit, label (bit &lt; 32).</summary>
    public void Tbnz(int rt, int bit, Label target) => Branch(0x3700_0000u | (uint)(bit & 31) << 19 | R(rt), target, Imm14);
    /// <summary>ADR Xd, label.</summary>
    public void Adr(int rd, Label target) => Branch(0x1000_0000u | R(rd), target,
        (w, d) => w | ((uint)d & 3) << 29 | ((uint)(d >> 2) & 0x7FFFF) << 5, scaled: false);

    private static uint Imm26(uint w, long d) => w | ((uint)d & 0x03FF_FFFF);
    private static uint Imm19(uint w, long d) => w | ((uint)d & 0x7FFFF) << 5;
    private static uint Imm14(uint w, long d) => w | ((uint)d & 0x3FFF) << 5;

    private void Branch(uint word, Label target, Func<uint, long, uint> patch, bool scaled = true)
    {
        int at = _code.Count;
        _fixups.Add((at, target, scaled ? patch : (w, words) => patch(w, words * 4)));
        Emit(word);
    }

    /// <summary>The finished code, every label resolved.</summary>
    public byte[] ToArray()
    {
        foreach (var (at, target, patch) in _fixups)
        {
            if (target.Index < 0) throw new InvalidOperationException("branch to a label never bound");
            _code[at] = patch(_code[at], target.Index - at);
        }
        _fixups.Clear();
        var bytes = new byte[_code.Count * 4];
        for (int i = 0; i < _code.Count; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), _code[i]);
        return bytes;
    }

    /// <summary>Appends raw bytes (strings), padded to a whole instruction word.</summary>
    public void Data(ReadOnlySpan<byte> bytes)
    {
        var padded = new byte[(bytes.Length + 3) & ~3];
        bytes.CopyTo(padded);
        for (int i = 0; i < padded.Length; i += 4) Emit(BinaryPrimitives.ReadUInt32LittleEndian(padded.AsSpan(i)));
    }
}
