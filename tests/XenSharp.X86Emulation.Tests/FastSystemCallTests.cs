namespace XenSharp.X86Emulation.Tests;

public sealed class FastSystemCallTests : IDisposable
{
    private readonly TestMachine _m = new();
    private readonly MsrValues _msrs = new()
    {
        Star = (0x23UL << 48) | (0x10UL << 32) | 0x0040_0000,
        Lstar = 0xFFFF_8000_0010_0000,
        Cstar = 0xFFFF_8000_0020_0000,
        Sfmask = X86Flags.IF | X86Flags.TF | X86Flags.DF,
        SysenterCs = 0x60,
        SysenterEsp = 0xFFFF_8000_0000_9000,
        SysenterEip = 0xFFFF_8000_0030_0000,
    };

    public FastSystemCallTests() => _m.State.Msrs = _msrs;
    public void Dispose() => _m.Dispose();

    private static readonly byte[] Syscall = [0x0F, 0x05], Sysret = [0x0F, 0x07], Sysretq = [0x48, 0x0F, 0x07],
        Sysenter = [0x0F, 0x34], Sysexit = [0x0F, 0x35], Sysexitq = [0x48, 0x0F, 0x35];

    private void Long64WithSce(int cpl)
    {
        _m.Long64(cpl);
        _m.State.Special.Efer |= X86Flags.EferSce;
    }

    private void AssertFault(PendingException expected, EmulationResult r)
    {
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(expected, _m.State.PendingException);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    [Fact]
    public void Syscall_from_64_bit_user_enters_lstar_at_cpl0()
    {
        Long64WithSce(cpl: 3);
        ulong flags = X86Flags.Fixed1 | X86Flags.IF | X86Flags.CF | X86Flags.RF;
        _m.State.Registers.Rflags = flags;
        ulong rsp = _m.State.Registers.Rsp;
        var r = _m.Run(Syscall);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        var regs = _m.State.Registers;
        var sr = _m.State.Special;
        Assert.Equal(TestMachine.CodeBase + 2, regs.Rcx);
        Assert.Equal(flags & ~X86Flags.RF, regs.R11);
        Assert.Equal(_msrs.Lstar, regs.Rip);
        Assert.Equal(rsp, regs.Rsp);
        Assert.Equal(X86Flags.Fixed1 | X86Flags.CF, regs.Rflags);
        Assert.Equal((ushort)0x10, sr.Cs.Selector);
        Assert.Equal(1, sr.Cs.L);
        Assert.Equal(0, sr.Cs.Db);
        Assert.Equal((ushort)0x18, sr.Ss.Selector);
        Assert.Equal(0xFFFF_FFFFU, sr.Ss.Limit);
        Assert.Equal(0, _m.State.Cpl);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(1, _m.Emulator.Counters.Completed(Iced.Intel.Mnemonic.Syscall));
    }

    [Fact]
    public void Syscall_without_sce_gives_ud()
    {
        _m.Long64(cpl: 3);
        AssertFault(PendingException.Ud(), _m.Run(Syscall));
        Assert.Equal(1, _m.Emulator.Counters.Faulted(Iced.Intel.Mnemonic.Syscall));
    }

    [Fact]
    public void Syscall_without_msrs_is_unsupported()
    {
        Long64WithSce(cpl: 3);
        _m.State.Msrs = null;
        var r = _m.Run(Syscall);
        Assert.Equal(EmulationOutcome.Unsupported, r.Outcome);
        Assert.Contains("Msrs", r.Reason);
        Assert.Equal(TestMachine.CodeBase, _m.State.Registers.Rip);
    }

    [Fact]
    public void Syscall_from_compatibility_mode_is_ud_by_intel_rules()
    {
        Long64WithSce(cpl: 3);
        _m.State.Special.Cs = _m.Seg(TestMachine.Code32U);
        AssertFault(PendingException.Ud(), _m.Run(Syscall));
    }

    [Fact]
    public void Syscall_from_compatibility_mode_enters_cstar_by_amd_rules()
    {
        Long64WithSce(cpl: 3);
        _m.State.AmdFastSystemCalls = true;
        _m.State.Special.Cs = _m.Seg(TestMachine.Code32U);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Syscall).Outcome);
        Assert.Equal(_msrs.Cstar, _m.State.Registers.Rip);
        Assert.Equal(TestMachine.CodeBase + 2, _m.State.Registers.Rcx);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Sysretq_returns_to_64_bit_user()
    {
        Long64WithSce(cpl: 0);
        _m.State.Registers.Rcx = 0x40_1234;
        _m.State.Registers.R11 = X86Flags.IF | X86Flags.ZF | X86Flags.RF | X86Flags.VM;
        var r = _m.Run(Sysretq);
        Assert.Equal(EmulationOutcome.Completed, r.Outcome);
        var sr = _m.State.Special;
        Assert.Equal(0x40_1234UL, _m.State.Registers.Rip);
        Assert.Equal(X86Flags.IF | X86Flags.ZF | X86Flags.Fixed1, _m.State.Registers.Rflags);
        Assert.Equal((ushort)(0x33), sr.Cs.Selector);
        Assert.Equal((ushort)(0x2B), sr.Ss.Selector);
        Assert.Equal(3, _m.State.Cpl);
        Assert.True(_m.State.Is64BitMode);
    }

    [Fact]
    public void Sysret_without_rex_w_returns_to_compatibility_mode()
    {
        Long64WithSce(cpl: 0);
        _m.State.Registers.Rcx = 0xFFFF_FFFF_8000_1000;
        _m.State.Registers.R11 = X86Flags.IF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Sysret).Outcome);
        Assert.Equal(0x8000_1000UL, _m.State.Registers.Rip);
        Assert.Equal((ushort)0x23, _m.State.Special.Cs.Selector);
        Assert.False(_m.State.Is64BitMode);
        Assert.Equal(32, _m.State.CodeBitness);
        Assert.Equal(3, _m.State.Cpl);
    }

    [Fact]
    public void Sysretq_with_non_canonical_rcx_gives_gp0()
    {
        Long64WithSce(cpl: 0);
        _m.State.Registers.Rcx = 0x0000_8000_0000_0000;
        AssertFault(PendingException.Gp(0), _m.Run(Sysretq));
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Sysret_at_cpl3_gives_gp0()
    {
        Long64WithSce(cpl: 3);
        AssertFault(PendingException.Gp(0), _m.Run(Sysretq));
    }

    [Fact]
    public void Sysret_without_sce_gives_ud()
    {
        _m.Long64(cpl: 0);
        AssertFault(PendingException.Ud(), _m.Run(Sysretq));
    }

    [Fact]
    public void Sysenter_from_protected_mode_user()
    {
        _m.Protected32(cpl: 3);
        _m.State.Registers.Rflags = X86Flags.Fixed1 | X86Flags.IF | X86Flags.CF;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Sysenter).Outcome);
        var sr = _m.State.Special;
        Assert.Equal(0x0030_0000UL, _m.State.Registers.Rip);
        Assert.Equal(0x9000UL, _m.State.Registers.Rsp);
        Assert.Equal(X86Flags.Fixed1 | X86Flags.CF, _m.State.Registers.Rflags);
        Assert.Equal((ushort)0x60, sr.Cs.Selector);
        Assert.Equal((ushort)0x68, sr.Ss.Selector);
        Assert.Equal(1, sr.Cs.Db);
        Assert.Equal(0, sr.Cs.L);
        Assert.Equal(0, _m.State.Cpl);
        Assert.Equal(32, _m.State.CodeBitness);
    }

    [Fact]
    public void Sysenter_in_long_mode_enters_64_bit_code()
    {
        _m.Long64(cpl: 3);
        _m.State.Special.Cs = _m.Seg(TestMachine.Code32U);
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Sysenter).Outcome);
        Assert.Equal(_msrs.SysenterEip, _m.State.Registers.Rip);
        Assert.Equal(_msrs.SysenterEsp, _m.State.Registers.Rsp);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0, _m.State.Cpl);
    }

    [Fact]
    public void Sysenter_in_long_mode_is_ud_by_amd_rules()
    {
        _m.Long64(cpl: 3);
        _m.State.AmdFastSystemCalls = true;
        AssertFault(PendingException.Ud(), _m.Run(Sysenter));
    }

    [Fact]
    public void Sysenter_with_null_sysenter_cs_gives_gp0()
    {
        _m.Protected32(cpl: 3);
        _msrs.SysenterCs = 3;
        AssertFault(PendingException.Gp(0), _m.Run(Sysenter));
    }

    [Fact]
    public void Sysenter_in_real_mode_gives_gp0()
    {
        _m.Real();
        var r = _m.Run(Sysenter);
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(PendingException.Gp(0), _m.State.PendingException);
    }

    [Fact]
    public void Sysexit_returns_to_32_bit_user()
    {
        _m.Protected32(cpl: 0);
        _m.State.Registers.Rdx = 0x0804_8000;
        _m.State.Registers.Rcx = 0xBFFF_F000;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Sysexit).Outcome);
        var sr = _m.State.Special;
        Assert.Equal(0x0804_8000UL, _m.State.Registers.Rip);
        Assert.Equal(0xBFFF_F000UL, _m.State.Registers.Rsp);
        Assert.Equal((ushort)0x73, sr.Cs.Selector);
        Assert.Equal((ushort)0x7B, sr.Ss.Selector);
        Assert.Equal(3, _m.State.Cpl);
        Assert.Equal(32, _m.State.CodeBitness);
    }

    [Fact]
    public void Sysexitq_returns_to_64_bit_user()
    {
        _m.Long64(cpl: 0);
        _m.State.Registers.Rdx = 0x40_0000;
        _m.State.Registers.Rcx = 0x7FFF_F000;
        Assert.Equal(EmulationOutcome.Completed, _m.Run(Sysexitq).Outcome);
        Assert.Equal((ushort)0x83, _m.State.Special.Cs.Selector);
        Assert.Equal((ushort)0x8B, _m.State.Special.Ss.Selector);
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(0x40_0000UL, _m.State.Registers.Rip);
        Assert.Equal(0x7FFF_F000UL, _m.State.Registers.Rsp);
        Assert.Equal(3, _m.State.Cpl);
    }

    [Fact]
    public void Sysexitq_with_non_canonical_rdx_gives_gp0()
    {
        _m.Long64(cpl: 0);
        _m.State.Registers.Rdx = 0x0000_8000_0000_0000;
        AssertFault(PendingException.Gp(0), _m.Run(Sysexitq));
    }

    [Fact]
    public void Sysexit_at_cpl3_gives_gp0()
    {
        _m.Protected32(cpl: 3);
        AssertFault(PendingException.Gp(0), _m.Run(Sysexit));
    }

    [Fact]
    public void Sysexit_without_msrs_is_unsupported()
    {
        _m.Protected32(cpl: 0);
        _m.State.Msrs = null;
        var r = _m.Run(Sysexit);
        Assert.Equal(EmulationOutcome.Unsupported, r.Outcome);
        Assert.Contains("MSR", r.Reason);
    }
}
