namespace XenSharp.X86Emulation.Interpreter;

/// <summary>Why <see cref="X86Interpreter.Run"/> returned.</summary>
public enum InterpreterStop
{
    /// <summary>The instruction budget is used up; nothing is pending.</summary>
    Budget,
    /// <summary>IN/OUT/INS/OUTS: <see cref="InterpreterExit.Port"/>, Size, IsWrite, Data.</summary>
    Io,
    /// <summary>A data access to a guest-physical address that is not RAM: Address, Size, IsWrite, Data.</summary>
    Mmio,
    /// <summary>HLT at CPL 0; RIP is past the HLT. Wake the vCPU with <see cref="X86Interpreter.DeliverExternalInterrupt"/>.</summary>
    Halt,
    /// <summary>RDMSR of an MSR the interpreter does not keep: MsrIndex. Answer with <see cref="X86Interpreter.CompleteMsrRead"/>.</summary>
    MsrRead,
    /// <summary>WRMSR of an MSR the interpreter does not keep: MsrIndex, MsrData. Answer with <see cref="X86Interpreter.CompleteMsrWrite"/>.</summary>
    MsrWrite,
    /// <summary>Triple fault (a fault while delivering #DF): the vCPU cannot continue.</summary>
    Shutdown,
    /// <summary>
    /// <see cref="X86Interpreter.StopAtInterruptWindow"/> was set and the guest can now take an
    /// interrupt (IF set, no shadow): stopped at that instruction boundary, before executing more.
    /// </summary>
    InterruptWindow,
    /// <summary>Something the interpreter does not implement; <see cref="InterpreterExit.Reason"/> says what. Registers are as before the instruction.</summary>
    Unsupported,
}

/// <summary>Details of the last stop (only the fields that stop kind names are meaningful).</summary>
public struct InterpreterExit
{
    public ushort Port;
    /// <summary>Access size in bytes (1, 2, 4 or 8).</summary>
    public int Size;
    public bool IsWrite;
    /// <summary>The value written (OUT, OUTS, MMIO write), zero-extended.</summary>
    public ulong Data;
    /// <summary>The guest-physical address of an MMIO access.</summary>
    public ulong Address;
    public uint MsrIndex;
    /// <summary>The value of a WRMSR (EDX:EAX).</summary>
    public ulong MsrData;
    public string? Reason;
}
