namespace XenSharp.X86Emulation;

/// <summary>
/// An exception the emulated instruction raised instead of completing. The caller either
/// injects it into the vCPU (for #PF it must also make CR2 = <see cref="Cr2"/>), or lets
/// <see cref="InterruptDelivery"/> deliver it through the guest's IDT.
/// </summary>
public readonly record struct PendingException(byte Vector, bool HasErrorCode, uint ErrorCode, ulong Cr2 = 0)
{
    public static PendingException Gp(uint errorCode) => new(X86Vectors.GeneralProtection, true, errorCode);
    public static PendingException Ss(uint errorCode) => new(X86Vectors.StackFault, true, errorCode);
    public static PendingException Np(uint errorCode) => new(X86Vectors.SegmentNotPresent, true, errorCode);
    public static PendingException Ts(uint errorCode) => new(X86Vectors.InvalidTss, true, errorCode);
    public static PendingException Ud() => new(X86Vectors.InvalidOpcode, false, 0);
    public static PendingException Pf(uint errorCode, ulong linear) => new(X86Vectors.PageFault, true, errorCode, linear);

    /// <summary>Whether the vector's architectural delivery pushes an error code.</summary>
    public static bool VectorHasErrorCode(byte vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;

    public override string ToString() =>
        Vector == X86Vectors.PageFault ? $"#PF({ErrorCode:x}) cr2=0x{Cr2:x}"
        : HasErrorCode ? $"{X86Vectors.Name(Vector)}(0x{ErrorCode:x})" : X86Vectors.Name(Vector);
}
