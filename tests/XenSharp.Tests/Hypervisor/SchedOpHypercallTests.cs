using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Hypervisor;

/// <summary>sched_op (sched.h): how a guest powers off, reboots, crashes, yields and blocks.</summary>
public class SchedOpHypercallTests
{
    private const ulong Arg = TestDomain.Arg;

    private static long Shutdown(TestDomain t, uint reason, bool is64 = true)
    {
        t.Poke(Arg, reason);
        return t.Call(HypercallNumber.SchedOp, SchedOp.Shutdown, Arg, is64: is64);
    }

    private static Task<ShutdownReason> ShutdownEvent(Domain d)
    {
        var tcs = new TaskCompletionSource<ShutdownReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        d.ShutdownRequested += (_, r) => tcs.TrySetResult(r);
        return tcs.Task;
    }

    [Theory]
    [InlineData(0u, ShutdownReason.Poweroff, true)]
    [InlineData(1u, ShutdownReason.Reboot, false)]
    [InlineData(3u, ShutdownReason.Crash, true)]
    [InlineData(4u, ShutdownReason.Watchdog, false)]
    public async Task Shutdown_reports_the_reason_and_shuts_the_domain_down(uint code, ShutdownReason expected, bool is64)
    {
        using var t = new TestDomain(vcpus: 2);
        var raised = ShutdownEvent(t.Domain);

        Assert.Equal(0, Shutdown(t, code, is64));

        Assert.Equal(expected, await raised.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(DomainState.Shutdown, t.Domain.State);
        Assert.Equal(expected, t.Domain.ShutdownReason);
        Assert.Contains($"(XEN) d{t.Domain.Id}: shutdown: {expected.ToString().ToLowerInvariant()}", t.Hv.Log.Read());
        Assert.All(t.Domain.Vcpus, v => Assert.True(((FakeVcpu)v.Cpu).KickCount > 0, "every vCPU is told to stop"));
    }

    [Fact]
    public async Task The_first_shutdown_reason_wins()
    {
        using var t = new TestDomain();
        var raised = ShutdownEvent(t.Domain);
        Assert.Equal(0, Shutdown(t, 0));
        Assert.Equal(0, Shutdown(t, 1));
        Assert.Equal(ShutdownReason.Poweroff, await raised.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(ShutdownReason.Poweroff, t.Domain.ShutdownReason);
    }

    [Theory]
    [InlineData(6u)]
    [InlineData(99u)]
    [InlineData(0xFFFFFFFFu)]
    public void An_unknown_reason_gets_einval_and_the_domain_keeps_running(uint reason)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, Shutdown(t, reason));
        Assert.Equal(DomainState.Paused, t.Domain.State);
        Assert.Null(t.Domain.ShutdownReason);
    }

    [Theory]
    [InlineData(2u)] // suspend
    [InlineData(5u)] // soft reset
    public void Suspend_and_soft_reset_are_not_supported_and_the_guest_carries_on(uint reason)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EOPNOTSUPP, Shutdown(t, reason));
        Assert.Equal(DomainState.Paused, t.Domain.State);
        Assert.Null(t.Domain.ShutdownReason);
    }

    [Theory]
    [InlineData(TestDomain.Unmapped)]
    [InlineData(TestDomain.RamSize - 2)]
    public void Shutdown_with_a_bad_pointer_gets_efault(ulong gpa)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.SchedOp, SchedOp.Shutdown, gpa));
        Assert.Equal(DomainState.Paused, t.Domain.State);
    }

    [Fact]
    public void Yield_returns_0()
    {
        using var t = new TestDomain();
        Assert.Equal(0, t.Call(HypercallNumber.SchedOp, SchedOp.Yield, 0));
    }

    [Fact]
    public void Block_unmasks_event_delivery_in_the_registered_vcpu_info()
    {
        using var t = new TestDomain();
        const ulong info = 0x40000;
        t.Poke(Arg, 0x40UL);   // mfn
        t.Poke(Arg + 8, 0u);   // offset
        Assert.Equal(0, t.Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Arg));
        Assert.Equal(1, t.Peek<byte>(info + 1)); // evtchn_upcall_mask

        t.Domain.Vcpus[0].Wake(); // an event is already pending, so block returns at once
        Assert.Equal(0, t.Call(HypercallNumber.SchedOp, SchedOp.Block, 0));
        Assert.Equal(0, t.Peek<byte>(info + 1));
    }

    [Fact]
    public void Remote_shutdown_is_not_allowed()
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EPERM, t.Call(HypercallNumber.SchedOp, SchedOp.RemoteShutdown, Arg));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(99)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, t.Call(HypercallNumber.SchedOp, (ulong)cmd, Arg));
    }
}
