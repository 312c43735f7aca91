using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

public enum SegmentRegister { Es, Cs, Ss, Ds, Fs, Gs }

internal static class SegmentRegisterExtensions
{
    public static ref X86Segment Get(this ref X86SpecialRegisters sr, SegmentRegister reg)
    {
        switch (reg)
        {
            case SegmentRegister.Es: return ref sr.Es;
            case SegmentRegister.Cs: return ref sr.Cs;
            case SegmentRegister.Ss: return ref sr.Ss;
            case SegmentRegister.Ds: return ref sr.Ds;
            case SegmentRegister.Fs: return ref sr.Fs;
            default: return ref sr.Gs;
        }
    }

    /// <summary>A segment register loaded with a null selector (unusable in protected mode).</summary>
    public static X86Segment NullSegment(ushort selector) => new() { Selector = selector, Unusable = 1 };

    /// <summary>Real-mode / virtual-8086 style load: base = selector × 16.</summary>
    public static X86Segment RealModeSegment(ushort selector, bool code, int dpl) => new()
    {
        Base = (ulong)selector << 4, Limit = 0xFFFF, Selector = selector, Type = code ? (byte)0xB : (byte)3,
        Present = 1, S = 1, Dpl = (byte)dpl,
    };
}
