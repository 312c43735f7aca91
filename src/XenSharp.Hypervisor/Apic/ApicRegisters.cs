namespace XenSharp.Hypervisor.Apic;

/// <summary>
/// Local APIC register offsets (xAPIC MMIO page; the x2APIC MSR is 0x800 + offset / 16), MSR
/// numbers and register bits (Intel SDM vol. 3A, ch. 11 "Advanced Programmable Interrupt Controller").
/// </summary>
public static class ApicRegisters
{
    // xAPIC MMIO offsets within the 4 KiB page.
    public const int ApicId = 0x020;
    public const int ApicVersion = 0x030;
    public const int Tpr = 0x080;
    public const int Apr = 0x090;
    public const int Ppr = 0x0A0;
    public const int Eoi = 0x0B0;
    public const int Rrd = 0x0C0;
    public const int Ldr = 0x0D0;
    public const int Dfr = 0x0E0;
    public const int Svr = 0x0F0;
    public const int IsrBase = 0x100;   // 8 registers, 0x100–0x170
    public const int TmrBase = 0x180;   // 0x180–0x1F0
    public const int IrrBase = 0x200;   // 0x200–0x270
    public const int Esr = 0x280;
    public const int IcrLow = 0x300;
    public const int IcrHigh = 0x310;
    public const int LvtTimer = 0x320;
    public const int LvtThermal = 0x330;
    public const int LvtPerf = 0x340;
    public const int LvtLint0 = 0x350;
    public const int LvtLint1 = 0x360;
    public const int LvtError = 0x370;
    public const int TimerInitialCount = 0x380;
    public const int TimerCurrentCount = 0x390;
    public const int TimerDivide = 0x3E0;
    /// <summary>x2APIC only (MSR 0x83F).</summary>
    public const int SelfIpi = 0x3F0;

    // MSRs.
    public const uint ApicBaseMsr = 0x1B;
    public const uint TscDeadlineMsr = 0x6E0;
    public const uint X2ApicMsrFirst = 0x800;
    public const uint X2ApicMsrLast = 0x8FF;
    public const uint X2ApicIcrMsr = 0x830;
    public const uint X2ApicSelfIpiMsr = 0x83F;

    // IA32_APIC_BASE bits.
    public const ulong BaseBsp = 1UL << 8;
    public const ulong BaseExtd = 1UL << 10;   // x2APIC mode
    public const ulong BaseEnable = 1UL << 11; // APIC globally enabled
    public const ulong BaseAddressMask = 0x000F_FFFF_FFFF_F000UL;
    public const ulong DefaultBase = 0xFEE0_0000UL;

    /// <summary>Version register: version 0x14 (integrated APIC), max LVT entry 5 (timer, thermal, perf, LINT0, LINT1, error).</summary>
    public const uint VersionValue = 0x0005_0014;

    // SVR.
    public const uint SvrEnable = 1u << 8;
    public const uint SvrReset = 0xFF;

    // LVT bits.
    public const uint LvtMasked = 1u << 16;
    public const uint LvtVectorMask = 0xFF;
    public const uint LvtTimerModeMask = 3u << 17;
    public const uint LvtTimerOneShot = 0u << 17;
    public const uint LvtTimerPeriodic = 1u << 17;
    public const uint LvtTimerTscDeadline = 2u << 17;
    /// <summary>Writable bits per LVT: vector, mask, and the mode/delivery/polarity/trigger bits each has.</summary>
    public const uint LvtTimerWritable = 0xFF | LvtMasked | LvtTimerModeMask;
    public const uint LvtLintWritable = 0xFF | 0x700 | (1u << 13) | (1u << 15) | LvtMasked;
    public const uint LvtErrorWritable = 0xFF | LvtMasked;
    public const uint LvtThermalPerfWritable = 0xFF | 0x700 | LvtMasked;

    // ICR bits.
    public const uint IcrVectorMask = 0xFF;
    public const uint IcrDeliveryModeMask = 7u << 8;
    public const uint IcrDeliveryFixed = 0u << 8;
    public const uint IcrDeliveryLowestPriority = 1u << 8;
    public const uint IcrDestLogical = 1u << 11;
    public const uint IcrShorthandMask = 3u << 18;
    public const uint IcrShorthandNone = 0u << 18;
    public const uint IcrShorthandSelf = 1u << 18;
    public const uint IcrShorthandAllIncludingSelf = 2u << 18;
    public const uint IcrShorthandAllExcludingSelf = 3u << 18;
    /// <summary>The ICR low bits software can write (delivery status, bit 12, always reads 0 here: delivery is instant).</summary>
    public const uint IcrLowWritable = 0xFF | 0x700 | IcrDestLogical | (1u << 14) | (1u << 15) | IcrShorthandMask;

    // ESR bits.
    public const uint EsrSendIllegalVector = 1u << 5;
    public const uint EsrReceiveIllegalVector = 1u << 6;
    public const uint EsrIllegalRegister = 1u << 7;

    /// <summary>Divide configuration: writable bits 0, 1 and 3.</summary>
    public const uint DivideWritable = 0xB;
}
