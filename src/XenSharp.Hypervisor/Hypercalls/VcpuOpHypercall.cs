using System.Buffers.Binary;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// vcpu_op(cmd, vcpuid, arg): bring secondary vCPUs up and down, register vcpu_info, and
/// the singleshot timer (VIRQ_TIMER), and runstate information (get_runstate_info, a registered
/// runstate area kept up to date at each runstate change).
/// VCPUOP_initialise takes struct vcpu_hvm_context (hvm/hvm_vcpu.h) for PVH guests:
/// { u32 mode; u32 pad; union { x86_32 regs; x86_64 regs; } } — 128 bytes.
/// </summary>
public static class VcpuOpHypercall
{
    public static long Handle(in HypercallContext ctx)
    {
        var vcpus = ctx.Domain.Vcpus;
        if (ctx.A2 >= (ulong)vcpus.Count) return -XenErrno.ENOENT;
        Vcpu target = vcpus[(int)ctx.A2];

        switch ((int)ctx.A1)
        {
            case VcpuOp.Initialise:
                return Initialise(in ctx, target);
            case VcpuOp.Up:
                if (!target.Initialised) return -XenErrno.EINVAL;
                target.Start();
                return 0;
            case VcpuOp.Down:
                if (target == ctx.Vcpu) target.GoOffline();
                else target.RequestStop();
                return 0;
            case VcpuOp.IsUp:
                return target.State != VcpuState.Offline ? 1 : 0;
            case VcpuOp.RegisterVcpuInfo:
                return RegisterVcpuInfo(in ctx, target);
            case VcpuOp.GetRunstateInfo:
                return GetRunstateInfo(in ctx, target);
            case VcpuOp.RegisterRunstateMemoryArea:
                return RegisterRunstateArea(in ctx, target);
            case VcpuOp.SetSingleshotTimer:
                return SetSingleshotTimer(in ctx, target);
            case VcpuOp.StopSingleshotTimer:
                if (target != ctx.Vcpu) return -XenErrno.EINVAL;
                target.SingleshotTimer.Stop();
                return 0;
            case VcpuOp.SetPeriodicTimer:
            {
                // struct vcpu_set_periodic_timer { u64 period_ns; }: at least 1 ms, as in Xen.
                if (!ctx.Memory.TryRead(ctx.A3, out ulong period)) return -XenErrno.EFAULT;
                if (period < MinPeriodNs || period > MaxPeriodNs) return -XenErrno.EINVAL;
                target.SetPeriodicTimer((long)period);
                return 0;
            }
            case VcpuOp.StopPeriodicTimer:
                target.SetPeriodicTimer(0);
                return 0;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>Xen refuses periodic timers faster than 1 ms.</summary>
    public const ulong MinPeriodNs = 1_000_000;
    /// <summary>Xen's STIME_DELTA_MAX (~0 >> 2): the longest period accepted.</summary>
    public const ulong MaxPeriodNs = (1UL << 62) - 1;

    /// <summary>
    /// struct vcpu_set_singleshot_timer { u64 timeout_abs_ns; u32 flags; }: arms the calling
    /// vCPU's one-shot timer for that system time; on expiry VIRQ_TIMER is raised. A timeout
    /// already past expires at once, unless VCPU_SSHOTTMR_future asks for -ETIME. Only a vCPU's
    /// own timer may be set (-EINVAL otherwise), as in Xen.
    /// </summary>
    private static long SetSingleshotTimer(in HypercallContext ctx, Vcpu target)
    {
        if (target != ctx.Vcpu) return -XenErrno.EINVAL;
        if (!ctx.Memory.TryRead(ctx.A3, out ulong timeout) || !ctx.Memory.TryRead(ctx.A3 + 8, out uint flags))
            return -XenErrno.EFAULT;
        var d = ctx.Domain;
        if ((flags & SingleshotTimerFlags.Future) != 0 && timeout < (ulong)Math.Max(0, d.SystemTimeNs))
            return -XenErrno.ETIME;
        long deadline = timeout >= (ulong)(long.MaxValue - d.CreatedNs) ? long.MaxValue : d.CreatedNs + (long)timeout;
        target.SingleshotTimer.Set(deadline);
        return 0;
    }

    private static long RegisterVcpuInfo(in HypercallContext ctx, Vcpu target)
    {
        // struct vcpu_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd; }
        if (!ctx.Memory.TryRead(ctx.A3, out ulong mfn) || !ctx.Memory.TryRead(ctx.A3 + 8, out uint offset))
            return -XenErrno.EFAULT;
        int size = SharedInfoPage.VcpuInfoSizeOf(ctx.Domain.Architecture);
        if (offset > 4096 - size || mfn > (ulong.MaxValue >> 12)) return -XenErrno.EINVAL;
        if (target.VcpuInfoAddress != 0) return -XenErrno.EINVAL;
        ulong gpa = (mfn << 12) + offset;
        if (!ctx.Memory.TryGetSpan(gpa, size, out var info)) return -XenErrno.EINVAL;

        // Carry over the state from the shared_info slot, as Xen does when moving vcpu_info.
        ulong shared = ctx.Domain.SharedInfoAddress;
        if (shared != 0 && target.Index < SharedInfoPage.MaxLegacyVcpus &&
            ctx.Memory.TryGetSpan(shared + (ulong)(target.Index * size), size, out var old))
            old.CopyTo(info);
        else
        {
            info.Clear();
            if (SharedInfoPage.HasUpcallMask(ctx.Domain.Architecture)) info[SharedInfoPage.UpcallMaskOffset] = 1;
        }
        target.VcpuInfoAddress = gpa;
        target.UpdateTime();
        return 0;
    }

    // ------------------------------------------------------------------ runstate

    /// <summary>
    /// VCPUOP_get_runstate_info: struct vcpu_runstate_info of any vCPU of the caller's domain,
    /// in the 64-bit layout for a 64-bit caller and the packed compat layout (state_entry_time
    /// at 4, 44 bytes) for a 32-bit one, as Xen's compat_vcpu_op translates it.
    /// </summary>
    private static long GetRunstateInfo(in HypercallContext ctx, Vcpu target)
    {
        int size = ctx.Is64 ? RunstateInfo.Size64 : RunstateInfo.Size32;
        if (!ctx.Memory.TryGetSpan(ctx.A3, size, out var dst)) return -XenErrno.EFAULT;
        Span<long> times = stackalloc long[4];
        ReadRunstate(target, Time.HostClock.NowNs(), out int state, out long entry, times);
        WriteRunstate(dst, ctx.Is64, state, (ulong)entry, times, updating: false);
        return 0;
    }

    /// <summary>
    /// VCPUOP_register_runstate_memory_area: { union { handle h; u64 p; } addr } — a guest handle
    /// (4 bytes for a 32-bit caller, 8 for a 64-bit one); 0 unregisters. The area is written at
    /// once and then by the vCPU's own thread at each of its runstate changes
    /// (<see cref="UpdateRunstateArea"/>), in the caller's layout.
    /// <para>x86 Xen takes a guest <i>virtual</i> address here. XenSharp has no guest page walker
    /// yet, so the address is used as guest-physical only when the caller runs with paging off
    /// (virtual = physical); with paging on the registration is accepted (Linux BUG()s on an
    /// error) but the area is not written — a guest reading it sees what it put there. As in
    /// Xen, an area outside guest RAM is not an error: writes to it are skipped.</para>
    /// </summary>
    private static long RegisterRunstateArea(in HypercallContext ctx, Vcpu target)
    {
        if (!ctx.TryReadLong(ctx.A3, out ulong addr)) return -XenErrno.EFAULT;
        bool paging = ctx.Vcpu.GuestPagingEnabled;
        target.RunstateArea64 = ctx.Is64;
        target.RunstateAreaAddress = paging ? 0 : addr;
        UpdateRunstateArea(target);
        return 0;
    }

    /// <summary>
    /// Snapshot of <paramref name="v"/>'s runstate at host time <paramref name="nowNs"/>, in the
    /// domain's system time (ns since the domain was created). With a scheduler it is the
    /// scheduler model's (<see cref="XenSharp.Scheduling.SchedVcpu"/>: running while it holds a
    /// pCPU, runnable while it waits for one, blocked, offline). Without one there is no runnable
    /// state and no history: state comes from <see cref="Vcpu.State"/>, time[running] is the
    /// vCPU's guest CPU time, the rest of the time since creation is charged to blocked (offline
    /// while the vCPU is offline), and state_entry_time is "now".
    /// </summary>
    public static void ReadRunstate(Vcpu v, long nowNs, out int state, out long entryNs, Span<long> times)
    {
        times[..4].Clear();
        long created = v.Domain.CreatedNs;
        if (v.Sched is { } s)
        {
            long entered = s.StateEntered;
            state = (int)s.State;
            entryNs = Math.Max(0, entered - created);
            long at = Math.Max(nowNs, entered);
            for (int i = 0; i < 4; i++) times[i] = s.TimeIn((XenSharp.Scheduling.VcpuRunstate)i, at);
            return;
        }
        long elapsed = Math.Max(0, nowNs - created);
        long running = Math.Min(elapsed, v.CpuTime.Ticks * 100);
        state = v.State switch
        {
            VcpuState.Running => RunstateInfo.Running,
            VcpuState.Blocked => RunstateInfo.Blocked,
            _ => RunstateInfo.Offline,
        };
        times[RunstateInfo.Running] = running;
        times[state == RunstateInfo.Offline ? RunstateInfo.Offline : RunstateInfo.Blocked] = elapsed - running;
        entryNs = elapsed;
    }

    /// <summary>Encodes struct vcpu_runstate_info into <paramref name="dst"/> (48 bytes 64-bit, 44 compat).</summary>
    public static void WriteRunstate(Span<byte> dst, bool is64, int state, ulong entryNs, ReadOnlySpan<long> times, bool updating)
    {
        int entryOff = is64 ? RunstateInfo.EntryTimeOffset64 : RunstateInfo.EntryTimeOffset32;
        int timeOff = is64 ? RunstateInfo.TimeOffset64 : RunstateInfo.TimeOffset32;
        var entry = dst.Slice(entryOff, 8);
        if (updating)
        {
            // XEN_RUNSTATE_UPDATE first, so a guest reading concurrently retries.
            BinaryPrimitives.WriteUInt64LittleEndian(entry, entryNs | RunstateInfo.UpdateFlag);
            Interlocked.MemoryBarrier();
        }
        BinaryPrimitives.WriteInt32LittleEndian(dst, state);
        if (is64) BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], 0);
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteInt64LittleEndian(dst.Slice(timeOff + i * 8, 8), times[i]);
        if (updating) Interlocked.MemoryBarrier();
        BinaryPrimitives.WriteUInt64LittleEndian(entry, entryNs & ~RunstateInfo.UpdateFlag);
    }

    /// <summary>
    /// Rewrites <paramref name="v"/>'s registered runstate area, if any, with
    /// XEN_RUNSTATE_UPDATE set in state_entry_time during the write. Allocation-free; called by
    /// the vCPU's thread at its runstate changes and at registration.
    /// </summary>
    public static void UpdateRunstateArea(Vcpu v)
    {
        ulong addr = v.RunstateAreaAddress;
        if (addr == 0) return;
        bool is64 = v.RunstateArea64;
        if (!v.Domain.Memory.TryGetSpan(addr, is64 ? RunstateInfo.Size64 : RunstateInfo.Size32, out var dst)) return;
        Span<long> times = stackalloc long[4];
        ReadRunstate(v, Time.HostClock.NowNs(), out int state, out long entry, times);
        WriteRunstate(dst, is64, state, (ulong)entry, times, updating: true);
    }

    private static long Initialise(in HypercallContext ctx, Vcpu target)
    {
        const int size = 128;
        if (!ctx.Memory.TryGetSpan(ctx.A3, size, out var c)) return -XenErrno.EFAULT;
        if (target.Initialised) return -XenErrno.EEXIST;
        var template = target.Cpu.SpecialRegisters;
        InitialVcpuState? state = BitConverter.ToUInt32(c) switch
        {
            0 => FromX86_32(c[8..], template),
            1 => FromX86_64(c[8..], template),
            _ => null,
        };
        if (state is null) return -XenErrno.EINVAL;
        target.PendingInitialState = state;
        target.Initialised = true;
        return 0;
    }

    /// <summary>Decodes Xen's segment "ar" attribute bits (type, s, dpl, p, avl, l, db, g).</summary>
    private static X86Segment Segment(ushort selector, uint @base, uint limit, ushort ar) => new()
    {
        Base = @base,
        Limit = limit,
        Selector = selector,
        Type = (byte)(ar & 0xF),
        S = (byte)((ar >> 4) & 1),
        Dpl = (byte)((ar >> 5) & 3),
        Present = (byte)((ar >> 7) & 1),
        Avl = (byte)((ar >> 8) & 1),
        L = (byte)((ar >> 9) & 1),
        Db = (byte)((ar >> 10) & 1),
        G = (byte)((ar >> 11) & 1),
        Unusable = (byte)(((ar >> 7) & 1) == 0 ? 1 : 0),
    };

    private static InitialVcpuState? FromX86_32(ReadOnlySpan<byte> r, X86SpecialRegisters s)
    {
        uint[] u = new uint[30];
        for (int i = 0; i < u.Length; i++) u[i] = BitConverter.ToUInt32(r[(i * 4)..]);
        ushort[] ar = new ushort[5];
        for (int i = 0; i < ar.Length; i++) ar[i] = BitConverter.ToUInt16(r[(104 + i * 2)..]);
        uint U(int off) => u[off / 4];
        ushort Ar(int off) => ar[(off - 104) / 2];
        var regs = new X86Registers
        {
            Rax = U(0), Rcx = U(4), Rdx = U(8), Rbx = U(12), Rsp = U(16), Rbp = U(20), Rsi = U(24), Rdi = U(28),
            Rip = U(32), Rflags = U(36) | 0x2,
        };
        ushort csAr = Ar(104);
        // CS must be a present code segment; CR0 must be in protected mode.
        if ((csAr & 0x80) == 0 || (csAr & 0x18) != 0x18) return null;
        if ((U(40) & X86SpecialRegisters.Cr0Pe) == 0) return null;
        s.Cr0 = U(40) | X86SpecialRegisters.Cr0Et;
        s.Cr3 = U(44);
        s.Cr4 = U(48);
        s.Efer = U(56) | ((ulong)U(60) << 32);
        s.Cs = Segment(0x10, U(64), U(84), csAr);
        s.Ds = Segment(0x18, U(68), U(88), Ar(106));
        s.Ss = Segment(0x18, U(72), U(92), Ar(108));
        s.Es = Segment(0x18, U(76), U(96), Ar(110));
        s.Fs = s.Gs = s.Ds;
        ushort trAr = Ar(112);
        s.Tr = trAr == 0
            ? new X86Segment { Limit = 0x67, Selector = 0x20, Type = 0xB, Present = 1 }
            : Segment(0x20, U(80), U(100), trAr);
        s.Gdt = default;
        s.Idt = default;
        return new InitialVcpuState(regs, s);
    }

    private static InitialVcpuState? FromX86_64(ReadOnlySpan<byte> r, X86SpecialRegisters s)
    {
        ulong[] u = new ulong[14];
        for (int i = 0; i < u.Length; i++) u[i] = BitConverter.ToUInt64(r[(i * 8)..]);
        ulong U(int off) => u[off / 8];
        var regs = new X86Registers
        {
            Rax = U(0), Rcx = U(8), Rdx = U(16), Rbx = U(24), Rsp = U(32), Rbp = U(40), Rsi = U(48), Rdi = U(56),
            Rip = U(64), Rflags = U(72) | 0x2,
        };
        const ulong cr0Pg = X86SpecialRegisters.Cr0Pg, cr4Pae = 1 << 5, eferLme = 1 << 8;
        s.Cr0 = U(80); s.Cr3 = U(88); s.Cr4 = U(96); s.Efer = U(104) | X86SpecialRegisters.EferLma;
        // Long mode needs paging, PAE and LME.
        if ((s.Cr0 & cr0Pg) == 0 || (s.Cr0 & X86SpecialRegisters.Cr0Pe) == 0 || (s.Cr4 & cr4Pae) == 0 || (s.Efer & eferLme) == 0)
            return null;
        s.Cs = X86Segment.Flat(0x10, 0xB, is64BitCode: true);
        s.Ds = s.Es = s.Ss = s.Fs = s.Gs = X86Segment.Flat(0x18, 0x3);
        s.Tr = new X86Segment { Limit = 0x67, Selector = 0x20, Type = 0xB, Present = 1 };
        s.Gdt = default;
        s.Idt = default;
        return new InitialVcpuState(regs, s);
    }
}
