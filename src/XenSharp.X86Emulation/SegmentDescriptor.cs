using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation;

/// <summary>
/// An 8-byte segment/gate descriptor, or a 16-byte one (system descriptors and gates in long
/// mode: <see cref="High"/> holds bits 127:64). Field positions are those of Intel SDM vol. 3 §3.4.5
/// and §6.14.1.
/// </summary>
public readonly record struct SegmentDescriptor(ulong Low, ulong High = 0)
{
    public const byte TypeTss16Available = 1, TypeLdt = 2, TypeTss16Busy = 3, TypeCallGate16 = 4, TypeTaskGate = 5,
        TypeInterruptGate16 = 6, TypeTrapGate16 = 7, TypeTssAvailable = 9, TypeTssBusy = 11, TypeCallGate = 12,
        TypeInterruptGate = 14, TypeTrapGate = 15;

    public byte Type => (byte)((Low >> 40) & 0xF);
    public bool S => (Low & (1UL << 44)) != 0;
    public int Dpl => (int)((Low >> 45) & 3);
    public bool Present => (Low & (1UL << 47)) != 0;
    public bool Avl => (Low & (1UL << 52)) != 0;
    public bool L => (Low & (1UL << 53)) != 0;
    public bool Db => (Low & (1UL << 54)) != 0;
    public bool G => (Low & (1UL << 55)) != 0;

    public ulong Base32 => ((Low >> 16) & 0xFF_FFFF) | (((Low >> 56) & 0xFF) << 24);
    /// <summary>Base of a 16-byte system descriptor (TSS/LDT in long mode).</summary>
    public ulong Base64 => Base32 | ((High & 0xFFFF_FFFF) << 32);
    public uint RawLimit => (uint)(Low & 0xFFFF) | (uint)((Low >> 48) & 0xF) << 16;
    /// <summary>Limit in bytes (scaled by 4 KiB with G).</summary>
    public uint Limit => G ? (RawLimit << 12) | 0xFFF : RawLimit;

    public bool IsCode => S && (Type & 8) != 0;
    public bool IsData => S && (Type & 8) == 0;
    public bool IsConformingCode => IsCode && (Type & 4) != 0;
    public bool IsReadable => IsData || (Type & 2) != 0;
    public bool IsWritableData => IsData && (Type & 2) != 0;

    // Gate fields.
    public ushort GateSelector => (ushort)(Low >> 16);
    public uint GateOffset32 => (uint)(Low & 0xFFFF) | (uint)((Low >> 48) & 0xFFFF) << 16;
    public ulong GateOffset64 => GateOffset32 | ((High & 0xFFFF_FFFF) << 32);
    public int GateParameterCount => (int)((Low >> 32) & 0x1F);
    public int InterruptStackTable => (int)((Low >> 32) & 7);

    /// <summary>The hidden segment-register contents this descriptor loads (base from <see cref="Base32"/>).</summary>
    public X86Segment ToSegment(ushort selector) => new()
    {
        Base = Base32, Limit = Limit, Selector = selector, Type = Type, Present = 1, Dpl = (byte)Dpl,
        Db = Db ? (byte)1 : (byte)0, S = S ? (byte)1 : (byte)0, L = L ? (byte)1 : (byte)0,
        G = G ? (byte)1 : (byte)0, Avl = Avl ? (byte)1 : (byte)0, Unusable = 0,
    };

    /// <summary>Builds a descriptor (tests and table builders).</summary>
    public static ulong Encode(uint baseAddress, uint limit, byte type, bool s, int dpl, bool present = true,
        bool l = false, bool db = true, bool g = true, bool avl = false)
    {
        ulong d = (limit & 0xFFFFUL) | ((ulong)(baseAddress & 0xFF_FFFF) << 16) | ((ulong)(type & 0xF) << 40)
            | (s ? 1UL << 44 : 0) | ((ulong)(dpl & 3) << 45) | (present ? 1UL << 47 : 0)
            | ((ulong)((limit >> 16) & 0xF) << 48) | (avl ? 1UL << 52 : 0) | (l ? 1UL << 53 : 0)
            | (db ? 1UL << 54 : 0) | (g ? 1UL << 55 : 0) | ((ulong)(baseAddress >> 24) << 56);
        return d;
    }

    /// <summary>Builds a gate: Low and High (High used only by 16-byte long-mode gates).</summary>
    public static (ulong Low, ulong High) EncodeGate(ulong offset, ushort selector, byte type, int dpl, bool present = true, int istOrParams = 0) =>
        ((offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(istOrParams & 0x1F) << 32) | ((ulong)type << 40)
            | ((ulong)(dpl & 3) << 45) | (present ? 1UL << 47 : 0) | (((offset >> 16) & 0xFFFF) << 48),
         offset >> 32);
}
