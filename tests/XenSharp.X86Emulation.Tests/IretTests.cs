namespace XenSharp.X86Emulation.Tests;

public sealed class IretTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    private static readonly byte[] Iretd = [0xCF];
    private static readonly byte[] Iretq = [0x48, 0xCF];

    private void Frame32(params uint[] values)
    {
        ulong sp = _m.State.Registers.Rsp;
        for (int i = 0; i < values.Length; i++) _m.Write32(sp + (ulong)i * 4, values[i]);
    }

    private void Frame64(params ulong[] values)
    {
        ulong sp = _m.State.Registers.Rsp;
        for (int i = 0; i < values.Length; i++) _m.Write64(sp + (ulong)i * 8, values[i]);
    }

    [Fact]
    public void Protected_same_privilege_pops_eip_cs_eflags_and_unblocks_nmi()
    {
        _m.Protected32();
        _m.State.NmiBlocked = true;
        ulong sp = _m.State.Registers.Rsp;
        Frame32(0x12345, TestMachine.Code32K, (uint)(X86Flags.IF | X86Flags.CF | X86Flags.IOPL | X86Flags.Fixed1));
        var r = _m.Run(Iretd);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        Assert.Equal(0x12345UL, _m.State.Registers.Rip);
        Assert.Equal(sp + 12, _m.State.Registers.Rsp);
        Assert.Equal(X86Flags.IF | X86Flags.CF | X86Flags.IOPL | X86Flags.Fixed1, _m.State.Registers.Rflags);
        Assert.Equal(TestMachine.Code32K, _m.State.Special.Cs.Selector);
        Assert.False(_m.State.NmiBlocked);
        Assert.Equal(1, _m.Emulator.Counters.Completed(Iced.Intel.Mnemonic.Iretd));
    }

    [Fact]
    public void Protected_to_outer_privilege_loads_ss_esp_and_nulls_kernel_data_segments()
    {
        _m.Protected32();
        Frame32(0x400000, TestMachine.Code32U, (uint)(X86Flags.IF | X86Flags.Fixed1), 0xA000, TestMachine.DataU);
        _m.State.Special.Fs = _m.Seg(TestMachine.DataU);
        var r = _m.Run(Iretd);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        var sr = _m.State.Special;
        Assert.Equal(TestMachine.Code32U, sr.Cs.Selector);
        Assert.Equal(TestMachine.DataU, sr.Ss.Selector);
        Assert.Equal(3, sr.Ss.Dpl);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(0xA000UL, _m.State.Registers.Rsp);
        Assert.Equal(0x400000UL, _m.State.Registers.Rip);
        Assert.Equal(0, sr.Ds.Selector);
        Assert.Equal(1, sr.Ds.Unusable);
        Assert.Equal(1, sr.Es.Unusable);
        Assert.Equal(TestMachine.DataU, sr.Fs.Selector); // DPL 3 segment survives
    }

    [Fact]
    public void Cpl3_cannot_change_iopl_or_if_when_iopl_is_0()
    {
        _m.Protected32(cpl: 3);
        Frame32(0x5000, TestMachine.Code32U, (uint)(X86Flags.IF | X86Flags.IOPL | X86Flags.ZF | X86Flags.Fixed1));
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretd).Outcome);
        Assert.Equal(X86Flags.ZF | X86Flags.Fixed1, _m.State.Registers.Rflags);
    }

    [Fact]
    public void Null_cs_gives_gp0_and_leaves_registers()
    {
        _m.Protected32();
        var before = _m.State.Registers;
        Frame32(0x1000, 0, 2);
        var r = _m.Run(Iretd);
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
        Assert.Equal(before, _m.State.Registers);
    }

    [Fact]
    public void Non_present_cs_gives_np_selector()
    {
        _m.Protected32();
        Frame32(0x1000, TestMachine.CodeNotPresent, 2);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretd).Outcome);
        Assert.Equal(new PendingException(11, true, TestMachine.CodeNotPresent), _m.State.PendingException);
    }

    [Fact]
    public void Rpl_below_cpl_gives_gp_selector()
    {
        _m.Protected32(cpl: 3);
        Frame32(0x1000, TestMachine.Code32K, 2);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretd).Outcome);
        Assert.Equal(new PendingException(13, true, TestMachine.Code32K), _m.State.PendingException);
    }

    [Fact]
    public void Cs_selector_beyond_gdt_limit_gives_gp_selector()
    {
        _m.Protected32();
        _m.State.Special.Gdt.Limit = 0x3F;
        Frame32(0x1000, 0x80, 2);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretd).Outcome);
        Assert.Equal(new PendingException(13, true, 0x80), _m.State.PendingException);
    }

    [Fact]
    public void Outer_return_with_bad_ss_rpl_gives_gp_ss_selector()
    {
        _m.Protected32();
        Frame32(0x1000, TestMachine.Code32U, 2, 0xA000, TestMachine.DataK);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretd).Outcome);
        Assert.Equal(new PendingException(13, true, TestMachine.DataK), _m.State.PendingException);
    }

    [Fact]
    public void Eip_beyond_cs_limit_gives_gp0()
    {
        _m.Protected32();
        Frame32(0x20000, TestMachine.Code16K, 2);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretd).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    [Fact]
    public void Nt_set_is_reported_unsupported_task_return()
    {
        _m.Protected32();
        _m.State.Registers.Rflags |= X86Flags.NT;
        var r = _m.Run(Iretd);
        Assert.Equal(EmulationOutcome.Unsupported, r.Outcome);
        Assert.Contains("task", r.Reason);
    }

    [Fact]
    public void Return_to_virtual_8086_mode()
    {
        _m.Protected32();
        Frame32(0x1234, 0x2000, (uint)(X86Flags.VM | X86Flags.IF | X86Flags.IOPL | X86Flags.Fixed1), 0x7F0, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretd).Outcome);
        var sr = _m.State.Special;
        Assert.True(_m.State.Virtual8086);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(0x1234UL, _m.State.Registers.Rip);
        Assert.Equal(0x7F0UL, _m.State.Registers.Rsp);
        Assert.Equal(0x20000UL, sr.Cs.Base);
        Assert.Equal(0x30000UL, sr.Ss.Base);
        Assert.Equal((ushort)0x4000, sr.Es.Selector);
        Assert.Equal((ushort)0x5000, sr.Ds.Selector);
        Assert.Equal(0x70000UL, sr.Gs.Base);
    }

    [Fact]
    public void Real_mode_iret_pops_ip_cs_flags()
    {
        _m.Real();
        _m.Write16(0x8000, 0x1234);
        _m.Write16(0x8002, 0x2000);
        _m.Write16(0x8004, (ushort)(X86Flags.IF | X86Flags.CF | X86Flags.Fixed1));
        _m.State.NmiBlocked = true;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCF).Outcome);
        Assert.Equal(0x1234UL, _m.State.Registers.Rip);
        Assert.Equal(0x20000UL, _m.State.Special.Cs.Base);
        Assert.Equal((ushort)0x2000, _m.State.Special.Cs.Selector);
        Assert.Equal(0x8006UL, _m.State.Registers.Rsp);
        Assert.Equal(X86Flags.IF | X86Flags.CF | X86Flags.Fixed1, _m.State.Registers.Rflags);
        Assert.False(_m.State.NmiBlocked);
    }

    [Fact]
    public void Iretq_same_privilege_pops_ss_rsp()
    {
        _m.Long64();
        Frame64(0xFFFF_8000_0000_1000, TestMachine.Code64K, X86Flags.IF | X86Flags.Fixed1, 0x6000, TestMachine.DataK);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretq).Outcome);
        Assert.Equal(0xFFFF_8000_0000_1000UL, _m.State.Registers.Rip);
        Assert.Equal(0x6000UL, _m.State.Registers.Rsp);
        Assert.Equal(X86Flags.IF | X86Flags.Fixed1, _m.State.Registers.Rflags);
    }

    [Fact]
    public void Iretq_with_null_ss_at_cpl0_is_allowed()
    {
        _m.Long64();
        Frame64(0x1000, TestMachine.Code64K, X86Flags.Fixed1, 0x6000, 0);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretq).Outcome);
        Assert.Equal(0, _m.State.Special.Ss.Selector);
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Iretq_to_user_64_bit_mode()
    {
        _m.Long64();
        Frame64(0x40_1000, TestMachine.Code64U, X86Flags.IF | X86Flags.Fixed1, 0x7FFF_F000, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretq).Outcome);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(TestMachine.Code64U, _m.State.Special.Cs.Selector);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0x7FFF_F000UL, _m.State.Registers.Rsp);
        Assert.Equal(1, _m.State.Special.Ds.Unusable);
    }

    [Fact]
    public void Iretq_to_compatibility_mode()
    {
        _m.Long64();
        Frame64(0x8000_1000, TestMachine.Code32U, X86Flags.Fixed1, 0xA000, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretq).Outcome);
        Assert.False(_m.State.Is64BitMode);
        Assert.True(_m.State.LongModeActive);
        Assert.Equal(32, _m.State.CodeBitness);
        Assert.Equal(0x8000_1000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Iretq_non_canonical_rip_gives_gp0()
    {
        _m.Long64();
        Frame64(0x0000_8000_0000_0000, TestMachine.Code64K, X86Flags.Fixed1, 0x6000, TestMachine.DataK);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretq).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    [Fact]
    public void Iretq_with_nt_in_long_mode_gives_gp0()
    {
        _m.Long64();
        _m.State.Registers.Rflags |= X86Flags.NT;
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Iretq).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    [Fact]
    public void Iretq_sets_accessed_bit_of_cs_descriptor()
    {
        _m.Long64();
        ulong d = _m.GetGdt(TestMachine.Code64U) & ~(1UL << 40);
        _m.SetGdt(TestMachine.Code64U, d);
        Frame64(0x1000, TestMachine.Code64U, X86Flags.Fixed1, 0xA000, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Iretq).Outcome);
        Assert.NotEqual(0UL, _m.GetGdt(TestMachine.Code64U) & (1UL << 40));
    }

    [Fact]
    public void Bytes_are_fetched_from_guest_memory_when_missing()
    {
        _m.Long64();
        _m.Memory.Write(TestMachine.CodeBase, [0x48, 0xCF]);
        Frame64(0x2000, TestMachine.Code64K, X86Flags.Fixed1, 0x6000, TestMachine.DataK);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x48).Outcome);
        Assert.Equal(0x2000UL, _m.State.Registers.Rip);
    }
}
