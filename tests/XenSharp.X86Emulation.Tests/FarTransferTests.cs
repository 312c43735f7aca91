namespace XenSharp.X86Emulation.Tests;

public sealed class FarTransferTests : IDisposable
{
    private const ushort Gate = 0x60, Gate2 = 0x70, TaskGate = 0x80;
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    private static byte[] Ptr32(byte opcode, uint offset, ushort selector) =>
        [opcode, (byte)offset, (byte)(offset >> 8), (byte)(offset >> 16), (byte)(offset >> 24), (byte)selector, (byte)(selector >> 8)];

    private static byte[] Ptr16(byte opcode, ushort offset, ushort selector) =>
        [opcode, (byte)offset, (byte)(offset >> 8), (byte)selector, (byte)(selector >> 8)];

    private void Stack32(params uint[] values)
    {
        ulong sp = _m.State.Registers.Rsp;
        for (int i = 0; i < values.Length; i++) _m.Write32(sp + (ulong)i * 4, values[i]);
    }

    private void Stack64(params ulong[] values)
    {
        ulong sp = _m.State.Registers.Rsp;
        for (int i = 0; i < values.Length; i++) _m.Write64(sp + (ulong)i * 8, values[i]);
    }

    private void Gate32(ushort selector, uint offset, ushort target, int dpl, int parameters = 0, bool present = true, byte type = SegmentDescriptor.TypeCallGate)
    {
        var (low, _) = SegmentDescriptor.EncodeGate(offset, target, type, dpl, present, parameters);
        _m.SetGdt(selector, low);
    }

    private void Gate64(ushort selector, ulong offset, ushort target, int dpl)
    {
        var (low, high) = SegmentDescriptor.EncodeGate(offset, target, SegmentDescriptor.TypeCallGate, dpl);
        _m.SetGdt(selector, low);
        _m.SetGdt((ushort)(selector + 8), high);
    }

    private void AssertFault(byte vector, uint error, EmulationResult r)
    {
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(new PendingException(vector, true, error), _m.State.PendingException);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    // ---- Real mode ----

    [Fact]
    public void Real_mode_far_jmp_loads_cs_base()
    {
        _m.Real();
        var r = _m.Run(Ptr16(0xEA, 0x1234, 0x2000));
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        Assert.Equal((ushort)0x2000, _m.State.Special.Cs.Selector);
        Assert.Equal(0x20000UL, _m.State.Special.Cs.Base);
        Assert.Equal(0x1234UL, _m.State.Registers.Rip);
        Assert.Equal(0x8000UL, _m.State.Registers.Rsp);
    }

    [Fact]
    public void Real_mode_far_call_pushes_cs_ip_and_retf_imm_returns()
    {
        _m.Real();
        _m.State.Registers.Rip = 0x100;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr16(0x9A, 0x0040, 0x3000)).Outcome);
        Assert.Equal(0x7FFCUL, _m.State.Registers.Rsp);
        Assert.Equal((ushort)0x105, _m.Read16(0x7FFC));
        Assert.Equal((ushort)0x1000, _m.Read16(0x7FFE));
        Assert.Equal(0x30000UL, _m.State.Special.Cs.Base);
        Assert.Equal(0x40UL, _m.State.Registers.Rip);

        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCA, 0x04, 0x00).Outcome);
        Assert.Equal((ushort)0x1000, _m.State.Special.Cs.Selector);
        Assert.Equal(0x10000UL, _m.State.Special.Cs.Base);
        Assert.Equal(0x105UL, _m.State.Registers.Rip);
        Assert.Equal(0x8004UL, _m.State.Registers.Rsp);
    }

    [Fact]
    public void Real_mode_32_bit_offset_beyond_cs_limit_gives_gp0()
    {
        _m.Real();
        _m.State.Registers.Rip = 0;
        var r = _m.Run([0x66, .. Ptr32(0xEA, 0x10000, 0x2000)]);
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    // ---- Protected mode, code segments ----

    [Fact]
    public void Protected_far_call_same_privilege_then_retf()
    {
        _m.Protected32();
        ulong sp = _m.State.Registers.Rsp;
        var r = _m.Run(Ptr32(0x9A, 0x5000, TestMachine.Code32K));
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        Assert.Equal("CALL", r.Mnemonic);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(sp - 8, _m.State.Registers.Rsp);
        Assert.Equal((uint)TestMachine.CodeBase + 7, _m.Read32(sp - 8));
        Assert.Equal(TestMachine.Code32K, _m.Read32(sp - 4));
        Assert.Equal(1, _m.Emulator.Counters.Completed(Iced.Intel.Mnemonic.Call));

        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCB).Outcome);
        Assert.Equal(TestMachine.CodeBase + 7, _m.State.Registers.Rip);
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.Code32K, _m.State.Special.Cs.Selector);
        Assert.Equal(1, _m.Emulator.Counters.Completed(Iced.Intel.Mnemonic.Retf));
    }

    [Fact]
    public void Protected_far_jmp_to_16_bit_code_segment()
    {
        _m.Protected32();
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0xEA, 0x1234, TestMachine.Code16K)).Outcome);
        Assert.Equal(TestMachine.Code16K, _m.State.Special.Cs.Selector);
        Assert.Equal(16, _m.State.CodeBitness);
        Assert.Equal(0x1234UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Far_jmp_through_memory_operand()
    {
        _m.Protected32();
        _m.Write32(0xC000, 0x7000);
        _m.Write16(0xC004, TestMachine.Code32K);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xFF, 0x2D, 0x00, 0xC0, 0x00, 0x00).Outcome);
        Assert.Equal(0x7000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Far_call_to_conforming_segment_keeps_cpl()
    {
        _m.Protected32(cpl: 3);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0x9A, 0x5000, TestMachine.Code32Conforming)).Outcome);
        Assert.Equal(TestMachine.Code32Conforming | 3, _m.State.Special.Cs.Selector);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Null_selector_gives_gp0()
    {
        _m.Protected32();
        AssertFault(13, 0, _m.Run(Ptr32(0xEA, 0x5000, 0)));
    }

    [Fact]
    public void Non_present_code_segment_gives_np_selector()
    {
        _m.Protected32();
        AssertFault(11, TestMachine.CodeNotPresent, _m.Run(Ptr32(0xEA, 0x5000, TestMachine.CodeNotPresent)));
    }

    [Fact]
    public void More_privileged_non_conforming_target_gives_gp_selector()
    {
        _m.Protected32(cpl: 3);
        AssertFault(13, TestMachine.Code32K, _m.Run(Ptr32(0x9A, 0x5000, TestMachine.Code32K)));
    }

    [Fact]
    public void Rpl_above_cpl_for_non_conforming_gives_gp_selector()
    {
        _m.Protected32();
        AssertFault(13, TestMachine.Code32K, _m.Run(Ptr32(0xEA, 0x5000, TestMachine.Code32K | 3)));
    }

    [Fact]
    public void Data_segment_target_gives_gp_selector()
    {
        _m.Protected32();
        AssertFault(13, TestMachine.DataK, _m.Run(Ptr32(0xEA, 0x5000, TestMachine.DataK)));
    }

    [Fact]
    public void Offset_beyond_limit_gives_gp0_and_leaves_stack()
    {
        _m.Protected32();
        ulong sp = _m.State.Registers.Rsp;
        AssertFault(13, 0, _m.Run(Ptr32(0x9A, 0x20000, TestMachine.Code16K)));
        Assert.Equal(sp, _m.State.Registers.Rsp);
    }

    // ---- Call gates (legacy) ----

    [Fact]
    public void Call_gate_to_inner_level_switches_stack_and_copies_parameters()
    {
        _m.Protected32(cpl: 3);
        Gate32(Gate, 0x5000, TestMachine.Code32K, dpl: 3, parameters: 2);
        ulong userSp = _m.State.Registers.Rsp;
        Stack32(0x1111, 0x2222);
        var r = _m.Run(Ptr32(0x9A, 0, Gate | 3));
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        ulong sp = TestMachine.KernelStackTop - 24;
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal((uint)TestMachine.CodeBase + 7, _m.Read32(sp));
        Assert.Equal(TestMachine.Code32U, _m.Read32(sp + 4));
        Assert.Equal(0x1111u, _m.Read32(sp + 8));
        Assert.Equal(0x2222u, _m.Read32(sp + 12));
        Assert.Equal((uint)userSp, _m.Read32(sp + 16));
        Assert.Equal(TestMachine.DataU, _m.Read32(sp + 20));
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.Code32K, _m.State.Special.Cs.Selector);
        Assert.Equal(TestMachine.DataK, _m.State.Special.Ss.Selector);
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Retf_imm_to_outer_level_pops_ss_esp_and_nulls_data_segments()
    {
        _m.Protected32();
        _m.State.Special.Fs = _m.Seg(TestMachine.DataU);
        Stack32(0x401000, TestMachine.Code32U, 0x1111, 0x2222, 0xA000, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCA, 0x08, 0x00).Outcome);
        var sr = _m.State.Special;
        Assert.Equal(0x401000UL, _m.State.Registers.Rip);
        Assert.Equal(0xA008UL, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.Code32U, sr.Cs.Selector);
        Assert.Equal(TestMachine.DataU, sr.Ss.Selector);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(1, sr.Ds.Unusable);
        Assert.Equal(1, sr.Es.Unusable);
        Assert.Equal(1, sr.Gs.Unusable);
        Assert.Equal(TestMachine.DataU, sr.Fs.Selector);
    }

    [Fact]
    public void Retf_to_more_privileged_level_gives_gp_selector()
    {
        _m.Protected32(cpl: 3);
        Stack32(0x1000, TestMachine.Code32K);
        AssertFault(13, TestMachine.Code32K, _m.Run(0xCB));
    }

    [Fact]
    public void Retf_outer_with_bad_ss_gives_gp_ss_selector()
    {
        _m.Protected32();
        Stack32(0x1000, TestMachine.Code32U, 0xA000, TestMachine.DataK);
        AssertFault(13, TestMachine.DataK, _m.Run(0xCB));
    }

    [Fact]
    public void Call_gate_same_privilege_uses_current_stack_in_gate_width()
    {
        _m.Protected32();
        Gate32(Gate, 0x6000, TestMachine.Code32K, dpl: 0, type: SegmentDescriptor.TypeCallGate16);
        ulong sp = _m.State.Registers.Rsp;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0x9A, 0, Gate)).Outcome);
        Assert.Equal(sp - 4, _m.State.Registers.Rsp);
        Assert.Equal((ushort)7, _m.Read16(sp - 4));
        Assert.Equal(TestMachine.Code32K, _m.Read16(sp - 2));
        Assert.Equal(0x6000UL, _m.State.Registers.Rip);
    }

    [Fact]
    public void Jmp_through_call_gate_never_changes_privilege()
    {
        _m.Protected32(cpl: 3);
        Gate32(Gate, 0x5000, TestMachine.Code32K, dpl: 3);
        AssertFault(13, TestMachine.Code32K, _m.Run(Ptr32(0xEA, 0, Gate | 3)));
    }

    [Fact]
    public void Jmp_through_call_gate_to_same_level()
    {
        _m.Protected32(cpl: 3);
        Gate32(Gate, 0x5000, TestMachine.Code32U, dpl: 3);
        ulong sp = _m.State.Registers.Rsp;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0xEA, 0, Gate | 3)).Outcome);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal(3, _m.State.Cpl);
    }

    [Fact]
    public void Call_gate_dpl_below_cpl_gives_gp_gate_selector()
    {
        _m.Protected32(cpl: 3);
        Gate32(Gate, 0x5000, TestMachine.Code32K, dpl: 0);
        AssertFault(13, Gate, _m.Run(Ptr32(0x9A, 0, Gate | 3)));
    }

    [Fact]
    public void Non_present_call_gate_gives_np_gate_selector()
    {
        _m.Protected32();
        Gate32(Gate, 0x5000, TestMachine.Code32K, dpl: 0, present: false);
        AssertFault(11, Gate, _m.Run(Ptr32(0x9A, 0, Gate)));
    }

    [Fact]
    public void Call_gate_to_non_present_code_gives_np_code_selector()
    {
        _m.Protected32();
        Gate32(Gate, 0x5000, TestMachine.CodeNotPresent, dpl: 0);
        AssertFault(11, TestMachine.CodeNotPresent, _m.Run(Ptr32(0x9A, 0, Gate)));
    }

    [Fact]
    public void Call_gate_with_bad_tss_stack_gives_ts()
    {
        _m.Protected32(cpl: 3);
        Gate32(Gate, 0x5000, TestMachine.Code32K, dpl: 3);
        _m.Write32(TestMachine.TssBase + 8, TestMachine.DataU);
        AssertFault(10, TestMachine.DataU & 0xFFFC, _m.Run(Ptr32(0x9A, 0, Gate | 3)));
    }

    [Fact]
    public void Task_gate_is_unsupported()
    {
        _m.Protected32();
        Gate32(TaskGate, 0, TestMachine.Tss, dpl: 0, type: SegmentDescriptor.TypeTaskGate);
        var r = _m.Run(Ptr32(0xEA, 0, TaskGate));
        Assert.Equal(EmulationOutcome.Unsupported, r.Outcome);
        Assert.Contains("task", r.Reason);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    // ---- Long mode ----

    [Fact]
    public void Long_mode_call_gate_from_user_uses_rsp0_and_null_ss()
    {
        _m.Long64(cpl: 3);
        Gate64(Gate, 0xFFFF_8000_0000_5000, TestMachine.Code64K, dpl: 3);
        _m.Write64(0xC000, 0);
        _m.Write16(0xC008, Gate | 3);
        ulong userSp = _m.State.Registers.Rsp;
        // call far qword [0xC000] (REX.W FF /3)
        var r = _m.Run(0x48, 0xFF, 0x1C, 0x25, 0x00, 0xC0, 0x00, 0x00);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        ulong sp = TestMachine.KernelStackTop - 32;
        Assert.Equal(sp, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.CodeBase + 8, _m.Read64(sp));
        Assert.Equal(TestMachine.Code64U, _m.Read64(sp + 8));
        Assert.Equal(userSp, _m.Read64(sp + 16));
        Assert.Equal(TestMachine.DataU, _m.Read64(sp + 24));
        Assert.Equal(0xFFFF_8000_0000_5000UL, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.Code64K, _m.State.Special.Cs.Selector);
        Assert.Equal(0, _m.State.Special.Ss.Selector);
        Assert.Equal(0, _m.State.Cpl);
        Assert.True(_m.State.Is64BitMode);
    }

    [Fact]
    public void Long_mode_16_bit_call_gate_gives_gp_selector()
    {
        _m.Long64();
        Gate32(Gate, 0x5000, TestMachine.Code64K, dpl: 0, type: SegmentDescriptor.TypeCallGate16);
        _m.Write64(0xC000, 0);
        _m.Write16(0xC008, Gate);
        AssertFault(13, Gate, _m.Run(0x48, 0xFF, 0x1C, 0x25, 0x00, 0xC0, 0x00, 0x00));
    }

    [Fact]
    public void Long_mode_call_gate_to_32_bit_code_gives_gp_code_selector()
    {
        _m.Long64();
        Gate64(Gate, 0x5000, TestMachine.Code32K, dpl: 0);
        _m.Write64(0xC000, 0);
        _m.Write16(0xC008, Gate);
        AssertFault(13, TestMachine.Code32K, _m.Run(0x48, 0xFF, 0x1C, 0x25, 0x00, 0xC0, 0x00, 0x00));
    }

    [Fact]
    public void Long_mode_task_gate_gives_gp_selector()
    {
        _m.Long64();
        Gate32(TaskGate, 0, TestMachine.Tss, dpl: 0, type: SegmentDescriptor.TypeTaskGate);
        _m.Write64(0xC000, 0);
        _m.Write16(0xC008, TaskGate);
        AssertFault(13, TaskGate, _m.Run(0x48, 0xFF, 0x2C, 0x25, 0x00, 0xC0, 0x00, 0x00));
    }

    [Fact]
    public void Long_mode_far_jmp_m16_64()
    {
        _m.Long64();
        _m.Write64(0xC000, 0xFFFF_8000_0000_1000);
        _m.Write16(0xC008, TestMachine.Code64K);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x48, 0xFF, 0x2C, 0x25, 0x00, 0xC0, 0x00, 0x00).Outcome);
        Assert.Equal(0xFFFF_8000_0000_1000UL, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.Code64K, _m.State.Special.Cs.Selector);
    }

    [Fact]
    public void Long_mode_far_jmp_to_non_canonical_offset_gives_gp0()
    {
        _m.Long64();
        _m.Write64(0xC000, 0x0000_8000_0000_0000);
        _m.Write16(0xC008, TestMachine.Code64K);
        AssertFault(13, 0, _m.Run(0x48, 0xFF, 0x2C, 0x25, 0x00, 0xC0, 0x00, 0x00));
    }

    [Fact]
    public void Compatibility_mode_far_call_into_64_bit_code()
    {
        _m.Long64();
        _m.State.Special.Cs = _m.Seg(TestMachine.Code32K);
        Assert.Equal(32, _m.State.CodeBitness);
        ulong sp = _m.State.Registers.Rsp;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0x9A, 0x5000, TestMachine.Code64K)).Outcome);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(sp - 8, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.Code32K, _m.Read32(sp - 4));
    }

    [Fact]
    public void Retfq_to_user_compatibility_mode()
    {
        _m.Long64();
        Stack64(0x8000_1000, TestMachine.Code32U, 0xA000, TestMachine.DataU);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0x48, 0xCB).Outcome);
        Assert.False(_m.State.Is64BitMode);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(0x8000_1000UL, _m.State.Registers.Rip);
        Assert.Equal(0xA000UL, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.Code32U, _m.State.Special.Cs.Selector);
        Assert.Equal(1, _m.State.Special.Ds.Unusable);
    }

    [Fact]
    public void Retf_in_64_bit_mode_defaults_to_32_bit_operands()
    {
        _m.Long64();
        ulong sp = _m.State.Registers.Rsp;
        Stack32(0x5000, TestMachine.Code64K);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(0xCB).Outcome);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
        Assert.Equal(sp + 8, _m.State.Registers.Rsp);
    }

    [Fact]
    public void Retfq_non_canonical_rip_gives_gp0()
    {
        _m.Long64();
        Stack64(0x0000_8000_0000_0000, TestMachine.Code64K);
        AssertFault(13, 0, _m.Run(0x48, 0xCB));
    }

    [Fact]
    public void Compatibility_mode_call_through_64_bit_gate_pushes_8_byte_return_address()
    {
        _m.Long64();
        _m.State.Special.Cs = _m.Seg(TestMachine.Code32K);
        Gate64(Gate, 0x5000, TestMachine.Code64K, dpl: 0);
        ulong sp = _m.State.Registers.Rsp;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Ptr32(0x9A, 0, Gate)).Outcome);
        Assert.Equal(sp - 16, _m.State.Registers.Rsp);
        Assert.Equal(TestMachine.CodeBase + 7, _m.Read64(sp - 16));
        Assert.Equal(TestMachine.Code32K, _m.Read64(sp - 8));
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0x5000UL, _m.State.Registers.Rip);
    }
}
