using XenSharp.Abi.Arm;
namespace XenSharp.Devices.Arm;

public sealed partial class GicV3
{
    private enum BitKind { Group, SetEnable, ClearEnable, SetPending, ClearPending, SetActive, ClearActive }

    private const uint Pidr2 = 0x3B;     // ArchRev 3 (GICv3), JEDEC, JEP106 of Arm

    private static uint IdRegister(ulong off) => off switch
    {
        0xFFD0 => 0x44,                  // PIDR4
        0xFFE0 => 0x92,                  // PIDR0
        0xFFE4 => 0xB4,                  // PIDR1
        0xFFE8 => Pidr2,
        0xFFEC => 0x00,                  // PIDR3
        0xFFF0 => 0x0D, 0xFFF4 => 0xF0, 0xFFF8 => 0x05, 0xFFFC => 0xB1,   // CIDR0-3
        _ => 0,
    };

    private uint ReadBits(int vcpu, uint first, BitKind kind)
    {
        uint v = 0;
        for (int i = 0; i < 32; i++)
        {
            uint id = first + (uint)i;
            if (id >= 32 && !ValidSpi(id)) break;
            ref var s = ref State(vcpu, id);
            bool bit = kind switch
            {
                BitKind.Group => s.Group1,
                BitKind.SetEnable or BitKind.ClearEnable => s.Enabled,
                BitKind.SetPending or BitKind.ClearPending => s.Pending,
                _ => s.Active,
            };
            if (bit) v |= 1u << i;
        }
        return v;
    }

    private void WriteBits(int vcpu, uint first, BitKind kind, uint value)
    {
        for (int i = 0; i < 32; i++)
        {
            uint id = first + (uint)i;
            if (id >= 32 && !ValidSpi(id)) break;
            ref var s = ref State(vcpu, id);
            bool bit = (value & (1u << i)) != 0;
            switch (kind)
            {
                case BitKind.Group: s.Group1 = bit; break;
                case BitKind.SetEnable: if (bit) s.Enabled = true; break;
                case BitKind.ClearEnable: if (bit) s.Enabled = false; break;
                case BitKind.SetPending: if (bit) s.Latch = true; break;
                case BitKind.ClearPending: if (bit) s.Latch = false; break;   // a high level line keeps it pending
                case BitKind.SetActive: if (bit) s.Active = true; break;
                case BitKind.ClearActive: if (bit) s.Active = false; break;
            }
        }
    }

    /// <summary>IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER at 0x080..0x3FF (same offsets in GICD and SGI_base); index = which 32-bit word.</summary>
    private static BitKind? BitRegister(ulong off, out uint index)
    {
        index = 0;
        if (off < 0x080 || off >= 0x400) return null;
        ulong rel = off - 0x080;
        int group = (int)(rel / 0x80);
        index = (uint)((off - (0x080 + (ulong)group * 0x80)) / 4);
        return (BitKind)group;
    }

    // ---------------------------------------------------------------- distributor

    private ulong DistributorRead(ulong off, int size)
    {
        if (off >= 0x6000 && off < 0x8000) return RouterRead(off, size);
        if (off >= 0x400 && off < 0x800) return PriorityRead(-1, off - 0x400, size);
        if (size != 4 || (off & 3) != 0) return 0;
        if (off >= 0xFFD0) return IdRegister(off);
        lock (_lock)
        {
            switch (off)
            {
                case 0x0000: return (1u << 4) | (_enableGrp1 << 1);                  // ARE_NS | EnableGrp1A
                case 0x0004:
                    return (uint)(SpiCount / 32) | (uint)(Math.Min(VcpuCount, 8) - 1) << 5
                         | (LpisSupported ? 1u << 17 : 0) | (uint)(IdBits - 1) << 19;
                case 0x0008: return Iidr;
            }
            if (BitRegister(off, out uint n) is { } kind && n > 0)
                return ReadBits(0, n * 32, kind);
            if (off >= 0xC00 && off < 0xD00)
            {
                uint first = (uint)(off - 0xC00) / 4 * 16;
                if (first < 32) return 0;
                uint v = 0;
                for (int i = 0; i < 16; i++)
                    if (ValidSpi(first + (uint)i) && _spis[first + i - 32].Edge) v |= 2u << (2 * i);
                return v;
            }
            return 0;
        }
    }

    private void DistributorWrite(ulong off, int size, ulong value)
    {
        if (off >= 0x6000 && off < 0x8000) { RouterWrite(off, size, value); return; }
        if (off >= 0x400 && off < 0x800) { PriorityWrite(-1, off - 0x400, size, value); return; }
        if (size != 4 || (off & 3) != 0) return;
        uint v = (uint)value;
        lock (_lock)
        {
            if (off == 0x0000) _enableGrp1 = (v >> 1) & 1;
            else if (BitRegister(off, out uint n) is { } kind && n > 0) WriteBits(0, n * 32, kind, v);
            else if (off >= 0xC00 && off < 0xD00)
            {
                uint first = (uint)(off - 0xC00) / 4 * 16;
                if (first >= 32)
                    for (int i = 0; i < 16; i++)
                        if (ValidSpi(first + (uint)i)) _spis[first + i - 32].Edge = (v & (2u << (2 * i))) != 0;
            }
        }
        Notify(-1);
    }

    private ulong RouterRead(ulong off, int size)
    {
        uint intid = (uint)((off - 0x6000) / 8);
        if (!ValidSpi(intid)) return 0;
        ulong r;
        lock (_lock) r = _spiRouter[intid - 32];
        return (size, off & 7) switch
        {
            (8, 0) => r,
            (4, 0) => r & 0xFFFF_FFFF,
            (4, 4) => r >> 32,
            _ => 0,
        };
    }

    private void RouterWrite(ulong off, int size, ulong value)
    {
        uint intid = (uint)((off - 0x6000) / 8);
        if (!ValidSpi(intid)) return;
        const ulong Mask = 0x0000_00FF_80FF_FFFFUL;   // Aff3, IRM, Aff2, Aff1, Aff0
        lock (_lock)
        {
            ref ulong r = ref _spiRouter[intid - 32];
            switch (size, off & 7)
            {
                case (8, 0): r = value & Mask; break;
                case (4, 0): r = (r & 0xFFFF_FFFF_0000_0000UL) | (value & Mask & 0xFFFF_FFFF); break;
                case (4, 4): r = (r & 0xFFFF_FFFF) | ((value << 32) & Mask); break;
            }
        }
        Notify(-1);
    }

    /// <summary>IPRIORITYR, byte accessible: vcpu -1 for the distributor (SPIs only), else that vCPU's SGI/PPI bytes.</summary>
    private ulong PriorityRead(int vcpu, ulong rel, int size)
    {
        if (size is not (1 or 4) || rel % (ulong)size != 0) return 0;
        ulong v = 0;
        lock (_lock)
            for (int i = 0; i < size; i++)
            {
                uint id = (uint)rel + (uint)i;
                if (vcpu < 0 ? !ValidSpi(id) : id >= 32) continue;
                v |= (ulong)State(Math.Max(vcpu, 0), id).Priority << (8 * i);
            }
        return v;
    }

    private void PriorityWrite(int vcpu, ulong rel, int size, ulong value)
    {
        if (size is not (1 or 4) || rel % (ulong)size != 0) return;
        lock (_lock)
            for (int i = 0; i < size; i++)
            {
                uint id = (uint)rel + (uint)i;
                if (vcpu < 0 ? !ValidSpi(id) : id >= 32) continue;
                State(Math.Max(vcpu, 0), id).Priority = (byte)((value >> (8 * i)) & PriorityMask);
            }
        Notify(vcpu);
    }

    // ---------------------------------------------------------------- redistributors

    private ulong RedistributorRead(ulong off, int size)
    {
        int vcpu = (int)(off / RedistributorStride);
        if (vcpu >= VcpuCount) return 0;
        ulong f = off % RedistributorStride;
        if (f >= 0x10000) return SgiFrameRead(vcpu, f - 0x10000, size);
        var rd = _rd[vcpu];
        if (f is 0x08 or 0x0C or 0x70 or 0x74 or 0x78 or 0x7C)
        {
            ulong reg;
            lock (_lock)
                reg = (f & ~7UL) switch
                {
                    0x08 => (AffinityOf(vcpu) << 32) | (ulong)vcpu << 8 | (vcpu == VcpuCount - 1 ? 1UL << 4 : 0) | (LpisSupported ? 1UL : 0),
                    0x70 => rd.PropBaser,
                    _ => rd.PendBaser,
                };
            return (size, f & 7) switch { (8, 0) => reg, (4, 0) => reg & 0xFFFF_FFFF, (4, 4) => reg >> 32, _ => 0 };
        }
        if (size != 4 || (f & 3) != 0) return 0;
        if (f >= 0xFFD0) return IdRegister(f);
        lock (_lock)
            return f switch
            {
                0x00 => rd.EnableLpis ? 1u : 0u,
                0x04 => Iidr,
                0x14 => rd.ProcessorSleep ? 0b110u : 0u,      // ProcessorSleep, ChildrenAsleep follows at once
                _ => 0,
            };
    }

    private void RedistributorWrite(ulong off, int size, ulong value)
    {
        int vcpu = (int)(off / RedistributorStride);
        if (vcpu >= VcpuCount) return;
        ulong f = off % RedistributorStride;
        if (f >= 0x10000) { SgiFrameWrite(vcpu, f - 0x10000, size, value); return; }
        var rd = _rd[vcpu];
        lock (_lock)
        {
            if (f is 0x70 or 0x74 or 0x78 or 0x7C)
            {
                if (rd.EnableLpis || !LpisSupported) return;   // UNPREDICTABLE while enabled: ignored
                bool prop = f < 0x78;
                ulong mask = prop
                    ? ~(0xF8UL << 56 | 0xFUL << 52 | 0x3UL << 5)
                    : ~(1UL << 63 | 1UL << 62 | 0x7UL << 59 | 0xFUL << 52 | 0xFUL << 12 | 0x7FUL);
                ref ulong reg = ref prop ? ref rd.PropBaser : ref rd.PendBaser;
                switch (size, f & 7)
                {
                    case (8, 0): reg = value & mask; break;
                    case (4, 0): reg = (reg & 0xFFFF_FFFF_0000_0000UL) | (value & mask & 0xFFFF_FFFF); break;
                    case (4, 4): reg = (reg & 0xFFFF_FFFF) | ((value << 32) & mask); break;
                }
                return;
            }
            if (size != 4 || (f & 3) != 0) return;
            switch (f)
            {
                case 0x00:
                    bool enable = (value & 1) != 0 && LpisSupported;
                    if (enable && !rd.EnableLpis) EnableLpisLocked(rd);
                    else if (!enable && rd.EnableLpis) { rd.EnableLpis = false; rd.LpiPending.Clear(); }
                    break;
                case 0x14:
                    rd.ProcessorSleep = (value & 2) != 0;
                    break;
            }
        }
        Notify(vcpu);
    }

    private ulong SgiFrameRead(int vcpu, ulong f, int size)
    {
        if (f >= 0x400 && f < 0x420) return PriorityRead(vcpu, f - 0x400, size);
        if (size != 4 || (f & 3) != 0) return 0;
        if (f >= 0xFFD0) return IdRegister(f);
        lock (_lock)
        {
            if (BitRegister(f, out uint n) is { } kind) return n == 0 ? ReadBits(vcpu, 0, kind) : 0;
            if (f == 0xC00) return 0xAAAA_AAAAu;                   // SGIs: edge, read only
            if (f == 0xC04)
            {
                uint v = 0;
                for (int i = 0; i < 16; i++) if (_rd[vcpu].Private[16 + i].Edge) v |= 2u << (2 * i);
                return v;
            }
            return 0;
        }
    }

    private void SgiFrameWrite(int vcpu, ulong f, int size, ulong value)
    {
        if (f >= 0x400 && f < 0x420) { PriorityWrite(vcpu, f - 0x400, size, value); return; }
        if (size != 4 || (f & 3) != 0) return;
        lock (_lock)
        {
            if (BitRegister(f, out uint n) is { } kind) { if (n == 0) WriteBits(vcpu, 0, kind, (uint)value); }
            else if (f == 0xC04)
                for (int i = 0; i < 16; i++) _rd[vcpu].Private[16 + i].Edge = (value & (2UL << (2 * i))) != 0;
        }
        Notify(vcpu);
    }

    private sealed class DistributorFrame(GicV3 gic, ulong baseAddress) : IArmMmioDevice
    {
        public ulong BaseAddress => baseAddress;
        public ulong Size => ArmGuestLayout.GicV3DistributorSize;
        public ulong Read(ulong offset, int size) => offset < Size ? gic.DistributorRead(offset, size) : 0;
        public void Write(ulong offset, int size, ulong value) { if (offset < Size) gic.DistributorWrite(offset, size, value); }
    }

    private sealed class RedistributorFrames(GicV3 gic, ulong baseAddress, ulong size) : IArmMmioDevice
    {
        public ulong BaseAddress => baseAddress;
        public ulong Size => size;
        public ulong Read(ulong offset, int accessSize) => offset < size ? gic.RedistributorRead(offset, accessSize) : 0;
        public void Write(ulong offset, int accessSize, ulong value) { if (offset < size) gic.RedistributorWrite(offset, accessSize, value); }
    }
}
