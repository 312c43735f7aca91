namespace XenSharp.X86Emulation.Tests;

public sealed class CompareExchangeTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    private static readonly byte[] Cmpxchg16bRdi = [0xF0, 0x48, 0x0F, 0xC7, 0x0F];
    private static readonly byte[] Cmpxchg8bRdi = [0x0F, 0xC7, 0x0F];

    private void Setup(ulong address, ulong lo, ulong hi)
    {
        _m.Long64();
        _m.Write64(address, lo);
        _m.Write64(address + 8, hi);
        ref var r = ref _m.State.Registers;
        r.Rdi = address; r.Rax = 0x1111; r.Rdx = 0x2222; r.Rbx = 0x3333; r.Rcx = 0x4444;
    }

    [Fact]
    public void Cmpxchg16b_success_stores_rcx_rbx_and_sets_zf()
    {
        Setup(0x6000, 0x1111, 0x2222);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Cmpxchg16bRdi).Outcome);
        Assert.Equal(0x3333UL, _m.Read64(0x6000));
        Assert.Equal(0x4444UL, _m.Read64(0x6008));
        Assert.NotEqual(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
        Assert.Equal(TestMachine.CodeBase + 5, _m.State.Registers.Rip);
    }

    [Fact]
    public void Cmpxchg16b_failure_loads_rdx_rax_and_clears_zf()
    {
        Setup(0x6000, 0xAAAA, 0x2222);
        _m.State.Registers.Rflags |= X86Flags.ZF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Cmpxchg16bRdi).Outcome);
        Assert.Equal(0xAAAAUL, _m.State.Registers.Rax);
        Assert.Equal(0x2222UL, _m.State.Registers.Rdx);
        Assert.Equal(0xAAAAUL, _m.Read64(0x6000));
        Assert.Equal(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
    }

    [Fact]
    public void Cmpxchg16b_misaligned_gives_gp0()
    {
        Setup(0x6008, 0x1111, 0x2222);
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Cmpxchg16bRdi).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    [Fact]
    public void Cmpxchg16b_on_read_only_page_gives_write_page_fault()
    {
        Setup(0x6000, 0x1111, 0x2222);
        _m.Write64(TestMachine.PageTables + 0x2000, 0x0 | 0x85); // 2 MiB page, not writable
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Cmpxchg16bRdi).Outcome);
        Assert.Equal(PendingException.Pf(PageWalker.ErrPresent | PageWalker.ErrWrite, 0x6000), _m.State.PendingException);
    }

    [Fact]
    public void Cmpxchg8b_success_and_failure()
    {
        Setup(0x6000, 0x2222_0000_1111, 0);
        _m.State.Registers.Rax = 0x1111; _m.State.Registers.Rdx = 0x2222;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Cmpxchg8bRdi).Outcome);
        Assert.Equal(0x4444_0000_3333UL, _m.Read64(0x6000));
        Assert.NotEqual(0UL, _m.State.Registers.Rflags & X86Flags.ZF);

        _m.State.Registers.Rip = TestMachine.CodeBase;
        _m.State.Registers.Rax = 0xFFFF_FFFF_0000_0001;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Cmpxchg8bRdi).Outcome);
        Assert.Equal(0x3333UL, _m.State.Registers.Rax);
        Assert.Equal(0x4444UL, _m.State.Registers.Rdx);
        Assert.Equal(0UL, _m.State.Registers.Rflags & X86Flags.ZF);
    }

    [Fact]
    public void Cmpxchg8b_in_protected_mode_uses_segment_limit()
    {
        _m.Protected32();
        _m.State.Special.Ds.Limit = 0x5FFF;
        _m.State.Registers.Rdi = 0x6000;
        Assert.Equal(EmulationOutcome.Fault, _m.Run(Cmpxchg8bRdi).Outcome);
        Assert.Equal(new PendingException(13, true, 0), _m.State.PendingException);
    }

    [Fact]
    public void Unimplemented_instruction_is_reported_with_its_mnemonic()
    {
        _m.Long64();
        var r = _m.Run(0x90);
        Assert.Equal(EmulationOutcome.Unsupported, r.Outcome);
        Assert.Equal("NOP", r.Mnemonic);
        Assert.Equal(1, _m.Emulator.CounterSnapshot()["NOP/unsupported"]);
    }
}
