namespace XenSharp.X86Emulation;

/// <summary>Architectural exception vectors (Intel SDM vol. 3 table 6-1).</summary>
public static class X86Vectors
{
    public const byte DivideError = 0, Debug = 1, Nmi = 2, Breakpoint = 3, Overflow = 4, BoundRange = 5,
        InvalidOpcode = 6, DeviceNotAvailable = 7, DoubleFault = 8, InvalidTss = 10, SegmentNotPresent = 11,
        StackFault = 12, GeneralProtection = 13, PageFault = 14, AlignmentCheck = 17;

    public static string Name(byte vector) => vector switch
    {
        0 => "#DE", 1 => "#DB", 2 => "NMI", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM",
        8 => "#DF", 10 => "#TS", 11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF", 16 => "#MF",
        17 => "#AC", 18 => "#MC", 19 => "#XM", _ => $"vector {vector}",
    };
}

/// <summary>RFLAGS bits, control-register and EFER bits used by the emulator.</summary>
public static class X86Flags
{
    public const ulong CF = 1 << 0, Fixed1 = 1 << 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7,
        TF = 1 << 8, IF = 1 << 9, DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16,
        VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;

    /// <summary>Arithmetic flags plus TF, DF, OF: what any IRET/POPF image may change.</summary>
    public const ulong Status = CF | PF | AF | ZF | SF | TF | DF | OF;

    public const ulong Cr0Pe = 1, Cr0Wp = 1 << 16, Cr0Pg = 1UL << 31;
    public const ulong Cr4Vme = 1, Cr4Pse = 1 << 4, Cr4Pae = 1 << 5, Cr4La57 = 1 << 12, Cr4Smep = 1 << 20, Cr4Smap = 1 << 21;
    public const ulong EferSce = 1, EferLme = 1 << 8, EferLma = 1 << 10, EferNxe = 1 << 11;

    public static int Iopl(ulong rflags) => (int)((rflags >> 12) & 3);
}
