using Iced.Intel;
using XenSharp.Hypervisor.Cpu;
using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

public sealed class SystemTests : IDisposable
{
    private const ulong Code = InterpreterMachine.Code, Data = InterpreterMachine.Data, Handlers = InterpreterMachine.Handlers;
    private readonly InterpreterMachine _m = new([
        new CpuidEntry(0, 0, 0xD, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
        new CpuidEntry(7, 0, 0, 0x11, 0x22, 0x33, indexed: true),
        new CpuidEntry(7, 1, 0, 0x44, 0x55, 0x66, indexed: true),
    ]);

    public void Dispose() => _m.Dispose();

    [Fact]
    public void Rep_movs_and_stos_in_both_directions()
    {
        for (uint k = 0; k < 64; k++) _m.M.Write32(Data + 4 * k, 0x1000 + k);
        _m.Protected32(a =>
        {
            a.cld();
            a.mov(esi, (uint)Data); a.mov(edi, (uint)Data + 0x1000); a.mov(ecx, 64);
            a.rep.movsd();
            a.std();
            a.mov(esi, (uint)Data + 63 * 4); a.mov(edi, (uint)Data + 0x2000 + 63 * 4); a.mov(ecx, 64);
            a.rep.movsd();
            a.mov(eax, 0xAB); a.mov(edi, (uint)Data + 0x3000 + 9); a.mov(ecx, 10);
            a.rep.stosb();
            a.cld();
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        for (uint k = 0; k < 64; k++)
        {
            Assert.Equal(0x1000 + k, _m.Read32(Data + 0x1000 + 4 * k));
            Assert.Equal(0x1000 + k, _m.Read32(Data + 0x2000 + 4 * k));
        }
        for (uint k = 0; k < 10; k++) Assert.Equal(0xABu, _m.Read32(Data + 0x3000 + k) & 0xFF);
        Assert.Equal(0u, _m.Read32(Data + 0x3000 + 10) & 0xFF);
        Assert.Equal(Data + 0x3000 - 1, _m.Regs.Rdi);
        Assert.Equal(0UL, _m.Regs.Rcx);
    }

    [Fact]
    public void Overlapping_rep_movsb_replicates_like_the_processor()
    {
        _m.M.Memory.Write(Data, "ab"u8);
        _m.Protected32(a =>
        {
            a.mov(esi, (uint)Data); a.mov(edi, (uint)Data + 2); a.mov(ecx, 6);
            a.rep.movsb();
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        var bytes = new byte[8];
        _m.M.Memory.TryReadBytes(Data, bytes);
        Assert.Equal("abababab"u8.ToArray(), bytes);
    }

    [Fact]
    public void Repe_cmps_and_repne_scas_stop_at_the_difference()
    {
        _m.M.Memory.Write(Data, "hello world"u8);
        _m.M.Memory.Write(Data + 0x100, "hello there"u8);
        _m.Protected32(a =>
        {
            a.mov(esi, (uint)Data); a.mov(edi, (uint)Data + 0x100); a.mov(ecx, 11);
            a.repe.cmpsb();
            a.mov(ebx, ecx);
            a.mov(edx, esi);
            a.mov(edi, (uint)Data); a.mov(ecx, 11); a.mov(al, (byte)'w');
            a.repne.scasb();
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(11UL - 7, _m.Regs.Rbx);        // stopped after the 7th byte ('w' vs 't')
        Assert.Equal(Data + 7, _m.Regs.Rdx);
        Assert.Equal(Data + 7, _m.Regs.Rdi);        // 'w' is at index 6; EDI points past it
        Assert.Equal(11UL - 7, _m.Regs.Rcx);
        Assert.Equal(X86Flags.ZF, _m.Regs.Rflags & X86Flags.ZF);
    }

    [Fact]
    public void Self_modifying_code_is_picked_up()
    {
        const ulong sub = Code + 0x100;
        _m.Protected32(a =>
        {
            a.mov(ebx, (uint)sub);
            a.call(ebx);
            a.mov(__dword_ptr[Data], eax);
            a.mov(__dword_ptr[sub + 1], 99);   // patch the immediate of "mov eax, 7"
            a.call(ebx);
            a.mov(__dword_ptr[Data + 4], eax);
            a.hlt();
        });
        _m.Load(32, sub, a => { a.mov(eax, 7); a.ret(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(7u, _m.Read32(Data));
        Assert.Equal(99u, _m.Read32(Data + 4));
    }

    [Fact]
    public void Out_and_in_stop_and_complete()
    {
        _m.Protected32(a =>
        {
            a.mov(al, 0x41); a.@out(0xE9, al);
            a.@in(al, 0x60);
            a.mov(__byte_ptr[Data], al);
            a.mov(dx, 0x3F8); a.mov(eax, 0x1234_5678); a.@out(dx, eax);
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Io, _m.Run());
        Assert.Equal((ushort)0xE9, _m.Cpu.Exit.Port);
        Assert.True(_m.Cpu.Exit.IsWrite);
        Assert.Equal(1, _m.Cpu.Exit.Size);
        Assert.Equal(0x41UL, _m.Cpu.Exit.Data);

        Assert.Equal(InterpreterStop.Io, _m.Run());
        Assert.Equal((ushort)0x60, _m.Cpu.Exit.Port);
        Assert.False(_m.Cpu.Exit.IsWrite);
        ulong afterIn = _m.Regs.Rip;
        _m.Regs.Rflags |= X86Flags.IF;
        Assert.False(_m.Cpu.CanTakeInterrupt); // the IN is half done
        _m.Cpu.CompleteIoRead(0x99);
        Assert.True(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(0x99UL, _m.Regs.Rax & 0xFF);
        Assert.Equal(afterIn, _m.Regs.Rip);

        Assert.Equal(InterpreterStop.Io, _m.Run());
        Assert.Equal((ushort)0x3F8, _m.Cpu.Exit.Port);
        Assert.Equal(4, _m.Cpu.Exit.Size);
        Assert.Equal(0x1234_5678UL, _m.Cpu.Exit.Data);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x99u, _m.Read32(Data) & 0xFF);
    }

    [Fact]
    public void Rep_outsb_and_insb_do_one_element_per_stop()
    {
        _m.M.Memory.Write(Data, "xyz"u8);
        _m.Protected32(a =>
        {
            a.mov(esi, (uint)Data); a.mov(ecx, 3); a.mov(dx, 0xE9);
            a.rep.outsb();
            a.mov(edi, (uint)Data + 0x10); a.mov(ecx, 2); a.mov(dx, 0x70);
            a.rep.insb();
            a.hlt();
        });
        foreach (char c in "xyz")
        {
            Assert.Equal(InterpreterStop.Io, _m.Run());
            Assert.True(_m.Cpu.Exit.IsWrite);
            Assert.Equal((ulong)c, _m.Cpu.Exit.Data);
        }
        foreach (byte v in new byte[] { 0x11, 0x22 })
        {
            Assert.Equal(InterpreterStop.Io, _m.Run());
            Assert.False(_m.Cpu.Exit.IsWrite);
            Assert.Equal((ushort)0x70, _m.Cpu.Exit.Port);
            _m.Cpu.CompleteIoRead(v);
        }
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x2211u, _m.Read32(Data + 0x10) & 0xFFFF);
        Assert.Equal(0UL, _m.Regs.Rcx);
    }

    [Fact]
    public void Mmio_read_restarts_the_instruction_and_consumes_the_value()
    {
        const ulong apic = 0xFEE0_0000;
        _m.Protected32(a =>
        {
            a.mov(ebx, 0x1111);
            a.mov(eax, __dword_ptr[apic + 0x30]);
            a.mov(__dword_ptr[apic + 0xB0], eax);
            a.add(__dword_ptr[apic + 0x40], 5);
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Mmio, _m.Run());
        ref var exit = ref _m.Cpu.Exit;
        Assert.False(exit.IsWrite);
        Assert.Equal(apic + 0x30, exit.Address);
        Assert.Equal(4, exit.Size);
        Assert.Equal(Code + 5, _m.Regs.Rip);       // on the MOV
        Assert.Equal(0UL, _m.Regs.Rax);            // not loaded yet
        _m.Cpu.CompleteMmioRead(0xCAFE);

        Assert.Equal(InterpreterStop.Mmio, _m.Run());
        Assert.True(_m.Cpu.Exit.IsWrite);
        Assert.Equal(apic + 0xB0, _m.Cpu.Exit.Address);
        Assert.Equal(0xCAFEUL, _m.Cpu.Exit.Data);
        Assert.Equal(0xCAFEUL, _m.Regs.Rax);

        Assert.Equal(InterpreterStop.Mmio, _m.Run()); // read half of the ADD
        Assert.False(_m.Cpu.Exit.IsWrite);
        _m.Cpu.CompleteMmioRead(10);
        Assert.Equal(InterpreterStop.Mmio, _m.Run()); // write half
        Assert.True(_m.Cpu.Exit.IsWrite);
        Assert.Equal(apic + 0x40, _m.Cpu.Exit.Address);
        Assert.Equal(15UL, _m.Cpu.Exit.Data);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
    }

    [Fact]
    public void Unknown_msrs_stop_and_kept_msrs_do_not()
    {
        _m.Protected32(a =>
        {
            a.mov(ecx, 0xC000_0080); a.rdmsr(); a.mov(esi, eax);                  // EFER (kept)
            a.mov(ecx, 0x277); a.mov(eax, 0x0606_0606); a.mov(edx, 0x0606_0606); a.wrmsr(); // PAT (kept)
            a.mov(ecx, 0x4000_0000); a.mov(eax, 0x5000); a.xor(edx, edx); a.wrmsr();
            a.mov(ecx, 0x6E0); a.rdmsr();
            a.hlt();
        });
        Assert.Equal(InterpreterStop.MsrWrite, _m.Run());
        Assert.Equal(0x4000_0000u, _m.Cpu.Exit.MsrIndex);
        Assert.Equal(0x5000UL, _m.Cpu.Exit.MsrData);
        ulong wrmsrRip = _m.Regs.Rip;
        _m.Cpu.CompleteMsrWrite(false);
        Assert.Equal(wrmsrRip + 2, _m.Regs.Rip);

        Assert.Equal(InterpreterStop.MsrRead, _m.Run());
        Assert.Equal(0x6E0u, _m.Cpu.Exit.MsrIndex);
        _m.Cpu.CompleteMsrRead(0x1122_3344_5566_7788, false);
        Assert.Equal(0x5566_7788UL, _m.Regs.Rax);
        Assert.Equal(0x1122_3344UL, _m.Regs.Rdx);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x0606_0606_0606_0606UL, _m.Cpu.Msrs.Pat);
    }

    [Fact]
    public void Msr_fault_delivers_gp()
    {
        _m.Protected32(a => { a.mov(ecx, 0x8FF); a.rdmsr(); a.hlt(); });
        _m.Handler32(13, Handlers, a => { a.pop(eax); a.mov(__dword_ptr[Data], eax); a.mov(eax, __dword_ptr[esp]); a.mov(__dword_ptr[Data + 4], eax); a.hlt(); });
        Assert.Equal(InterpreterStop.MsrRead, _m.Run());
        _m.Cpu.CompleteMsrRead(0, fault: true);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0u, _m.Read32(Data));                 // error code 0
        Assert.Equal((uint)Code + 5, _m.Read32(Data + 4)); // EIP of the RDMSR
    }

    [Fact]
    public void Efer_reserved_bits_give_gp()
    {
        _m.Protected32(a => { a.mov(ecx, 0xC000_0080); a.mov(eax, 0x2); a.xor(edx, edx); a.wrmsr(); a.hlt(); });
        _m.Handler32(13, Handlers, a => { a.mov(__dword_ptr[Data], 0xD); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0xDu, _m.Read32(Data));
        Assert.Equal(0UL, _m.State.Special.Efer);
    }

    [Fact]
    public void Hlt_stops_and_external_interrupt_runs_the_handler_then_iret_returns()
    {
        _m.Protected32(a =>
        {
            a.sti();
            a.hlt();
            a.mov(__dword_ptr[Data + 4], 2);
            a.hlt();
        });
        _m.Handler32(0x20, Handlers, a => { a.mov(__dword_ptr[Data], 1); a.iretd(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.True(_m.Cpu.IsHalted);
        Assert.Equal(Code + 2, _m.Regs.Rip);
        Assert.Equal(InterpreterStop.Halt, _m.Run()); // still halted: nothing happens
        Assert.True(_m.Cpu.CanTakeInterrupt);
        _m.Cpu.DeliverExternalInterrupt(0x20);
        Assert.False(_m.Cpu.IsHalted);
        Assert.Equal(Handlers, _m.Regs.Rip);
        Assert.Equal(0UL, _m.Regs.Rflags & X86Flags.IF);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(1u, _m.Read32(Data));
        Assert.Equal(2u, _m.Read32(Data + 4));
        Assert.Equal(X86Flags.IF, _m.Regs.Rflags & X86Flags.IF);
    }

    [Fact]
    public void External_interrupt_through_a_not_present_gate_delivers_np_not_df()
    {
        _m.Protected32(a => { a.sti(); a.nop(); a.hlt(); });
        _m.M.SetIdt32(0x30, (uint)Handlers, TestMachine.Code32K, SegmentDescriptor.TypeInterruptGate, 0, present: false);
        _m.Handler32(11, Handlers + 0x100, a => { a.pop(eax); a.mov(__dword_ptr[Data], eax); a.hlt(); });
        _m.Handler32(8, Handlers + 0x200, a => { a.mov(__dword_ptr[Data], 0xDF); a.hlt(); });
        Assert.Equal(InterpreterStop.Budget, _m.Run(2));
        _m.Cpu.DeliverExternalInterrupt(0x30);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x30u * 8 + 2 + 1, _m.Read32(Data)); // IDT | EXT
    }

    [Fact]
    public void Sti_shadow_covers_exactly_one_instruction()
    {
        _m.Protected32(a => { a.sti(); a.nop(); a.nop(); a.hlt(); });
        Assert.Equal(InterpreterStop.Budget, _m.Run(1));
        Assert.Equal(X86Flags.IF, _m.Regs.Rflags & X86Flags.IF);
        Assert.False(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(InterpreterStop.Budget, _m.Run(1));
        Assert.True(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(2L, _m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Mov_ss_shadow_and_pop_ss()
    {
        _m.Protected32(a => { a.mov(ax, (ushort)TestMachine.DataK); a.mov(ss, ax); a.nop(); a.push(ss); a.pop(ss); a.nop(); a.hlt(); });
        _m.Regs.Rflags |= X86Flags.IF;
        Assert.Equal(InterpreterStop.Budget, _m.Run(2));
        Assert.False(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(InterpreterStop.Budget, _m.Run(1));
        Assert.True(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(InterpreterStop.Budget, _m.Run(2));
        Assert.False(_m.Cpu.CanTakeInterrupt);
        Assert.Equal(InterpreterStop.Halt, _m.Run());
    }

    [Fact]
    public void Cpuid_answers_from_the_table()
    {
        _m.Protected32(a =>
        {
            a.xor(eax, eax); a.cpuid(); a.mov(__dword_ptr[Data], eax); a.mov(__dword_ptr[Data + 4], ebx);
            a.mov(eax, 7); a.mov(ecx, 1); a.cpuid(); a.mov(__dword_ptr[Data + 8], ebx);
            a.mov(eax, 0x1234); a.cpuid();
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0xDu, _m.Read32(Data));
        Assert.Equal(0x756E_6547u, _m.Read32(Data + 4));
        Assert.Equal(0x44u, _m.Read32(Data + 8));
        Assert.Equal(0UL, _m.Regs.Rax | _m.Regs.Rbx | _m.Regs.Rcx | _m.Regs.Rdx);
    }

    [Fact]
    public void Fault_with_no_usable_idt_is_a_triple_fault()
    {
        _m.Protected32(a => { a.nop(); a.ud2(); });
        _m.State.Special.Idt.Limit = 0;
        Assert.Equal(InterpreterStop.Shutdown, _m.Run());
        Assert.Contains("triple fault", _m.Cpu.Exit.Reason);
        Assert.Equal(InterpreterStop.Shutdown, _m.Run());
    }

    [Fact]
    public void Unknown_instruction_is_unsupported_with_registers_unchanged()
    {
        _m.Protected32(a => { a.mov(eax, 0x19); a.daa(); a.hlt(); });
        Assert.Equal(InterpreterStop.Unsupported, _m.Run());
        Assert.Equal("DAA at 0008:10005 (bytes 27) is not implemented", _m.Cpu.Exit.Reason);
        Assert.Equal(Code + 5, _m.Regs.Rip);
        Assert.Equal(0x19UL, _m.Regs.Rax);
        Assert.Equal(1L, _m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Instruction_fetch_outside_ram_is_unsupported()
    {
        _m.Protected32(a => { a.mov(eax, 0xFEE0_0000); a.jmp(eax); });
        Assert.Equal(InterpreterStop.Unsupported, _m.Run());
        Assert.Contains("not RAM", _m.Cpu.Exit.Reason);
        Assert.Equal(0xFEE0_0000UL, _m.Regs.Rip);
    }

    [Fact]
    public void Ud2_and_privileged_instructions_deliver_exceptions()
    {
        _m.Protected32(a => { a.ud2(); }, cpl: 0);
        _m.Handler32(6, Handlers, a => { a.mov(__dword_ptr[Data], 6); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(6u, _m.Read32(Data));
    }

    [Fact]
    public void Hlt_at_cpl3_is_gp()
    {
        _m.Protected32(a => { a.hlt(); }, cpl: 3);
        _m.Handler32(13, Handlers, a => { a.mov(__dword_ptr[Data], 13); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(13u, _m.Read32(Data));
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Int_n_and_iret_in_protected_mode()
    {
        _m.Protected32(a => { a.mov(eax, 1); a.@int(0x80); a.add(eax, 10); a.hlt(); });
        _m.Handler32(0x80, Handlers, a => { a.add(eax, 100); a.iretd(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(111UL, _m.Regs.Rax);
    }

    [Fact]
    public void Lgdt_far_jump_and_segment_reload_like_guest_entry_code()
    {
        const ulong gdtr = Data + 0x800;
        _m.M.Write16(gdtr, 0xFFF);
        _m.M.Write32(gdtr + 2, (uint)TestMachine.GdtBase);
        const ulong target = Code + 0x80;
        _m.Protected32(a =>
        {
            a.lgdt(__fword_ptr[gdtr]);
            a.jmp(TestMachine.Code32K, (uint)target);
        });
        _m.Load(32, target, a =>
        {
            a.mov(eax, (uint)TestMachine.DataK);
            a.mov(ds, eax); a.mov(es, eax); a.mov(ss, eax);
            a.mov(eax, 0x23);  // DPL 3 data from CPL 0: allowed
            a.mov(fs, eax);
            a.xor(eax, eax);
            a.mov(gs, eax);    // null: allowed for GS
            a.hlt();
        });
        _m.State.Special.Gdt = default;
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(TestMachine.GdtBase, _m.State.Special.Gdt.Base);
        Assert.Equal(TestMachine.Code32K, _m.State.Special.Cs.Selector);
        Assert.Equal((ushort)0x23, _m.State.Special.Fs.Selector);
        Assert.Equal(1, _m.State.Special.Gs.Unusable);
    }

    [Fact]
    public void Loading_a_code_segment_into_ds_is_gp_with_selector()
    {
        _m.Protected32(a => { a.mov(eax, (uint)TestMachine.CodeNotPresent); a.mov(ds, eax); a.hlt(); });
        _m.Handler32(11, Handlers, a => { a.pop(eax); a.mov(__dword_ptr[Data], eax); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal((uint)TestMachine.CodeNotPresent, _m.Read32(Data)); // execute/read code, not present → #NP(sel)
    }
}
