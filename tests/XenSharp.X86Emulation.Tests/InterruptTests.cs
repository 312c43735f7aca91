namespace XenSharp.X86Emulation.Tests;

public sealed class InterruptTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    [Fact]
    public void Int_n_from_cpl3_switches_to_tss_stack_and_pushes_frame()
    {
        _m.Protected32(cpl: 3);
        _m.SetIdt32(0x80, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 3);
        ulong userSp = _m.State.Registers.Rsp;
        _m.State.Registers.Rflags = X86Flags.Fixed1 | X86Flags.IF | X86Flags.TF;
        var r = _m.Run(0xCD, 0x80);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        ulong sp = TestMachine.KernelStackTop - 20;
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.CodeBase + 2, _m.Read32(sp));
        Assert.Equal(TestMachine.Code32U, _m.Read32(sp + 4));
        Assert.Equal((uint)(X86Flags.Fixed1 | X86Flags.IF | X86Flags.TF), _m.Read32(sp + 8));
        Assert.Equal((uint)userSp, _m.Read32(sp + 12));
        Assert.Equal(TestMachine.DataU, _m.Read32(sp + 16));
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.Code32K, _m.State.Special.Cs.Selector);
        Assert.Equal(TestMachine.DataK, _m.State.Special.Ss.Selector);
        Assert.Equal(0, _m.State.Cpl);
        Assert.Equal(X86Flags.Fixed1, _m.State.Registers.Rflags); // IF and TF cleared by an interrupt gate
    }

    [Fact]
    public void Trap_gate_keeps_if_and_same_privilege_uses_current_stack()
    {
        _m.Protected32();
        _m.SetIdt32(0x30, 0x6000, TestMachine.Code32K, SegmentDescriptor.TypeTrapGate, 0);
        _m.State.Registers.Rflags = X86Flags.Fixed1 | X86Flags.IF;
        ulong sp = _m.State.Registers.Rsp;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCD, 0x30).Outcome);
        Assert.Equal(sp - 12, _m.State.Registers.Rsp);
        Assert.Equal(X86Flags.Fixed1 | X86Flags.IF, _m.State.Registers.Rflags);
        Assert.Equal(TestMachine.CodeBase + 2, _m.Read32(sp - 12));
    }

    [Fact]
    public void Int_n_through_gate_with_dpl_below_cpl_gives_gp_vector_idt()
    {
        _m.Protected32(cpl: 3);
        _m.SetIdt32(0x81, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x81).Outcome);
        Assert.Equal(new PendingException(13, true, 0x81 * 8 + 2), _m.State.PendingException);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    [Fact]
    public void Non_present_gate_gives_np_with_idt_bit()
    {
        _m.Protected32();
        _m.SetIdt32(0x40, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0, present: false);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x40).Outcome);
        Assert.Equal(new PendingException(11, true, 0x40 * 8 + 2), _m.State.PendingException);
    }

    [Fact]
    public void Vector_beyond_idt_limit_gives_gp_vector_idt()
    {
        _m.Protected32();
        _m.State.Special.Idt.Limit = 0x7F;
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x40).Outcome);
        Assert.Equal(new PendingException(13, true, 0x40 * 8 + 2), _m.State.PendingException);
    }

    [Fact]
    public void Gate_to_non_present_code_gives_np_selector()
    {
        _m.Protected32();
        _m.SetIdt32(0x41, 0x5000, TestMachine.CodeNotPresent, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x41).Outcome);
        Assert.Equal(new PendingException(11, true, TestMachine.CodeNotPresent), _m.State.PendingException);
    }

    [Fact]
    public void Gate_to_null_code_selector_gives_gp0()
    {
        _m.Protected32();
        _m.SetIdt32(0x42, 0x5000, 0, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x42).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    [Fact]
    public void Int1_has_no_dpl_check_and_int3_does()
    {
        _m.Protected32(cpl: 3);
        _m.SetIdt32(1, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0);
        _m.SetIdt32(3, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCC).Outcome);
        Assert.Equal(new PendingException(13, true, 3 * 8 + 2), _m.State.PendingException);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xF1).Outcome);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Into_without_overflow_only_advances_rip()
    {
        _m.Protected32();
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCE).Outcome);
        Assert.Equal(TestMachine.CodeBase + 1, _m.State.Registers.Rip);
        _m.SetIdt32(4, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeTrapGate, 0);
        _m.State.Registers.Rflags |= X86Flags.OF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCE).Outcome);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Bad_tss_stack_selector_gives_ts()
    {
        _m.Protected32(cpl: 3);
        _m.SetIdt32(0x80, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 3);
        _m.Write32(TestMachine.TssBase + 8, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x80).Outcome);
        Assert.Equal(new PendingException(10, true, TestMachine.DataU & 0xFFFC), _m.State.PendingException);
    }

    [Fact]
    public void Long_mode_int_from_user_uses_rsp0_and_pushes_ss_rsp()
    {
        _m.Long64(cpl: 3);
        _m.SetIdt64(0x80, 0xFFFF_FFFF_8000_0000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 3);
        ulong userRsp = _m.State.Registers.Rsp;
        _m.State.Registers.Rflags = X86Flags.Fixed1 | X86Flags.IF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCD, 0x80).Outcome);
        ulong sp = TestMachine.KernelStackTop - 40;
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.CodeBase + 2, _m.Read64(sp));
        Assert.Equal(TestMachine.Code64U, _m.Read64(sp + 8));
        Assert.Equal(X86Flags.Fixed1 | X86Flags.IF, _m.Read64(sp + 16));
        Assert.Equal(userRsp, _m.Read64(sp + 24));
        Assert.Equal(TestMachine.DataU, _m.Read64(sp + 32));
        Assert.Equal(0xFFFF_FFFF_8000_0000UL, _m.State.Registers.Rip);
        Assert.Equal(0, _m.State.Cpl);
        Assert.Equal(0, _m.State.Special.Ss.Selector);
        Assert.Equal(TestMachine.Code64K, _m.State.Special.Cs.Selector);
    }

    [Fact]
    public void Long_mode_ist_stack_is_used_and_aligned()
    {
        _m.Long64();
        _m.SetIdt64(3, 0x5000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 3, ist: 1);
        _m.State.Registers.Rsp = 0x8F08;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCC).Outcome);
        Assert.Equal(TestMachine.Ist1Top - 40, _m.State.Registers.Rsp);
        Assert.Equal(0x8F08UL, _m.Read64(TestMachine.Ist1Top - 16));
    }

    [Fact]
    public void Long_mode_same_privilege_aligns_stack_and_pushes_ss()
    {
        _m.Long64();
        _m.SetIdt64(0x20, 0x5000, TestMachine.Code64K, SegmentDescriptor.TypeTrapGate, 0);
        _m.State.Registers.Rsp = 0x8F08;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCD, 0x20).Outcome);
        Assert.Equal(0x8F00UL - 40, _m.State.Registers.Rsp);
        Assert.Equal(0x8F08UL, _m.Read64(0x8F00 - 16));
        Assert.Equal(TestMachine.DataK, _m.Read64(0x8F00 - 8));
    }

    [Fact]
    public void Long_mode_gate_dpl_check()
    {
        _m.Long64(cpl: 3);
        _m.SetIdt64(0x21, 0x5000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x21).Outcome);
        Assert.Equal(new PendingException(13, true, 0x21 * 8 + 2), _m.State.PendingException);
    }

    [Fact]
    public void Long_mode_gate_to_32_bit_code_gives_gp_selector()
    {
        _m.Long64();
        _m.SetIdt64(0x22, 0x5000, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x22).Outcome);
        Assert.Equal(new PendingException(13, true, TestMachine.Code32K), _m.State.PendingException);
    }

    [Fact]
    public void Long_mode_non_canonical_handler_gives_gp0()
    {
        _m.Long64();
        _m.SetIdt64(0x23, 0x0000_8000_0000_0000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 0);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(0xCD, 0x23).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    [Fact]
    public void Real_mode_int_uses_ivt()
    {
        _m.Real();
        _m.Write16(0x21 * 4, 0x0100);
        _m.Write16(0x21 * 4 + 2, 0x0200);
        _m.State.Registers.Rflags = X86Flags.Fixed1 | X86Flags.IF;
        _m.State.Registers.Rip = 0x10;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCD, 0x21).Outcome);
        Assert.Equal(0x100UL, _m.State.Registers.Rip);
        Assert.Equal(0x2000UL, _m.State.Special.Cs.Base);
        Assert.Equal(0x7FFAUL, _m.State.Registers.Rsp);
        Assert.Equal(0x12, _m.Read16(0x7FFA));
        Assert.Equal(0x1000, _m.Read16(0x7FFC));
        Assert.Equal((ushort)(X86Flags.Fixed1 | X86Flags.IF), _m.Read16(0x7FFE));
        Assert.Equal(X86Flags.Fixed1, _m.State.Registers.Rflags);
    }

    [Fact]
    public void Exception_delivery_pushes_error_code()
    {
        _m.Long64();
        _m.SetIdt64(13, 0x5000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 0);
        _m.State.Registers.Rsp = 0x8F00;
        InterruptDelivery.Deliver(_m.State, 13, 0x1234, InterruptSource.HardwareException, 0x777);
        Assert.Equal(0x8F00UL - 48, _m.State.Registers.Rsp);
        Assert.Equal(0x1234UL, _m.Read64(0x8F00 - 48));
        Assert.Equal(0x777UL, _m.Read64(0x8F00 - 40));
    }

    [Fact]
    public void Fault_can_be_delivered_through_the_idt()
    {
        var emulator = new X86InstructionEmulator { DeliverFaultsThroughIdt = true };
        _m.Long64();
        _m.SetIdt64(13, 0x5000, TestMachine.Code64K, SegmentDescriptor.TypeInterruptGate, 0);
        _m.Write64(_m.State.Registers.Rsp, 0x0000_8000_0000_0000); // IRETQ frame with a non-canonical RIP
        _m.Write64(_m.State.Registers.Rsp + 8, TestMachine.Code64K);
        var r = emulator.Emulate(_m.State, [0x48, 0xCF]);
        Assert.Equal(EmulationOutcome.FaultDelivered, r.Outcome);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.CodeBase, _m.Read64(_m.State.Registers.Rsp + 8));
    }
}
