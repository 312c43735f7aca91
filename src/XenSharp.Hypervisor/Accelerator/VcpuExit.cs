namespace XenSharp.Hypervisor.Accelerator;

/// <summary>Why a vCPU stopped running guest code.</summary>
public enum VcpuExitKind
{
    /// <summary>An I/O port access (Port, Size, IsWrite, Data).</summary>
    Io,
    /// <summary>An access to guest-physical memory that is not RAM (Address, Size, IsWrite, Data).</summary>
    Mmio,
    /// <summary>The guest executed HLT (x86) or WFI with no interrupt pending (ARM).</summary>
    Halt,
    /// <summary>The guest triple-faulted (or otherwise shut the CPU down).</summary>
    Shutdown,
    /// <summary>The accelerator could not continue (e.g. instruction emulation failed): Detail says why.</summary>
    InternalError,
    /// <summary>The accelerator refused to enter the guest: Detail says why.</summary>
    FailEntry,
    /// <summary>RDMSR of an MSR the accelerator leaves to us (MsrIndex); answer with CompleteMsrRead.</summary>
    MsrRead,
    /// <summary>WRMSR of an MSR the accelerator leaves to us (MsrIndex, MsrData); answer with CompleteMsrWrite.</summary>
    MsrWrite,
    /// <summary>Run was interrupted by <see cref="IVcpu.Kick"/> (or a signal).</summary>
    Interrupted,
    /// <summary>The guest can take an interrupt now (requested with RequestInterruptWindow).</summary>
    InterruptWindow,
    /// <summary>A Xen hypercall through the architecture's own instruction (ARM: HVC #0xEA1); registers hold the number and arguments.</summary>
    Hypercall,
    /// <summary>A PSCI / SMCCC call (ARM: HVC #0 or SMC #0); the function id is in x0.</summary>
    Psci,
    /// <summary>Anything else; Detail names the raw reason.</summary>
    Other,
}

/// <summary>
/// Details of the last exit. A plain mutable struct owned by the vCPU and overwritten by each
/// Run, so that exit handling allocates nothing.
/// </summary>
public struct VcpuExit
{
    public VcpuExitKind Kind;
    public ushort Port;
    public int Size;
    public bool IsWrite;
    /// <summary>Up to 8 bytes of I/O or MMIO data (little endian).</summary>
    public ulong Data;
    /// <summary>Guest-physical address for MMIO.</summary>
    public ulong Address;
    public uint MsrIndex;
    public ulong MsrData;
    /// <summary>Raw accelerator reason and sub-reason, for diagnostics.</summary>
    public uint RawReason;
    public uint RawSubReason;
    /// <summary>Instruction bytes the accelerator reported with an emulation failure (Length 0 if none).</summary>
    public InstructionBytes Instruction;
    public int InstructionLength;
    /// <summary>For InternalError and FailEntry: the accelerator's own words, when it has them.</summary>
    public string? Detail;

    [System.Runtime.CompilerServices.InlineArray(16)]
    public struct InstructionBytes { private byte _element; }
}
