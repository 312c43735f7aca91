namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// The MSRs the interpreter keeps itself (besides EFER, APIC_BASE and the FS/GS bases, which live in
/// <see cref="X86EmulationState.Special"/>). It is also the <see cref="IMsrReader"/> the fast system
/// calls (SYSCALL/SYSRET/SYSENTER/SYSEXIT) read.
/// </summary>
public sealed class InterpreterMsrs : MsrValues
{
    public const uint Tsc = 0x10, ApicBase = 0x1B, MtrrCap = 0xFE, SysenterCsIndex = 0x174, SysenterEspIndex = 0x175,
        SysenterEipIndex = 0x176, MiscEnableIndex = 0x1A0, PatIndex = 0x277, MtrrDefTypeIndex = 0x2FF,
        Efer = 0xC0000080, StarIndex = 0xC0000081, LstarIndex = 0xC0000082, CstarIndex = 0xC0000083,
        SfmaskIndex = 0xC0000084, FsBase = 0xC0000100, GsBase = 0xC0000101, KernelGsBaseIndex = 0xC0000102,
        TscAuxIndex = 0xC0000103;

    public ulong KernelGsBase { get; set; }
    /// <summary>IA32_PAT, power-on value.</summary>
    public ulong Pat { get; set; } = 0x0007_0406_0007_0406;
    /// <summary>IA32_MISC_ENABLE (bit 0: fast strings).</summary>
    public ulong MiscEnable { get; set; } = 1;
    public ulong MtrrDefType { get; set; }
    /// <summary>IA32_TSC_AUX, what RDTSCP returns in ECX.</summary>
    public ulong TscAux { get; set; }
}
