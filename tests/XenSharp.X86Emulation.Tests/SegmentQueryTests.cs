namespace XenSharp.X86Emulation.Tests;

public sealed class SegmentQueryTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    [Fact]
    public void Lar_and_lsl_of_user_data_segment()
    {
        _m.Protected32(cpl: 3);
        _m.State.Registers.Rcx = TestMachine.DataU;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x0F, 0x02, 0xC1).Outcome);      // lar eax, ecx
        Assert.Equal(0x00C0_F300UL, _m.State.Registers.Rax);
        Assert.NotEqual(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x0F, 0x03, 0xD9).Outcome);      // lsl ebx, ecx
        Assert.Equal(0xFFFF_FFFFUL, _m.State.Registers.Rbx);
    }

    [Fact]
    public void Lar_of_kernel_segment_at_cpl3_clears_zf()
    {
        _m.Protected32(cpl: 3);
        _m.State.Registers.Rcx = TestMachine.DataK;
        _m.State.Registers.Rax = 0x55;
        _m.State.Registers.Rflags |= X86Flags.ZF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x0F, 0x02, 0xC1).Outcome);
        Assert.Equal(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
        Assert.Equal(0x55UL, _m.State.Registers.Rax);
    }

    [Fact]
    public void Verr_and_verw()
    {
        _m.Protected32();
        _m.State.Registers.Rcx = TestMachine.Code32K;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x0F, 0x00, 0xE1).Outcome);      // verr cx
        Assert.NotEqual(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x0F, 0x00, 0xE9).Outcome);      // verw cx
        Assert.Equal(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
    }

    [Fact]
    public void Lar_in_real_mode_is_ud()
    {
        _m.Real();
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0x0F, 0x02, 0xC1).Outcome);
        Assert.Equal(PendingException.Ud(), _m.State.PendingException);
    }
}
