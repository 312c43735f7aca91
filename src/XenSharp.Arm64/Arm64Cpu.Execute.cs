using XenSharp.Arm64.Decoding;

namespace XenSharp.Arm64;

public sealed unsafe partial class Arm64Cpu
{
    private void Execute(ref A64Inst d)
    {
        switch (d.Kind)
        {
            case A64Kind.Adr: SetXr(d.Rd, _instrPc + (ulong)d.Imm); break;
            case A64Kind.Adrp: SetXr(d.Rd, (_instrPc & ~0xFFFUL) + (ulong)d.Imm); break;
            case A64Kind.AddSubImm: ExecAddSubImm(ref d); break;
            case A64Kind.LogicalImm: ExecLogicalImm(ref d); break;
            case A64Kind.MoveWide: ExecMoveWide(ref d); break;
            case A64Kind.Bitfield: ExecBitfield(ref d); break;
            case A64Kind.Extr: ExecExtr(ref d); break;
            case A64Kind.B: _pc = _instrPc + (ulong)d.Imm; break;
            case A64Kind.Bl: _x[30] = _instrPc + 4; _pc = _instrPc + (ulong)d.Imm; break;
            case A64Kind.BCond: if (ConditionHolds(d.Op)) _pc = _instrPc + (ulong)d.Imm; break;
            case A64Kind.Cbz:
            {
                ulong v = d.Size != 0 ? X(d.Rd) : (uint)X(d.Rd);
                if ((v == 0) == (d.Op == 0)) _pc = _instrPc + (ulong)d.Imm;
                break;
            }
            case A64Kind.Tbz:
            {
                bool set = ((X(d.Rd) >> (int)d.Imm2) & 1) != 0;
                if (set == (d.Op != 0)) _pc = _instrPc + (ulong)d.Imm;
                break;
            }
            case A64Kind.Br: _pc = X(d.Rn); break;
            case A64Kind.Blr: { ulong t = X(d.Rn); _x[30] = _instrPc + 4; _pc = t; break; }
            case A64Kind.Ret: _pc = X(d.Rn); break;
            case A64Kind.Eret: ExecEret(); break;
            case A64Kind.Svc: TakeException(VecSync, 0x15, (uint)d.Imm, _instrPc + 4); break;
            case A64Kind.Hvc:
            case A64Kind.Smc:
                if (_el == 0) throw Undefined();
                _exit.Immediate = (ushort)d.Imm;
                StopAfter(d.Kind == A64Kind.Hvc ? Arm64Stop.Hvc : Arm64Stop.Smc);
                break;
            case A64Kind.Brk: throw SyncException(0x3C, (uint)d.Imm);
            case A64Kind.Hint: ExecHint(ref d); break;
            case A64Kind.Barrier: ExecBarrier(ref d); break;
            case A64Kind.MsrImm: ExecMsrImm(ref d); break;
            case A64Kind.Sys: ExecSys(ref d); break;
            case A64Kind.Msr: ExecMsr(ref d); break;
            case A64Kind.Mrs: ExecMrs(ref d); break;
            case A64Kind.LogicalReg: ExecLogicalReg(ref d); break;
            case A64Kind.AddSubShifted: ExecAddSubShifted(ref d); break;
            case A64Kind.AddSubExtended: ExecAddSubExtended(ref d); break;
            case A64Kind.AdcSbc: ExecAdcSbc(ref d); break;
            case A64Kind.CondCompare: ExecCondCompare(ref d); break;
            case A64Kind.CondSelect: ExecCondSelect(ref d); break;
            case A64Kind.DataProc1: ExecDataProc1(ref d); break;
            case A64Kind.DataProc2: ExecDataProc2(ref d); break;
            case A64Kind.DataProc3: ExecDataProc3(ref d); break;
            case A64Kind.LdrLiteral: ExecLdrLiteral(ref d); break;
            case A64Kind.LdStPair: ExecLdStPair(ref d); break;
            case A64Kind.LdStUnsignedImm: ExecLdSt(ref d, XSp(d.Rn) + (ulong)d.Imm, false); break;
            case A64Kind.LdStImm9: ExecLdStImm9(ref d); break;
            case A64Kind.LdStRegOffset: ExecLdSt(ref d, XSp(d.Rn) + ExtendReg(d.Rm, (int)(d.Raw >> 13) & 7, (int)d.Imm2), false); break;
            case A64Kind.LdStExclusive: ExecLdStExclusive(ref d); break;
            case A64Kind.AtomicMemOp: ExecAtomic(ref d); break;
            case A64Kind.FpDataProc: ExecFpDataProc(ref d); break;
            case A64Kind.FpMadd: ExecFpMadd(ref d); break;
            case A64Kind.SimdModImm: ExecSimdModImm(ref d); break;
            case A64Kind.SimdCopy: ExecSimdCopy(ref d); break;
            case A64Kind.SimdThreeSame: ExecSimdThreeSame(ref d); break;
            case A64Kind.SimdTwoMisc: ExecSimdTwoMisc(ref d); break;
            case A64Kind.SimdAcross: ExecSimdAcross(ref d); break;
            case A64Kind.SimdShiftImm: ExecSimdShiftImm(ref d); break;
            case A64Kind.SimdExt: ExecSimdExt(ref d); break;
            case A64Kind.SimdLdStMulti: ExecSimdLdStMulti(ref d); break;
            case A64Kind.SimdLdStSingle: ExecSimdLdStSingle(ref d); break;
            default: throw Undefined();
        }
    }
}
