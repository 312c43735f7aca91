using System.Numerics;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>
/// The FP/AdvSIMD subset ordinary compiled C uses: loads/stores of B/H/S/D/Q registers, FMOV
/// (register, general, immediate), scalar FADD/FSUB/FMUL/FDIV/FMAX/FMIN/FNMUL, FABS/FNEG/FSQRT,
/// FCVT between single and double, FMADD family, FCMP/FCMPE, FCSEL, SCVTF/UCVTF, FCVTZS/FCVTZU,
/// MOVI/MVNI/ORR/BIC (vector immediate), DUP/INS/UMOV/SMOV, vector integer ADD/SUB/logic/compare,
/// CNT/NOT/ABS/NEG, ADDV/UMAXV/UMINV, USHR/SSHR/SHL/USHLL, EXT. Rounding mode is
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
