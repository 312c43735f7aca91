using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// hvm_op get/set_param (hvm_op.h, params.h): how a PVH guest finds its console and XenStore
/// rings and sets its event callback. struct xen_hvm_param { u16 domid @0; u32 index @4; u64 value @8 }.
/// </summary>
public class HvmOpHypercallTests
{
    private const ulong Arg = TestDomain.Arg;
    private const ushort DomIdSelf = 0x7FF0;
    private const int GetParam = 1, SetParam = 0;
    private const int CallbackIrq = 0, StorePfn = 1, StoreEvtchn = 2, ConsolePfn = 17, ConsoleEvtchn = 18;

    private static long Param(TestDomain t, int cmd, ushort domid, uint index, ulong value, bool is64 = true)
    {
        t.Poke(Arg, domid);
        t.Poke(Arg + 2, (ushort)0xEEEE); // padding, as a guest might leave it
        t.Poke(Arg + 4, index);
        t.Poke(Arg + 8, value);
        return t.Call(HypercallNumber.HvmOp, (ulong)cmd, Arg, is64: is64);
    }

    private static TestDomain WithToolstackParams()
    {
        var t = new TestDomain();
        t.Domain.SetHvmParam(StorePfn, 0xFEFF9);
        t.Domain.SetHvmParam(StoreEvtchn, 2);
        t.Domain.SetHvmParam(ConsolePfn, 0xFEFF8);
        t.Domain.SetHvmParam(ConsoleEvtchn, 1);
        return t;
    }

    [Theory]
    [InlineData(StorePfn, 0xFEFF9UL, true)]
    [InlineData(StoreEvtchn, 2UL, true)]
    [InlineData(ConsolePfn, 0xFEFF8UL, false)]
    [InlineData(ConsoleEvtchn, 1UL, false)]
    public void Get_returns_the_console_and_store_parameters_the_toolstack_set(int index, ulong expected, bool is64)
    {
        using var t = WithToolstackParams();
        Assert.Equal(0, Param(t, GetParam, DomIdSelf, (uint)index, 0xBAD, is64));
        Assert.Equal(expected, t.Peek<ulong>(Arg + 8));
    }

    [Fact]
    public void Get_accepts_the_domains_own_id()
    {
        using var t = WithToolstackParams();
        Assert.Equal(0, Param(t, GetParam, (ushort)t.Domain.Id, ConsolePfn, 0));
        Assert.Equal(0xFEFF8UL, t.Peek<ulong>(Arg + 8));
    }

    [Fact]
    public void Set_callback_irq_is_stored_and_read_back()
    {
        using var t = new TestDomain();
        const ulong vectorCallback = (2UL << 56) | 0xF3; // HVM_PARAM_CALLBACK_TYPE_VECTOR, vector 0xF3
        Assert.Equal(0, Param(t, SetParam, DomIdSelf, CallbackIrq, vectorCallback));
        Assert.Equal(vectorCallback, t.Domain.GetHvmParam(CallbackIrq));

        Assert.Equal(0, Param(t, GetParam, DomIdSelf, CallbackIrq, 0));
        Assert.Equal(vectorCallback, t.Peek<ulong>(Arg + 8));
    }

    [Theory]
    [InlineData(StorePfn)]
    [InlineData(ConsolePfn)]
    public void Set_of_a_toolstack_owned_parameter_gets_eperm_and_changes_nothing(int index)
    {
        using var t = WithToolstackParams();
        ulong before = t.Domain.GetHvmParam(index);
        Assert.Equal(-XenErrno.EPERM, Param(t, SetParam, DomIdSelf, (uint)index, 0x1234));
        Assert.Equal(before, t.Domain.GetHvmParam(index));
    }

    [Theory]
    [InlineData(GetParam, 39u)]
    [InlineData(SetParam, 39u)]
    [InlineData(GetParam, 0xFFFFFFFFu)]
    [InlineData(SetParam, 0x80000000u)]
    public void An_index_at_or_past_HVM_NR_PARAMS_gets_einval(int cmd, uint index)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.EINVAL, Param(t, cmd, DomIdSelf, index, 0x5555));
        Assert.Equal(0x5555UL, t.Peek<ulong>(Arg + 8));
    }

    [Fact]
    public void A_guest_readable_parameter_that_was_never_set_reads_as_zero()
    {
        using var t = new TestDomain();
        const uint x87FipWidth = 36; // readable by the guest on Xen (hvm_allow_get_param)
        Assert.Equal(0, Param(t, GetParam, DomIdSelf, x87FipWidth, 0x5555));
        Assert.Equal(0UL, t.Peek<ulong>(Arg + 8));
    }

    [Theory]
    [InlineData(GetParam, (ushort)0)]      // dom0
    [InlineData(GetParam, (ushort)5)]
    [InlineData(SetParam, (ushort)0)]
    [InlineData(SetParam, (ushort)0x7FF2)] // DOMID_XEN
    public void Another_domains_parameters_are_out_of_reach(int cmd, ushort domid)
    {
        using var t = WithToolstackParams();
        Assert.Equal(-XenErrno.EPERM, Param(t, cmd, domid, CallbackIrq, 0x77));
        Assert.Equal(0x77UL, t.Peek<ulong>(Arg + 8));
        Assert.Equal(0UL, t.Domain.GetHvmParam(CallbackIrq));
    }

    [Theory]
    [InlineData(TestDomain.Unmapped)]
    [InlineData(TestDomain.RamSize - 8)] // domid and index readable, value past the end
    public void A_bad_pointer_gets_efault(ulong gpa)
    {
        using var t = new TestDomain();
        if (gpa < TestDomain.RamSize)
        {
            t.Poke(gpa, DomIdSelf);
            t.Poke(gpa + 4, (uint)CallbackIrq);
        }
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.HvmOp, GetParam, gpa));
        Assert.Equal(-XenErrno.EFAULT, t.Call(HypercallNumber.HvmOp, SetParam, gpa));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(99)]
    public void Other_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, Param(t, cmd, DomIdSelf, CallbackIrq, 0));
    }
}
