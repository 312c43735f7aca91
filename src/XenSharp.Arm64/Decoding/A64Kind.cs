namespace XenSharp.Arm64.Decoding;

/// <summary>What an A64 instruction is, as the decoder classifies it (the executor sub-decodes the rest from the raw word).</summary>
public enum A64Kind : ushort
{
    Undefined,
    // Data processing, immediate
    Adr, Adrp, AddSubImm, LogicalImm, MoveWide, Bitfield, Extr,
    // Branches, exceptions, system
    B, Bl, BCond, Cbz, Tbz, Br, Blr, Ret, Eret,
    Svc, Hvc, Smc, Brk, Hint, Barrier, MsrImm, Sys, Msr, Mrs,
    // Data processing, register
    LogicalReg, AddSubShifted, AddSubExtended, AdcSbc, CondCompare, CondSelect, DataProc1, DataProc2, DataProc3,
    // Loads and stores
    LdrLiteral, LdStPair, LdStUnsignedImm, LdStImm9, LdStRegOffset, LdStExclusive, AtomicMemOp,
    // FP and AdvSIMD
    FpDataProc, FpMadd, SimdModImm, SimdCopy, SimdThreeSame, SimdTwoMisc, SimdAcross, SimdShiftImm, SimdExt,
    // AdvSIMD structure loads and stores
    SimdLdStMulti, SimdLdStSingle,
}
