using System.Runtime.CompilerServices;
using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

/// <summary>
/// Loads and stores: every single-register and pair addressing mode, literal loads, exclusives
/// with a local monitor, acquire/release, LSE atomics (LDADD/LDCLR/LDEOR/LDSET/LDSMAX/LDSMIN/
/// LDUMAX/LDUMIN/SWP, CAS, CASP). Ordering variants (A/L) need nothing extra: each vCPU runs
/// on one thread and the read-modify-writes are host interlocked operations, which are full barriers.
/// Exclusives follow QEMU's scheme: LDXR records the address and the value; STXR succeeds when the
/// monitor is set for that address and a compare-exchange against the recorded value succeeds,
/// which also makes it atomic against other vCPUs.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private bool _exclusiveValid;
    private ulong _exclusiveAddress, _exclusiveValue, _exclusiveValue2;
    private int _exclusiveSize;
    private static readonly object PairLock = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LoadValue(int size, byte op, ulong raw) => op switch
    {
        A64Decoder.LsLoadSigned64 => size switch { 0 => (ulong)(sbyte)raw, 1 => (ulong)(short)raw, _ => (ulong)(int)raw },
        A64Decoder.LsLoadSigned32 => size switch { 0 => (uint)(sbyte)raw, _ => (uint)(short)raw },
        _ => raw,
    };

    private void ExecLdSt(ref A64Inst d, ulong address, bool unpriv)
    {
        byte op = d.Op;
        int size = d.Size;
        if ((op & A64Decoder.LsVector) != 0) { CheckFpEnabled(); VectorLoadStore(d.Rd, size, (op & 1) != 0, address); return; }
        if (op == A64Decoder.LsStore) Write(address, 1 << size, X(d.Rd), unpriv);
        else if (op == A64Decoder.LsPrefetch) { }
        else SetXr(d.Rd, LoadValue(size, op, Read(address, 1 << size, unpriv)));
    }

    private void ExecLdStImm9(ref A64Inst d)
    {
        ulong b = XSp(d.Rn);
        switch (d.Imm2)
        {
            case 0: ExecLdSt(ref d, b + (ulong)d.Imm, false); break;
            case 2: ExecLdSt(ref d, b + (ulong)d.Imm, true); break;
            case 1: ExecLdSt(ref d, b, false); SetXSp(d.Rn, b + (ulong)d.Imm); break;
            default: { ulong a = b + (ulong)d.Imm; ExecLdSt(ref d, a, false); SetXSp(d.Rn, a); break; }
        }
    }

    private void ExecLdrLiteral(ref A64Inst d)
    {
        ulong address = _instrPc + (ulong)d.Imm;
        if ((d.Op & A64Decoder.LsVector) != 0) { CheckFpEnabled(); VectorLoadStore(d.Rd, d.Size, true, address); return; }
        if (d.Op == A64Decoder.LsPrefetch) return;
        SetXr(d.Rd, LoadValue(d.Size, d.Op, Read(address, 1 << d.Size)));
    }

    private void ExecLdStPair(ref A64Inst d)
    {
        ulong b = XSp(d.Rn);
        ulong address = d.Op == 1 ? b : b + (ulong)d.Imm;
        int bytes = 1 << d.Size;
        bool load = (d.Imm2 & 1) != 0 || d.Imm2 == A64Decoder.LsLoadSigned64;
        if ((d.Imm2 & 8) != 0)
        {
            CheckFpEnabled();
            if (load)
            {
                var (l1, h1) = VectorRead(address, d.Size);
                var (l2, h2) = VectorRead(address + (ulong)bytes, d.Size);
                _vlo[d.Rd] = l1; _vhi[d.Rd] = h1; _vlo[d.Ra] = l2; _vhi[d.Ra] = h2;
            }
            else
            {
                VectorWrite(address, d.Size, _vlo[d.Rd], _vhi[d.Rd]);
                VectorWrite(address + (ulong)bytes, d.Size, _vlo[d.Ra], _vhi[d.Ra]);
            }
        }
        else if (load)
        {
            ulong v1 = Read(address, bytes), v2 = Read(address + (ulong)bytes, bytes);
            if (d.Imm2 == A64Decoder.LsLoadSigned64) { v1 = (ulong)(int)v1; v2 = (ulong)(int)v2; }
            SetXr(d.Rd, v1); SetXr(d.Ra, v2);
        }
        else
        {
            ulong v1 = X(d.Rd), v2 = X(d.Ra);
            Write(address, bytes, v1);
            Write(address + (ulong)bytes, bytes, v2);
        }
        if (d.Op == 1) SetXSp(d.Rn, b + (ulong)d.Imm);
        else if (d.Op == 3) SetXSp(d.Rn, address);
    }

    // ---- Exclusives, acquire/release, CAS/CASP (the "load/store exclusive" group)

    private void ExecLdStExclusive(ref A64Inst d)
    {
        uint w = d.Raw;
        uint o2 = (w >> 23) & 1, l = (w >> 22) & 1, o1 = (w >> 21) & 1;
        int size = d.Size, bytes = 1 << size;
        int rs = d.Rm, rt = d.Rd, rt2 = d.Ra;
        ulong address = XSp(d.Rn);
        if (o2 == 1 && o1 == 1)
        {
            if (rt2 != 31) throw Undefined();
            ExecCas(size, rs, rt, address);
            return;
        }
        if (o2 == 0 && o1 == 1 && size < 2)
        {
            if (rt2 != 31) throw Undefined();
            ExecCasp(size + 2, rs, rt, address);
            return;
        }
        if (o2 == 1)
        {
            // LDAR/STLR (o0=1) and LDLAR/STLLR (o0=0): ordered single accesses, aligned.
            if ((address & (ulong)(bytes - 1)) != 0) throw AlignmentFault(address, l == 0);
            if (l != 0) SetXr(rt, Read(address, bytes));
            else Write(address, bytes, X(rt));
            return;
        }
        bool pair = o1 == 1;
        if (pair) { size = 2 + (size & 1); bytes = 1 << size; }
        int total = pair ? bytes * 2 : bytes;
        if ((address & (ulong)(total - 1)) != 0) throw AlignmentFault(address, l == 0);
        if (l != 0)
        {
            // LDXR / LDAXR / LDXP / LDAXP
            byte* p = RmwPtr(address, total, false);
            ulong v1, v2 = 0;
            if (pair)
            {
                if (bytes == 8) { lock (PairLock) { v1 = ((ulong*)p)[0]; v2 = ((ulong*)p)[1]; } }
                else { ulong both = Volatile.Read(ref *(ulong*)p); v1 = (uint)both; v2 = both >> 32; }
            }
            else v1 = ReadHost(p, bytes);
            _exclusiveValid = true; _exclusiveAddress = address; _exclusiveSize = total;
            _exclusiveValue = v1; _exclusiveValue2 = v2;
            SetXr(rt, v1);
            if (pair) SetXr(rt2, v2);
        }
        else
        {
            // STXR / STLXR / STXP / STLXP: Rs gets 0 on success, 1 on failure.
            byte* p = RmwPtr(address, total, true);
            bool ok = false;
            if (_exclusiveValid && _exclusiveAddress == address && _exclusiveSize == total)
            {
                if (pair)
                {
                    if (bytes == 8)
                    {
                        lock (PairLock)
                        {
                            ulong* q = (ulong*)p;
                            if (q[0] == _exclusiveValue && q[1] == _exclusiveValue2) { q[0] = X(rt); q[1] = X(rt2); ok = true; }
                        }
                    }
                    else
                    {
                        ulong expect = _exclusiveValue | (_exclusiveValue2 << 32);
                        ulong nv = (uint)X(rt) | ((ulong)(uint)X(rt2) << 32);
                        ok = Interlocked.CompareExchange(ref *(ulong*)p, nv, expect) == expect;
                    }
                }
                else ok = CompareExchangeHost(p, bytes, _exclusiveValue, X(rt)) == _exclusiveValue;
            }
            _exclusiveValid = false;
            SetXr(rs, ok ? 0UL : 1UL);
        }
    }

    private static ulong ReadHost(byte* p, int bytes) => bytes switch
    {
        8 => Volatile.Read(ref *(ulong*)p),
        4 => Volatile.Read(ref *(uint*)p),
        2 => Volatile.Read(ref *(ushort*)p),
        _ => Volatile.Read(ref *p),
    };

    /// <summary>Compare-exchange of 1/2/4/8 bytes at an aligned host pointer; returns the old value.</summary>
    private static ulong CompareExchangeHost(byte* p, int bytes, ulong expected, ulong value)
    {
        switch (bytes)
        {
            case 8: return Interlocked.CompareExchange(ref *(ulong*)p, value, expected);
            case 4: return Interlocked.CompareExchange(ref *(uint*)p, (uint)value, (uint)expected);
            default:
            {
                // 1 or 2 bytes: work on the aligned 4-byte word around them.
                uint* word = (uint*)((nuint)p & ~(nuint)3);
                int shift = (int)((nuint)p & 3) * 8;
                uint mask = (bytes == 1 ? 0xFFu : 0xFFFFu) << shift;
                while (true)
                {
                    uint cur = Volatile.Read(ref *word);
                    uint old = (cur & mask) >> shift;
                    if (old != (uint)(expected & (mask >> shift))) return old;
                    uint nv = (cur & ~mask) | (((uint)value << shift) & mask);
                    if (Interlocked.CompareExchange(ref *word, nv, cur) == cur) return old;
                }
            }
        }
    }

    private void ExecCas(int size, int rs, int rt, ulong address)
    {
        int bytes = 1 << size;
        byte* p = RmwPtr(address, bytes, true);
        ulong mask = bytes == 8 ? ulong.MaxValue : (1UL << (8 * bytes)) - 1;
        ulong expected = X(rs) & mask;
        ulong old = CompareExchangeHost(p, bytes, expected, X(rt));
        SetXr(rs, old);
    }

    private void ExecCasp(int size, int rs, int rt, ulong address)
    {
        if ((rs & 1) != 0 || (rt & 1) != 0) throw Undefined();
        int bytes = 1 << size;
        byte* p = RmwPtr(address, bytes * 2, true);
        ulong o1, o2;
        if (bytes == 8)
        {
            lock (PairLock)
            {
                ulong* q = (ulong*)p;
                o1 = q[0]; o2 = q[1];
                if (o1 == X(rs) && o2 == X(rs + 1)) { q[0] = X(rt); q[1] = X(rt + 1); }
            }
        }
        else
        {
            ulong expect = (uint)X(rs) | ((ulong)(uint)X(rs + 1) << 32);
            ulong nv = (uint)X(rt) | ((ulong)(uint)X(rt + 1) << 32);
            ulong old = Interlocked.CompareExchange(ref *(ulong*)p, nv, expect);
            o1 = (uint)old; o2 = old >> 32;
        }
        SetXr(rs, o1); SetXr(rs + 1, o2);
    }

    private void ExecAtomic(ref A64Inst d)
    {
        int bytes = 1 << d.Size;
        ulong address = XSp(d.Rn);
        byte* p = RmwPtr(address, bytes, true);
        ulong mask = bytes == 8 ? ulong.MaxValue : (1UL << (8 * bytes)) - 1;
        ulong operand = X(d.Rm) & mask;
        int op = d.Op;
        ulong old;
        while (true)
        {
            old = ReadHost(p, bytes);
            ulong nv = op switch
            {
                0 => old + operand,
                1 => old & ~operand,
                2 => old ^ operand,
                3 => old | operand,
                4 => SignedLess(old, operand, bytes) ? operand : old,
                5 => SignedLess(old, operand, bytes) ? old : operand,
                6 => old < operand ? operand : old,
                7 => old < operand ? old : operand,
                _ => operand,
            } & mask;
            if (CompareExchangeHost(p, bytes, old, nv) == old) break;
        }
        SetXr(d.Rd, old);
    }

    private static bool SignedLess(ulong a, ulong b, int bytes)
    {
        int sh = 64 - 8 * bytes;
        return ((long)(a << sh) >> sh) < ((long)(b << sh) >> sh);
    }
}
