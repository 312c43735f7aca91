using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Hypervisor.Time;
using XenSharp.Scheduling;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// VCPUOP_get_runstate_info and VCPUOP_register_runstate_memory_area (vcpu.h):
/// struct vcpu_runstate_info { int state; uint64_t state_entry_time; uint64_t time[4]; } —
/// 48 bytes for 64-bit callers, the packed i386 layout (state_entry_time at 4, 44 bytes) for
/// 32-bit ones. The scheduler's runstate model is driven by hand here (no vCPU thread runs).
/// </summary>
public class RunstateTests
{
    private const ulong Info = TestDomain.Buffer;
    private const ulong Area = TestDomain.Buffer + 0x1000;
    private const ulong AreaArg = TestDomain.Arg;

    /// <summary>A hypervisor with a (never started) scheduler, so vCPUs get a runstate model.</summary>
    private sealed class SchedDomain : IDisposable
    {
        public readonly XenHypervisor Hv;
        public readonly Domain Domain;

        public SchedDomain(int vcpus = 2)
        {
            Hv = new XenHypervisor(new FakeAccelerator(null));
            Hv.Scheduler = new VcpuScheduler(new NullScheduler(), 1, Hv.Timers);
            Domain = Hv.CreateDomain("rs", TestDomain.DefaultUuid, GuestMemory.Allocate([(0UL, TestDomain.RamSize)]), vcpus, 512, 1024);
        }

        public long Op(int cmd, ulong vcpu, ulong arg, bool is64 = true, int caller = 0) =>
            HypercallDispatcher.Invoke((uint)HypercallNumber.VcpuOp,
                new HypercallContext(Domain.Vcpus[caller], is64, (ulong)cmd, vcpu, arg, 0, 0));

        public T Peek<T>(ulong gpa) where T : unmanaged
        {
            Assert.True(Domain.Memory.TryRead(gpa, out T v));
            return v;
        }

        public void Dispose() => Hv.Dispose();
    }

    /// <summary>Moves vCPU 0's model through offline → runnable → running → blocked → running, at set times after creation.</summary>
    private static void Drive(SchedDomain t, out long created)
    {
        created = t.Domain.CreatedNs;
        var s = t.Domain.Vcpus[0].Sched!;
        long start = Math.Max(s.StateEntered, created);
        s.SetState(VcpuRunstate.Runnable, start + 1_000);
        s.SetState(VcpuRunstate.Running, start + 3_000);
        s.SetState(VcpuRunstate.Blocked, start + 10_000);
        s.SetState(VcpuRunstate.Running, start + 50_000);
        while (HostClock.NowNs() <= start + 50_000) Thread.Sleep(1); // "now" is after the last change
    }

    [Fact]
    public void GetRunstateInfo64_ReportsSchedulerStateInSystemTime()
    {
        using var t = new SchedDomain();
        Drive(t, out long created);
        var s = t.Domain.Vcpus[0].Sched!;
        long before = HostClock.NowNs();
        Assert.Equal(0, t.Op(VcpuOp.GetRunstateInfo, 0, Info));
        long after = HostClock.NowNs();

        Assert.Equal(RunstateInfo.Running, t.Peek<int>(Info));
        Assert.Equal((ulong)(s.StateEntered - created), t.Peek<ulong>(Info + 8));
        long[] time = [.. Enumerable.Range(0, 4).Select(i => t.Peek<long>(Info + 16 + (ulong)(i * 8)))];
        Assert.Equal(2_000, time[RunstateInfo.Runnable]);
        Assert.Equal(40_000, time[RunstateInfo.Blocked]);
        Assert.InRange(time[RunstateInfo.Running], 7_000 + before - s.StateEntered, 7_000 + after - s.StateEntered);
        // The times add up to the time since the vCPU was created (≈ domain creation).
        Assert.InRange(time.Sum(), before - created - 10_000_000, after - created + 10_000_000);
    }

    [Fact]
    public void GetRunstateInfo32_UsesPackedCompatLayout()
    {
        using var t = new SchedDomain();
        Drive(t, out long created);
        var s = t.Domain.Vcpus[0].Sched!;
        Assert.True(t.Domain.Memory.TryGetSpan(Info, 64, out var buf));
        buf.Fill(0xCC);
        Assert.Equal(0, t.Op(VcpuOp.GetRunstateInfo, 0, Info, is64: false));

        Assert.Equal(RunstateInfo.Running, t.Peek<int>(Info));
        Assert.Equal((ulong)(s.StateEntered - created), t.Peek<ulong>(Info + 4));
        Assert.Equal(2_000L, t.Peek<long>(Info + 12 + 8 * RunstateInfo.Runnable));
        Assert.Equal(40_000L, t.Peek<long>(Info + 12 + 8 * RunstateInfo.Blocked));
        Assert.Equal(0xCC, t.Peek<byte>(Info + 44)); // 44 bytes, no more
    }

    [Fact]
    public void GetRunstateInfo_OtherVcpuOfflineAndBadArguments()
    {
        using var t = new SchedDomain();
        Assert.Equal(0, t.Op(VcpuOp.GetRunstateInfo, 1, Info));
        Assert.Equal(RunstateInfo.Offline, t.Peek<int>(Info));
        Assert.Equal(0L, t.Peek<long>(Info + 16)); // never ran
        Assert.True(t.Peek<long>(Info + 16 + 8 * RunstateInfo.Offline) >= 0);
        Assert.Equal(-XenErrno.EFAULT, t.Op(VcpuOp.GetRunstateInfo, 0, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, t.Op(VcpuOp.GetRunstateInfo, 0, TestDomain.RamSize - 40));
        Assert.Equal(-XenErrno.ENOENT, t.Op(VcpuOp.GetRunstateInfo, 7, Info));
    }

    [Fact]
    public void GetRunstateInfo_WithoutScheduler_DerivesFromVcpuState()
    {
        using var t = new TestDomain();
        Assert.Null(t.Domain.Vcpus[0].Sched);
        long before = HostClock.NowNs();
        Assert.Equal(0, t.Call(HypercallNumber.VcpuOp, VcpuOp.GetRunstateInfo, 0, Info));
        long after = HostClock.NowNs();
        Assert.Equal(RunstateInfo.Offline, t.Peek<int>(Info));
        Assert.Equal(0L, t.Peek<long>(Info + 16));
        Assert.InRange(t.Peek<long>(Info + 16 + 8 * RunstateInfo.Offline), before - t.Domain.CreatedNs, after - t.Domain.CreatedNs);
        Assert.InRange(t.Peek<long>(Info + 8), before - t.Domain.CreatedNs, after - t.Domain.CreatedNs);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RegisterArea_WritesAtOnceAndOnUpdates_FlagClear(bool is64)
    {
        using var t = new SchedDomain();
        var v = t.Domain.Vcpus[0];
        if (is64) t.Domain.Memory.TryWrite(AreaArg, Area);
        else
        {
            t.Domain.Memory.TryWrite(AreaArg, (uint)Area);
            t.Domain.Memory.TryWrite(AreaArg + 4, 0xFFFF_FFFFu); // upper half of the union: ignored by a 32-bit caller
        }
        Assert.Equal(0, t.Op(VcpuOp.RegisterRunstateMemoryArea, 0, AreaArg, is64));
        Assert.Equal(Area, v.RunstateAreaAddress);
        Assert.Equal(RunstateInfo.Offline, t.Peek<int>(Area));

        Drive(t, out long created);
        VcpuOpHypercall.UpdateRunstateArea(v);
        int entryOff = is64 ? 8 : 4, timeOff = is64 ? 16 : 12;
        Assert.Equal(RunstateInfo.Running, t.Peek<int>(Area));
        ulong entry = t.Peek<ulong>(Area + (ulong)entryOff);
        Assert.Equal(0UL, entry & RunstateInfo.UpdateFlag);
        Assert.Equal((ulong)(v.Sched!.StateEntered - created), entry);
        Assert.Equal(40_000L, t.Peek<long>(Area + (ulong)(timeOff + 8 * RunstateInfo.Blocked)));

        // Unregister: later updates leave the area alone.
        t.Domain.Memory.TryWrite(AreaArg, 0UL);
        Assert.Equal(0, t.Op(VcpuOp.RegisterRunstateMemoryArea, 0, AreaArg, is64));
        Assert.Equal(0UL, v.RunstateAreaAddress);
        t.Domain.Memory.TryWrite(Area, 0x5A5A5A5A);
        VcpuOpHypercall.UpdateRunstateArea(v);
        Assert.Equal(0x5A5A5A5A, t.Peek<int>(Area));
    }

    [Fact]
    public void RegisterArea_OutsideRamOrWithPaging_AcceptedButNotWritten()
    {
        using var t = new SchedDomain();
        var v = t.Domain.Vcpus[0];
        Assert.Equal(-XenErrno.EFAULT, t.Op(VcpuOp.RegisterRunstateMemoryArea, 0, TestDomain.Unmapped));

        t.Domain.Memory.TryWrite(AreaArg, TestDomain.Unmapped);
        Assert.Equal(0, t.Op(VcpuOp.RegisterRunstateMemoryArea, 0, AreaArg));
        VcpuOpHypercall.UpdateRunstateArea(v); // nothing to write to: no exception

        var sregs = v.Cpu.SpecialRegisters;
        sregs.Cr0 |= X86SpecialRegisters.Cr0Pe | X86SpecialRegisters.Cr0Pg;
        v.Cpu.SetSpecialRegisters(sregs);
        t.Domain.Memory.TryWrite(Area, 0x5A5A5A5A);
        t.Domain.Memory.TryWrite(AreaArg, Area);
        Assert.Equal(0, t.Op(VcpuOp.RegisterRunstateMemoryArea, 0, AreaArg));
        Assert.Equal(0UL, v.RunstateAreaAddress); // a virtual address: no page walker yet
        Assert.Equal(0x5A5A5A5A, t.Peek<int>(Area));
    }

    [Fact]
    public void WriteRunstate_LeavesFlagClearAndEncodesBothLayouts()
    {
        var b64 = new byte[48];
        VcpuOpHypercall.WriteRunstate(b64, true, 2, 123, [1, 2, 3, 4], updating: true);
        Assert.Equal(2, BitConverter.ToInt32(b64, 0));
        Assert.Equal(123UL, BitConverter.ToUInt64(b64, 8));
        Assert.Equal(4L, BitConverter.ToInt64(b64, 40));
        var b32 = new byte[44];
        VcpuOpHypercall.WriteRunstate(b32, false, 1, 456, [5, 6, 7, 8], updating: true);
        Assert.Equal(456UL, BitConverter.ToUInt64(b32, 4));
        Assert.Equal(5L, BitConverter.ToInt64(b32, 12));
        Assert.Equal(8L, BitConverter.ToInt64(b32, 36));
    }
}
