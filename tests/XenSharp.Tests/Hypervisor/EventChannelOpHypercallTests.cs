using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>event_channel_op send (event_channel.h, struct evtchn_send { u32 port; }): how a guest kicks its console and XenStore.</summary>
public class EventChannelOpHypercallTests
{
    private const ulong Arg = TestDomain.Arg;

    private static long Send(TestDomain t, uint port, bool is64 = true)
    {
        t.Poke(Arg, port);
        return t.Call(HypercallNumber.EventChannelOp, EventChannelOp.Send, Arg, is64: is64);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Send_to_the_console_port_calls_the_console_backend(bool is64)
    {
        using var t = new TestDomain();
        int console = 0, store = 0;
        int consolePort = t.Domain.EventChannels.BindToHost(() => console++);
        int storePort = t.Domain.EventChannels.BindToHost(() => store++);
        Assert.NotEqual(0, consolePort);
        Assert.NotEqual(consolePort, storePort);

        Assert.Equal(0, Send(t, (uint)consolePort, is64));
        Assert.Equal(0, Send(t, (uint)consolePort, is64));
        Assert.Equal((2, 0), (console, store));

        Assert.Equal(0, Send(t, (uint)storePort, is64));
        Assert.Equal((2, 1), (console, store));
    }

    [Fact]
    public void A_handler_attached_later_to_a_reserved_port_is_the_one_called()
    {
        using var t = new TestDomain();
        int early = 0, late = 0;
        int port = t.Domain.EventChannels.BindToHost(() => early++);
        t.Domain.EventChannels.SetHostHandler(port, () => late++);
        Assert.Equal(0, Send(t, (uint)port));
        Assert.Equal((0, 1), (early, late));
    }

    [Theory]
    [InlineData(0u)]          // never valid
    [InlineData(2u)]          // not bound
    [InlineData(63u)]
    [InlineData(64u)]
    [InlineData(0xFFFFFFFFu)]
    public void Send_to_port_0_or_an_unbound_port_gets_einval(uint port)
    {
        using var t = new TestDomain();
        int calls = 0;
        t.Domain.EventChannels.BindToHost(() => calls++); // port 1
        Assert.Equal(-XenErrno.EINVAL, Send(t, port));
        Assert.Equal(0, calls);
    }

    [Theory]
    [InlineData(TestDomain.Unmapped)]
    [InlineData(TestDomain.RamSize - 2)]
    public void Send_with_a_bad_pointer_gets_efault(ulong gpa)
    {
        using var t = new TestDomain();
        int calls = 0;
        t.Domain.EventChannels.BindToHost(() => calls++);
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.EventChannelOp, EventChannelOp.Send, gpa));
        Assert.Equal(0, calls);
    }

    [Theory]
    [InlineData(15)]
    [InlineData(99)]
    [InlineData(-1)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        int calls = 0;
        int port = t.Domain.EventChannels.BindToHost(() => calls++);
        t.Poke(Arg, (uint)port);
        Assert.Equal(-XenErrno.ENOSYS, t.Call(HypercallNumber.EventChannelOp, (ulong)cmd, Arg));
        Assert.Equal(0, calls);
    }
}
