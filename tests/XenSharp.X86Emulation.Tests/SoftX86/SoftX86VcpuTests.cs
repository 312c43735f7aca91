using Iced.Intel;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.SoftX86;
using XenSharp.X86Emulation.Interpreter;
using XenSharp.X86Emulation.Tests.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.SoftX86;

/// <summary>
/// The software CPU seen through the accelerator interface the hypervisor uses (IVcpu): exits
/// look like KVM's, HLT completes, and a queued interrupt arrives exactly where a CPU takes it.
/// </summary>
public sealed class SoftX86VcpuTests : IDisposable
{
    private const byte Vector = 0xF3;
    private readonly InterpreterMachine _m = new();
    private SoftX86Vcpu _cpu = null!;

    private void Start(Action<Assembler> program, Action<Assembler>? handler = null)
    {
        _m.Protected32(program);
        _m.Regs.Rsp = TestMachine.KernelStackTop;
        if (handler is not null) _m.Handler32(Vector, InterpreterMachine.Handlers, handler);
        _cpu = new SoftX86Vcpu(_m.M.Memory, SoftX86Cpuid.Build());
        _cpu.SetSpecialRegisters(_m.State.Special);
        _cpu.SetRegisters(_m.State.Registers);
    }

    private VcpuExitKind Run()
    {
        _cpu.Run();
        return _cpu.Exit.Kind;
    }

    [Fact]
    public void An_interrupt_queued_while_IF_is_clear_arrives_right_after_the_sti_shadow_not_later()
    {
        // The handler records ECX: 0 if it ran before `mov ecx, 5` (after the instruction in STI's shadow).
        Start(a => { a.cli(); a.sti(); a.nop(); a.mov(ecx, 5); a.hlt(); },
              h => { a_handler(h); });

        _cpu.QueueInterrupt(Vector);
        Assert.Equal(VcpuExitKind.InterruptWindow, Run());            // stopped at the boundary after the shadow
        Assert.True(_cpu.InterruptQueued);                             // the hypervisor re-decides now
        Assert.Equal(VcpuExitKind.Halt, Run());                        // delivered at entry, handler, IRET, mov, HLT
        Assert.False(_cpu.InterruptQueued);
        Assert.Equal(1UL, _cpu.Registers.Rdx & 0xFF);                  // the handler ran once…
        Assert.Equal(0UL, _cpu.Registers.Rsi);                         // …before mov ecx, 5
        Assert.Equal(5UL, _cpu.Registers.Rcx);

        static void a_handler(Assembler h) { h.inc(edx); h.mov(esi, ecx); h.iretd(); }
    }

    [Fact]
    public void A_cancelled_interrupt_is_not_delivered_at_the_window()
    {
        Start(a => { a.cli(); a.sti(); a.nop(); a.mov(ecx, 5); a.hlt(); }, h => { h.inc(edx); h.iretd(); });
        _cpu.QueueInterrupt(Vector);
        Assert.Equal(VcpuExitKind.InterruptWindow, Run());
        _cpu.CancelQueuedInterrupt();                                  // the guest handled the event meanwhile
        Assert.Equal(VcpuExitKind.Halt, Run());
        Assert.Equal(0UL, _cpu.Registers.Rdx);
    }

    [Fact]
    public void A_halt_exit_completes_the_instruction_and_the_next_run_continues_after_it()
    {
        Start(a => { a.hlt(); a.mov(eax, 7); a.hlt(); });
        Assert.Equal(VcpuExitKind.Halt, Run());
        Assert.Equal(VcpuExitKind.Halt, Run());
        Assert.Equal(7UL, _cpu.Registers.Rax);
    }

    [Fact]
    public void Port_io_exits_like_kvm_and_in_gets_the_completed_value()
    {
        Start(a => { a.mov(eax, 0x41); a.@out(0xE9, al); a.@in(al, 0x60); a.hlt(); });
        Assert.Equal(VcpuExitKind.Io, Run());
        Assert.Equal((ushort)0xE9, _cpu.Exit.Port);
        Assert.True(_cpu.Exit.IsWrite);
        Assert.Equal(0x41UL, _cpu.Exit.Data & 0xFF);
        Assert.Equal(VcpuExitKind.Io, Run());
        Assert.False(_cpu.Exit.IsWrite);
        _cpu.CompleteIoRead(0x9C);
        Assert.Equal(VcpuExitKind.Halt, Run());
        Assert.Equal(0x9CUL, _cpu.Registers.Rax & 0xFF);
    }

    [Fact]
    public void A_kick_makes_run_return_interrupted_and_an_unknown_instruction_is_an_internal_error_with_words()
    {
        Start(a => { a.db(0x27); a.hlt(); }); // DAA: not implemented
        _cpu.Kick();
        Assert.Equal(VcpuExitKind.Interrupted, Run());
        Assert.Equal(VcpuExitKind.InternalError, Run());
        Assert.Contains("DAA", _cpu.Exit.Detail);
        Assert.Equal(InterpreterMachine.Code, _cpu.Registers.Rip);
    }

    [Fact]
    public void The_cpuid_names_only_what_the_interpreter_implements()
    {
        var leaf1 = SoftX86Cpuid.Build().Single(e => e.Function == 1);
        Assert.Equal(0u, leaf1.Edx & (1u << 0 | 1u << 23 | 1u << 25 | 1u << 26)); // no FPU, MMX, SSE, SSE2
        var ext = SoftX86Cpuid.Build().Single(e => e.Function == 0x80000001);
        Assert.NotEqual(0u, ext.Edx & (1u << 29));                                 // long mode
    }

    public void Dispose() => _m.Dispose();
}
