using System.Numerics;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>
/// The FP/AdvSIMD subset ordinary compiled C uses: loads/stores of B/H/S/D/Q registers, FMOV
/// (register, general, immediate), scalar FADD/FSUB/FMUL/FDIV/FMAX/FMIN/FNMUL, FABS/FNEG/FSQRT,
/// FCVT between single and double, FMADD family, FCMP/FCMPE, FCSEL, SCVTF/UCVTF, FCVTZS/FCVTZU,
/// MOVI/MVNI/ORR/BIC (vector immediate), DUP/INS/UMOV/SMOV, vector integer ADD/SUB/logic/compare,
/// CNT/NOT/ABS/NEG, ADDV/UMAXV/UMINV, USHR/SSHR/SHL/USHLL, EXT, the structure loads and stores
/// LD1/ST1 (1–4 registers, or one lane) and LD1R, with their post-index forms. Rounding mode is
/// round-to-nearest (FPCR.RMode is not modelled), exceptions flags in FPSR are not computed.
/// CPACR_EL1.FPEN traps (EC 0x07) are honoured.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private void CheckFpEnabled()
    {
        uint fpen = (uint)(_cpacr >> 20) & 3;
        if (fpen == 3 || (fpen == 1 && _el == 0)) return;
        throw SyncException(0x07, 0x1E0_0000);
    }

    private (ulong Lo, ulong Hi) VectorRead(ulong address, int size)
    {
        if (size == 4) { ulong lo = Read(address, 8); ulong hi = Read(address + 8, 8); return (lo, hi); }
        return (Read(address, 1 << size), 0);
    }

    private void VectorWrite(ulong address, int size, ulong lo, ulong hi)
    {
        if (size == 4) { Write(address, 8, lo); Write(address + 8, 8, hi); }
        else Write(address, 1 << size, lo);
    }

    private void VectorLoadStore(int rt, int size, bool load, ulong address)
    {
        if (load) { var (lo, hi) = VectorRead(address, size); _vlo[rt] = lo; _vhi[rt] = hi; }
        else VectorWrite(address, size, _vlo[rt], _vhi[rt]);
    }

    private void SetVScalar(int r, ulong lo) { _vlo[r] = lo; _vhi[r] = 0; }

    /// <summary>
    /// LD1/ST1 (multiple structures) of 1–4 consecutive registers (numbers wrap at 31), 8 bytes
    /// each (Q = 0, the upper half cleared on loads) or 16; the post-index forms add the bytes
    /// transferred (Rm = 31) or Xm. Loads read everything before writing a register.
    /// </summary>
    private void ExecSimdLdStMulti(ref A64Inst d)
    {
        CheckFpEnabled();
        if (d.Op == 0) throw SimdUnsupported(ref d);
        uint w = d.Raw;
        bool q = ((w >> 30) & 1) != 0, load = ((w >> 22) & 1) != 0, post = ((w >> 23) & 1) != 0;
        int regs = d.Op, bytes = q ? 16 : 8;
        ulong address = XSp(d.Rn);
        if (load)
        {
            Span<ulong> lo = stackalloc ulong[4], hi = stackalloc ulong[4];
            for (int i = 0; i < regs; i++)
            {
                ulong a = address + (ulong)(i * bytes);
                lo[i] = Read(a, 8);
                hi[i] = q ? Read(a + 8, 8) : 0;
            }
            for (int i = 0; i < regs; i++) { int t = (d.Rd + i) & 31; _vlo[t] = lo[i]; _vhi[t] = hi[i]; }
        }
        else
        {
            for (int i = 0; i < regs; i++)
            {
                int t = (d.Rd + i) & 31;
                ulong a = address + (ulong)(i * bytes);
                Write(a, 8, _vlo[t]);
                if (q) Write(a + 8, 8, _vhi[t]);
            }
        }
        if (post) SetXSp(d.Rn, address + (d.Rm == 31 ? (ulong)(regs * bytes) : X(d.Rm)));
    }

    /// <summary>
    /// LD1/ST1 (single structure): one lane, the others kept; LD1R: one element replicated to
    /// every lane (Q = 0: the lower 64 bits, the upper half cleared). The post-index forms add the
    /// element size (Rm = 31) or Xm.
    /// </summary>
    private void ExecSimdLdStSingle(ref A64Inst d)
    {
        CheckFpEnabled();
        if (d.Op == 0) throw SimdUnsupported(ref d);
        uint w = d.Raw;
        bool q = ((w >> 30) & 1) != 0, load = ((w >> 22) & 1) != 0, post = ((w >> 23) & 1) != 0;
        int esize = 1 << d.Size, t = d.Rd;
        ulong address = XSp(d.Rn);
        if (d.Op == 2)
        {
            ulong v = Read(address, esize);
            for (int bits = esize * 8; bits < 64; bits *= 2) v |= v << bits;
            _vlo[t] = v;
            _vhi[t] = q ? v : 0;
        }
        else if (load)
        {
            ulong v = Read(address, esize);
            ulong lo = _vlo[t], hi = _vhi[t];
            SetElem(ref lo, ref hi, (int)d.Imm2, esize * 8, v);
            _vlo[t] = lo; _vhi[t] = hi;
        }
        else Write(address, esize, GetElem(t, (int)d.Imm2, esize * 8));
        if (post) SetXSp(d.Rn, address + (d.Rm == 31 ? (ulong)esize : X(d.Rm)));
    }

    private static ulong ElemMask(int esize) => esize == 64 ? ulong.MaxValue : (1UL << esize) - 1;

    private ulong GetElem(int reg, int index, int esize)
    {
        int bit = index * esize;
        ulong half = bit < 64 ? _vlo[reg] : _vhi[reg];
        return (half >> (bit & 63)) & ElemMask(esize);
    }

    private static void SetElem(ref ulong lo, ref ulong hi, int index, int esize, ulong value)
    {
        int bit = index * esize;
        ulong m = ElemMask(esize) << (bit & 63);
        if (bit < 64) lo = (lo & ~m) | ((value << (bit & 63)) & m);
        else hi = (hi & ~m) | ((value << (bit & 63)) & m);
    }
}
