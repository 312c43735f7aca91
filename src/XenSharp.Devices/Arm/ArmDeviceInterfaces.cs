namespace XenSharp.Devices.Arm;

/// <summary>
/// One interrupt input wire of an interrupt controller, driven by a device as a level: true while
/// the device's interrupt condition holds. Edge-configured interrupts latch on the rising edge.
/// </summary>
public interface IInterruptLine
{
    void SetLevel(bool asserted);
}

/// <summary>
/// A device the guest reaches with loads and stores to guest-physical addresses outside RAM. The
/// CPU finds the device whose [BaseAddress, BaseAddress+Size) holds the address and calls it with
/// the offset from the base and the access size in bytes (1, 2, 4 or 8). Reads of registers that
/// do not exist return 0 and writes to them are ignored (RAZ/WI); nothing here throws for a
/// guest-supplied offset, size or value.
/// </summary>
public interface IArmMmioDevice
{
    ulong BaseAddress { get; }
    ulong Size { get; }
    ulong Read(ulong offset, int size);
    void Write(ulong offset, int size, ulong value);
}

/// <summary>
/// System registers (MRS/MSR) implemented by a device model, identified by
/// <see cref="ArmSysReg.Encode"/> of (op0, op1, CRn, CRm, op2). False means "not mine": the CPU
/// tries the next device or treats the access as undefined.
/// </summary>
public interface IArmSysRegDevice
{
    bool TryReadSysReg(uint encoding, out ulong value);
    bool TryWriteSysReg(uint encoding, ulong value);
}

/// <summary>An interrupt line that goes nowhere (for devices built without a controller).</summary>
public sealed class NullInterruptLine : IInterruptLine
{
    public static readonly NullInterruptLine Instance = new();
    public void SetLevel(bool asserted) { }
}
