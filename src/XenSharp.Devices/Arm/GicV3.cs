using XenSharp.Abi.Arm;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Devices.Arm;

/// <summary>
/// A GICv3 (ARM IHI 0069) for one guest, as Xen/ARM presents it: the Non-secure view of a GIC with
/// affinity routing always on (GICD_CTLR.ARE_NS reads as one), one Distributor for the SPIs
/// 32..(31 + <see cref="SpiCount"/>), one Redistributor per vCPU for its SGIs (0-15) and PPIs
/// (16-31) and LPIs (8192 and up, when an ITS feeds them), and one CPU interface per vCPU driven
/// through system registers (<see cref="GicV3CpuInterface"/>).
///
/// Only Group 1 interrupts are signalled (as IRQ, through ICC_IAR1_EL1); interrupts left in Group 0
/// stay pending and are never taken — Xen's guests run Non-secure and put everything in Group 1.
/// IGROUPR resets to all ones so a guest that never programs it still gets its interrupts.
/// Priorities keep 5 bits (the low three bits of IPRIORITYR read as zero, ICC_CTLR_EL1.PRIbits = 4),
/// as on GIC-500/600, so the minimum binary points are BPR0 = 2 and BPR1 = 3.
///
/// A Redistributor whose GICR_WAKER.ProcessorSleep is set (the reset state) does not forward
/// interrupts to its CPU interface: a guest must do the WAKER handshake, as on hardware.
///
/// All state sits behind one lock; device threads (timers, UART, ITS) and vCPU threads call in
/// concurrently. <see cref="InterruptStateChanged"/> is raised (outside the lock) with a vCPU
/// index whenever that vCPU's IRQ line may have become asserted, so a vCPU waiting in WFI can be
/// woken; the CPU then asks <see cref="IsIrqAsserted"/>.
/// </summary>
public sealed partial class GicV3
{
    public const uint SpuriousIntId = 1023;
    public const uint FirstLpi = 8192;
    public const uint Iidr = 0x34c;                 // as Xen's vGICv3 reports (GICV3_GICD_IIDR_VAL)
    public const byte PriorityMask = 0xF8;          // 5 bits of priority
    public const uint RedistributorStride = 0x20000; // RD_base + SGI_base, 64 KiB each
    internal const int MinBpr0 = 2, MinBpr1 = 3;

    private readonly object _lock = new();
    private readonly IrqState[] _spis;
    private readonly ulong[] _spiRouter;
    private readonly Redistributor[] _rd;
    private readonly GuestMemory? _memory;
    private uint _enableGrp1;                        // GICD_CTLR.EnableGrp1A

    /// <summary>Number of SPIs (a multiple of 32): INTIDs 32..31+SpiCount.</summary>
    public int SpiCount { get; }
    public int VcpuCount { get; }
    /// <summary>Interrupt ID bits (GICD_TYPER.IDbits + 1); LPIs are 8192..2^IdBits-1.</summary>
    public int IdBits { get; }
    /// <summary>Whether LPIs are supported (GICD_TYPER.LPIS, GICR_TYPER.PLPIS): only with guest memory for their tables.</summary>
    public bool LpisSupported => _memory is not null;

    public IArmMmioDevice Distributor { get; }
    public IArmMmioDevice Redistributors { get; }

    /// <summary>Raised with a vCPU index when that vCPU's IRQ line may have changed (possibly spuriously).</summary>
    public event Action<int>? InterruptStateChanged;

    /// <param name="vcpuCount">1..128 vCPUs.</param>
    /// <param name="spiCount">SPIs, rounded up to a multiple of 32 (at most 988).</param>
    /// <param name="memory">Guest memory holding LPI property and pending tables; null for a GIC without LPIs.</param>
    /// <param name="idBits">Interrupt ID bits, 14..16 (LPIs up to 2^idBits-1).</param>
    public GicV3(int vcpuCount, int spiCount = 64, GuestMemory? memory = null, int idBits = 16,
        ulong distributorBase = ArmGuestLayout.GicV3DistributorBase, ulong redistributorBase = ArmGuestLayout.GicV3Redistributor0Base)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vcpuCount, ArmGuestLayout.MaxVcpus);
        ArgumentOutOfRangeException.ThrowIfNegative(spiCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(idBits, 14);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(idBits, 16);
        spiCount = Math.Min((spiCount + 31) / 32 * 32, 988 / 32 * 32);
        VcpuCount = vcpuCount;
        SpiCount = spiCount;
        IdBits = idBits;
        _memory = memory;
        _spis = new IrqState[spiCount];
        _spiRouter = new ulong[spiCount];
        for (int i = 0; i < spiCount; i++) _spis[i].Group1 = true;
        _rd = new Redistributor[vcpuCount];
        for (int i = 0; i < vcpuCount; i++) _rd[i] = new Redistributor();
        Distributor = new DistributorFrame(this, distributorBase);
        Redistributors = new RedistributorFrames(this, redistributorBase, (ulong)vcpuCount * RedistributorStride);
        _cpu = new GicV3CpuInterface[vcpuCount];
        for (int i = 0; i < vcpuCount; i++) _cpu[i] = new GicV3CpuInterface(this, i);
    }

    private readonly GicV3CpuInterface[] _cpu;

    /// <summary>The CPU interface of one vCPU (its ICC_* system registers).</summary>
    public GicV3CpuInterface CpuInterface(int vcpu) => _cpu[vcpu];

    /// <summary>
    /// The affinity (MPIDR_EL1 Aff3..Aff0 bits) Xen gives a vCPU: Aff0 = id % 16, Aff1 = id / 16,
    /// so that SGI target lists (16 bits of Aff0) reach every vCPU. The CPU's MPIDR_EL1 must match.
    /// </summary>
    public static ulong AffinityOf(int vcpu) => (uint)(vcpu & 0xF) | (ulong)(uint)((vcpu >> 4) & 0xFF) << 8;

    private int? VcpuOfAffinity(ulong aff3, ulong aff2, ulong aff1, ulong aff0)
    {
        if (aff3 != 0 || aff2 != 0 || aff0 > 15) return null;
        ulong id = aff1 * 16 + aff0;
        return id < (ulong)VcpuCount ? (int)id : null;
    }

    // ---------------------------------------------------------------- interrupt state

    internal struct IrqState
    {
        public bool Enabled, Latch, Active, Line, Edge, Group1;
        public byte Priority;
        public readonly bool Pending => Latch || (!Edge && Line);
    }

    internal sealed class Redistributor
    {
        public readonly IrqState[] Private = new IrqState[32];
        public bool EnableLpis;
        public bool ProcessorSleep = true;
        public ulong PropBaser, PendBaser;
        public readonly HashSet<uint> LpiPending = [];
        public readonly Dictionary<uint, byte> LpiProperties = [];   // cached configuration bytes
        // CPU interface
        public byte Pmr;
        public int Bpr0 = MinBpr0, Bpr1 = MinBpr1;
        public bool Cbpr, EoiMode, IgrpEn1, IgrpEn0;
        public readonly List<(uint IntId, byte GroupPriority)> ActivePriorities = [];

        public Redistributor()
        {
            for (int i = 0; i < 32; i++)
            {
                Private[i].Group1 = true;
                Private[i].Edge = i < 16;           // SGIs are always edge-triggered
            }
        }
    }

    private bool ValidSpi(uint intid) => intid >= 32 && intid < 32 + (uint)SpiCount;

    private ref IrqState State(int vcpu, uint intid) =>
        ref intid < 32 ? ref _rd[vcpu].Private[intid] : ref _spis[intid - 32];

    private bool SpiRoutedTo(uint intid, int vcpu)
    {
        ulong r = _spiRouter[intid - 32];
        if ((r & (1UL << 31)) != 0) return true;     // 1 of N: every vCPU may take it, the first acknowledge wins
        return VcpuOfAffinity((r >> 32) & 0xFF, (r >> 16) & 0xFF, (r >> 8) & 0xFF, r & 0xFF) == vcpu;
    }

    private int SpiTarget(uint intid)
    {
        ulong r = _spiRouter[intid - 32];
        if ((r & (1UL << 31)) != 0) return -1;
        return VcpuOfAffinity((r >> 32) & 0xFF, (r >> 16) & 0xFF, (r >> 8) & 0xFF, r & 0xFF) ?? -2;
    }

    private void Notify(int vcpu)
    {
        var handler = InterruptStateChanged;
        if (handler is null || vcpu == -2) return;
        if (vcpu >= 0) handler(vcpu);
        else for (int i = 0; i < VcpuCount; i++) handler(i);
    }

    private void NotifyForIntId(int vcpu, uint intid) => Notify(intid < 32 ? vcpu : ValidSpi(intid) ? SpiTargetLocked(intid) : -2);

    private int SpiTargetLocked(uint intid) { lock (_lock) return SpiTarget(intid); }

    // ---------------------------------------------------------------- device-side inputs

    /// <summary>Drives the input of an SPI (32..31+SpiCount) as a level; out of range is ignored.</summary>
    public void SetSpiLevel(uint intid, bool asserted)
    {
        if (!ValidSpi(intid)) return;
        int target;
        lock (_lock)
        {
            SetLine(ref _spis[intid - 32], asserted);
            target = SpiTarget(intid);
        }
        if (asserted) Notify(target);
    }

    /// <summary>Drives the input of a vCPU's PPI (16..31) or SGI (0..15) as a level.</summary>
    public void SetPpiLevel(int vcpu, uint intid, bool asserted)
    {
        if ((uint)vcpu >= (uint)VcpuCount || intid >= 32) return;
        lock (_lock) SetLine(ref _rd[vcpu].Private[intid], asserted);
        if (asserted) Notify(vcpu);
    }

    /// <summary>Makes an SGI, PPI or SPI pending as a single edge (as ISPENDR would): how Xen injects its event-channel PPI.</summary>
    public void InjectPending(int vcpu, uint intid)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return;
        if (intid >= 32 && !ValidSpi(intid)) return;
        lock (_lock) State(vcpu, intid).Latch = true;
        NotifyForIntId(vcpu, intid);
    }

    private static void SetLine(ref IrqState s, bool asserted)
    {
        if (asserted && !s.Line && s.Edge) s.Latch = true;   // rising edge
        s.Line = asserted;
    }

    /// <summary>An <see cref="IInterruptLine"/> wired to an SPI.</summary>
    public IInterruptLine SpiLine(uint intid) => new Wire(this, -1, intid);

    /// <summary>An <see cref="IInterruptLine"/> wired to one vCPU's PPI.</summary>
    public IInterruptLine PpiLine(int vcpu, uint intid) => new Wire(this, vcpu, intid);

    private sealed class Wire(GicV3 gic, int vcpu, uint intid) : IInterruptLine
    {
        public void SetLevel(bool asserted)
        {
            if (vcpu < 0) gic.SetSpiLevel(intid, asserted);
            else gic.SetPpiLevel(vcpu, intid, asserted);
        }
    }

    /// <summary>Whether an SGI/PPI/SPI is pending (as ISPENDR reads) for the given vCPU's view.</summary>
    public bool IsPending(int vcpu, uint intid)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return false;
        lock (_lock)
        {
            if (intid >= FirstLpi) return _rd[vcpu].LpiPending.Contains(intid);
            if (intid >= 32 && !ValidSpi(intid)) return false;
            return State(vcpu, intid).Pending;
        }
    }

    /// <summary>Whether an LPI is pending at a vCPU's redistributor.</summary>
    public bool IsLpiPendingFor(int vcpu, uint lpi)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return false;
        lock (_lock) return _rd[vcpu].LpiPending.Contains(lpi);
    }

    /// <summary>Whether an SGI/PPI/SPI is active.</summary>
    public bool IsActive(int vcpu, uint intid)
    {
        if ((uint)vcpu >= (uint)VcpuCount || (intid >= 32 && !ValidSpi(intid))) return false;
        lock (_lock) return State(vcpu, intid).Active;
    }

    // ---------------------------------------------------------------- selection

    /// <summary>
    /// The highest-priority interrupt that could be signalled to a vCPU ignoring PMR and running
    /// priority (what ICC_HPPIR1_EL1 reports): pending, enabled, not active, Group 1, with the
    /// distributor's group enabled and the redistributor awake. Lower priority value wins; ties go
    /// to the lower INTID.
    /// </summary>
    public (uint IntId, byte Priority) HighestPending(int vcpu)
    {
        lock (_lock) return HighestPendingLocked(vcpu);
    }

    private (uint IntId, byte Priority) HighestPendingLocked(int vcpu)
    {
        var rd = _rd[vcpu];
        uint best = SpuriousIntId;
        int bestPrio = 0x100;
        if (rd.ProcessorSleep || _enableGrp1 == 0) return (best, 0xFF);
        for (uint i = 0; i < 32; i++)
        {
            ref var s = ref rd.Private[i];
            if (s.Enabled && s.Group1 && s.Pending && !s.Active && s.Priority < bestPrio) { best = i; bestPrio = s.Priority; }
        }
        for (int k = 0; k < _spis.Length; k++)
        {
            ref var s = ref _spis[k];
            uint id = (uint)k + 32;
            if (s.Enabled && s.Group1 && s.Pending && !s.Active && s.Priority < bestPrio && SpiRoutedTo(id, vcpu))
            { best = id; bestPrio = s.Priority; }
        }
        if (rd.EnableLpis)
        {
            foreach (uint lpi in rd.LpiPending)
            {
                byte prop = LpiProperty(rd, lpi);
                if ((prop & 1) == 0) continue;
                int prio = prop & 0xFC & PriorityMask;
                if (prio < bestPrio || (prio == bestPrio && lpi < best)) { best = lpi; bestPrio = prio; }
            }
        }
        return best == SpuriousIntId ? (best, (byte)0xFF) : (best, (byte)bestPrio);
    }

    private static byte GroupPriority(Redistributor rd, byte priority)
    {
        int mask = rd.Cbpr ? 0xFF << (rd.Bpr0 + 1) : 0xFF << rd.Bpr1;
        return (byte)(priority & mask & 0xFF);
    }

    private static byte RunningPriority(Redistributor rd)
    {
        int best = 0xFF;
        foreach (var (_, p) in rd.ActivePriorities) if (p < best) best = p;
        return (byte)best;
    }

    private bool CanSignal(Redistributor rd, uint intid, byte priority) =>
        intid != SpuriousIntId && rd.IgrpEn1 && priority < rd.Pmr && GroupPriority(rd, priority) < RunningPriority(rd);

    /// <summary>Whether the vCPU's IRQ input is asserted: an interrupt above PMR and the running priority with Group 1 enabled.</summary>
    public bool IsIrqAsserted(int vcpu)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return false;
        lock (_lock)
        {
            var (id, prio) = HighestPendingLocked(vcpu);
            return CanSignal(_rd[vcpu], id, prio);
        }
    }

    internal uint Acknowledge(int vcpu)
    {
        lock (_lock)
        {
            var rd = _rd[vcpu];
            var (id, prio) = HighestPendingLocked(vcpu);
            if (!CanSignal(rd, id, prio)) return SpuriousIntId;
            if (id >= FirstLpi)
            {
                rd.LpiPending.Remove(id);
                WritePendingBit(rd, id, false);
            }
            else
            {
                ref var s = ref State(vcpu, id);
                s.Active = true;
                s.Latch = false;     // a level interrupt stays pending while its line is high
            }
            rd.ActivePriorities.Add((id, GroupPriority(rd, prio)));
            return id;
        }
    }

    internal void EndOfInterrupt(int vcpu, uint intid)
    {
        if (intid is >= 1020 and <= 1023) return;
        bool deactivated;
        lock (_lock)
        {
            var rd = _rd[vcpu];
            // Priority drop: the highest active priority (the most recent at that priority).
            int at = -1;
            for (int i = 0; i < rd.ActivePriorities.Count; i++)
                if (at < 0 || rd.ActivePriorities[i].GroupPriority <= rd.ActivePriorities[at].GroupPriority) at = i;
            if (at >= 0) rd.ActivePriorities.RemoveAt(at);
            deactivated = !rd.EoiMode && DeactivateLocked(vcpu, intid);
        }
        Notify(vcpu);
        if (deactivated && ValidSpi(intid)) NotifyForIntId(vcpu, intid);
    }

    internal void Deactivate(int vcpu, uint intid)
    {
        bool done;
        lock (_lock) done = DeactivateLocked(vcpu, intid);
        if (done) NotifyForIntId(vcpu, intid);
    }

    private bool DeactivateLocked(int vcpu, uint intid)
    {
        if (intid >= 32 && !ValidSpi(intid)) return false;   // LPIs have no active state
        State(vcpu, intid).Active = false;
        return true;
    }

    internal void SendSgi(int sourceVcpu, ulong value)
    {
        uint intid = (uint)(value >> 24) & 0xF;
        bool broadcast = (value & (1UL << 40)) != 0;
        ulong targetList = value & 0xFFFF;
        ulong aff1 = (value >> 16) & 0xFF, aff2 = (value >> 32) & 0xFF, aff3 = (value >> 48) & 0xFF;
        ulong rs = (value >> 44) & 0xF;
        var targets = new List<int>();
        lock (_lock)
        {
            for (int v = 0; v < VcpuCount; v++)
            {
                bool hit;
                if (broadcast) hit = v != sourceVcpu;
                else
                {
                    ulong aff = AffinityOf(v);
                    ulong a0 = aff & 0xFF;
                    hit = aff3 == 0 && aff2 == 0 && ((aff >> 8) & 0xFF) == aff1 && a0 / 16 == rs && (targetList & (1UL << (int)(a0 % 16))) != 0;
                }
                if (!hit) continue;
                _rd[v].Private[intid].Latch = true;
                targets.Add(v);
            }
        }
        foreach (int v in targets) Notify(v);
    }

    // ---------------------------------------------------------------- LPIs (for the ITS)

    private uint LpiLimit(Redistributor rd)
    {
        int bits = Math.Min(IdBits, (int)(rd.PropBaser & 0x1F) + 1);
        return bits >= 32 ? uint.MaxValue : 1u << bits;
    }

    private byte LpiProperty(Redistributor rd, uint lpi)
    {
        if (rd.LpiProperties.TryGetValue(lpi, out byte p)) return p;
        ulong propBase = rd.PropBaser & 0x000F_FFFF_FFFF_F000UL;
        if (_memory is null || !_memory.TryRead(propBase + (lpi - FirstLpi), out p)) p = 0;   // unreadable: disabled
        rd.LpiProperties[lpi] = p;
        return p;
    }

    private void WritePendingBit(Redistributor rd, uint lpi, bool pending)
    {
        if (_memory is null) return;
        ulong addr = (rd.PendBaser & 0x000F_FFFF_FFFF_0000UL) + lpi / 8;
        if (!_memory.TryRead(addr, out byte b)) return;      // best effort: the in-model state is authoritative
        byte bit = (byte)(1 << (int)(lpi % 8));
        _memory.TryWrite(addr, pending ? (byte)(b | bit) : (byte)(b & ~bit));
    }

    /// <summary>
    /// Makes an LPI pending at a vCPU's redistributor (what an ITS does for INT or a translated
    /// MSI). Ignored (false) when LPIs are disabled there or the ID is beyond its property table.
    /// </summary>
    public bool SetLpiPending(int vcpu, uint lpi)
    {
        if ((uint)vcpu >= (uint)VcpuCount || lpi < FirstLpi) return false;
        lock (_lock)
        {
            var rd = _rd[vcpu];
            if (!rd.EnableLpis || lpi >= LpiLimit(rd)) return false;
            if (rd.LpiPending.Add(lpi)) WritePendingBit(rd, lpi, true);
        }
        Notify(vcpu);
        return true;
    }

    public void ClearLpiPending(int vcpu, uint lpi)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return;
        lock (_lock)
        {
            var rd = _rd[vcpu];
            if (rd.LpiPending.Remove(lpi)) WritePendingBit(rd, lpi, false);
        }
    }

    /// <summary>Moves an LPI's pending state between redistributors (MOVI).</summary>
    public void MoveLpi(int from, int to, uint lpi)
    {
        if ((uint)from >= (uint)VcpuCount || (uint)to >= (uint)VcpuCount || from == to) return;
        bool was;
        lock (_lock) was = _rd[from].LpiPending.Contains(lpi);
        if (!was) return;
        ClearLpiPending(from, lpi);
        SetLpiPending(to, lpi);
    }

    /// <summary>Moves every pending LPI of one redistributor to another (MOVALL).</summary>
    public void MoveAllLpis(int from, int to)
    {
        if ((uint)from >= (uint)VcpuCount || (uint)to >= (uint)VcpuCount || from == to) return;
        uint[] all;
        lock (_lock) all = [.. _rd[from].LpiPending];
        foreach (uint lpi in all) { ClearLpiPending(from, lpi); SetLpiPending(to, lpi); }
    }

    /// <summary>Drops the cached configuration of one LPI so the next use re-reads the property table (INV).</summary>
    public void InvalidateLpi(int vcpu, uint lpi)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return;
        lock (_lock) _rd[vcpu].LpiProperties.Remove(lpi);
        Notify(vcpu);
    }

    /// <summary>Drops all cached LPI configuration of a redistributor (INVALL).</summary>
    public void InvalidateAllLpis(int vcpu)
    {
        if ((uint)vcpu >= (uint)VcpuCount) return;
        lock (_lock) _rd[vcpu].LpiProperties.Clear();
        Notify(vcpu);
    }

    /// <summary>The LPI configuration byte the redistributor uses now (cached since the last INV), for diagnostics and tests.</summary>
    public byte LpiConfiguration(int vcpu, uint lpi)
    {
        lock (_lock) return LpiProperty(_rd[vcpu], lpi);
    }

    private void EnableLpisLocked(Redistributor rd)
    {
        rd.EnableLpis = true;
        rd.LpiProperties.Clear();
        // Pick up LPIs the guest (or a previous life) left pending in the table: bits 8192.. of PENDBASER.
        if (_memory is null) return;
        ulong pendBase = rd.PendBaser & 0x000F_FFFF_FFFF_0000UL;
        uint limit = LpiLimit(rd);
        int bytes = (int)Math.Min(limit / 8, 1u << 13) - (int)(FirstLpi / 8);
        if (bytes <= 0 || !_memory.TryGetSpan(pendBase + FirstLpi / 8, bytes, out var table)) return;
        for (int i = 0; i < table.Length; i++)
        {
            byte b = table[i];
            for (int bit = 0; b != 0 && bit < 8; bit++, b >>= 1)
                if ((b & 1) != 0) rd.LpiPending.Add(FirstLpi + (uint)(i * 8 + bit));
        }
    }
}
