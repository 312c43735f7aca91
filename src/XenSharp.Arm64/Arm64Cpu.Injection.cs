namespace XenSharp.Arm64;

/// <summary>
/// Exceptions the hypervisor injects in answer to a stop, as Xen/ARM does from EL2: a
/// synchronous external abort for an MMIO access no device serves, and UNDEFINED for an HVC/SMC
/// immediate it does not implement.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>
    /// Answers the last <see cref="Arm64Stop.Mmio"/> stop with a data abort (EC 0x25 from EL1,
    /// 0x24 from EL0; DFSC 0x10 synchronous external abort; WnR for a write) at the accessing
    /// instruction, FAR_EL1 = the virtual address it used. A read stopped before its instruction;
    /// a write had retired it, so the return address is the one before PC.
    /// </summary>
    public void InjectExternalDataAbort()
    {
        bool write = _exit.IsWrite;
        ulong at = write ? _pc - 4 : _pc;
        uint ec = _el == 0 ? 0x24u : 0x25u;
        uint iss = 0x10u | (write ? 1u << 6 : 0);
        _far = _exit.VirtualAddress;
        TakeException(VecSync, ec, iss, at);
    }

    /// <summary>Answers the last <see cref="Arm64Stop.Hvc"/>/<see cref="Arm64Stop.Smc"/> stop (PC past the instruction) with UNDEFINED at that instruction.</summary>
    public void InjectUndefinedAtPreviousInstruction() => TakeException(VecSync, 0, 0, _pc - 4);
}
