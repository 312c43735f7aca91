using System.Text;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// HypercallDispatcher.Dispatch: the guest's calling convention (which registers hold the
/// arguments, how the result lands in RAX) and the CPL check, through the fake vCPU.
/// </summary>
public class HypercallDispatcherTests
{
    private const ulong Garbage = 0xDEAD_BEEF_0BAD_F00D;

    private static X86SpecialRegisters Protected32(int rpl = 0)
    {
        var s = default(X86SpecialRegisters);
        s.Cr0 = X86SpecialRegisters.Cr0Pe | X86SpecialRegisters.Cr0Et;
        s.Cs = X86Segment.Flat((ushort)(0x10 | rpl), 0xB);
        s.Cs.Dpl = (byte)rpl;
        s.Ds = s.Es = s.Ss = X86Segment.Flat((ushort)(0x18 | rpl), 0x3);
        s.Ss.Dpl = (byte)rpl;
        return s;
    }

    private static X86SpecialRegisters Long64(int rpl = 0)
    {
        var s = Protected32(rpl);
        s.Cr0 |= X86SpecialRegisters.Cr0Pg;
        s.Cr4 = 1 << 5;                                   // PAE
        s.Efer = (1 << 8) | X86SpecialRegisters.EferLma;  // LME | LMA
        s.Cs = X86Segment.Flat((ushort)(0x10 | rpl), 0xB, is64BitCode: true);
        s.Cs.Dpl = (byte)rpl;
        return s;
    }

    /// <summary>Long mode with a 32-bit code segment (CS.L = 0): a 32-bit program on a 64-bit kernel.</summary>
    private static X86SpecialRegisters Compat32()
    {
        var s = Long64();
        s.Cs = X86Segment.Flat(0x10, 0xB);
        return s;
    }

    private static void Dispatch(TestDomain t, in X86SpecialRegisters sregs, X86Registers regs)
    {
        var cpu = t.FakeCpu();
        cpu.SetSpecialRegisters(sregs);
        cpu.SetRegisters(regs);
        HypercallDispatcher.Dispatch(t.Domain.Vcpus[0], cpu);
    }

    private static ulong Rax(TestDomain t) => t.FakeCpu().Registers.Rax;

    private static void PutMessage(TestDomain t, string text) => t.Poke(TestDomain.Buffer, Encoding.ASCII.GetBytes(text));

    [Fact]
    public void Protected_mode_32bit_takes_arguments_from_ebx_ecx_edx()
    {
        using var t = new TestDomain();
        PutMessage(t, "hello from ebx ecx edx\n");
        Dispatch(t, Protected32(), new X86Registers
        {
            Rax = (ulong)HypercallNumber.ConsoleIo,
            Rbx = ConsoleIoOp.Write,
            Rcx = 23,
            Rdx = TestDomain.Buffer,
            // The 64-bit argument registers hold garbage: a 32-bit guest does not set them.
            Rdi = Garbage, Rsi = Garbage, R10 = Garbage, R8 = Garbage,
        });
        Assert.Equal(0UL, Rax(t));
        Assert.Contains($"(d{t.Domain.Id}) hello from ebx ecx edx\n", t.Hv.Log.Read());
    }

    [Fact]
    public void Protected_mode_32bit_ignores_the_upper_halves_of_the_registers()
    {
        using var t = new TestDomain();
        PutMessage(t, "low halves\n");
        Dispatch(t, Protected32(), new X86Registers
        {
            Rax = 0xFFFF_FFFF_0000_0000 | (ulong)HypercallNumber.ConsoleIo,
            Rbx = 0xABCD_0000_0000_0000 | ConsoleIoOp.Write,
            Rcx = 0x1234_5678_0000_0000 | 11,
            Rdx = 0xDEAD_0000_0000_0000 | TestDomain.Buffer,
        });
        Assert.Equal(0UL, Rax(t));
        Assert.Contains($"(d{t.Domain.Id}) low halves\n", t.Hv.Log.Read());
    }

    [Fact]
    public void Long_mode_takes_arguments_from_rdi_rsi_rdx()
    {
        using var t = new TestDomain();
        PutMessage(t, "hello from rdi rsi rdx\n");
        Dispatch(t, Long64(), new X86Registers
        {
            Rax = (ulong)HypercallNumber.ConsoleIo,
            Rdi = ConsoleIoOp.Write,
            Rsi = 23,
            Rdx = TestDomain.Buffer,
            // The 32-bit argument registers hold garbage: a 64-bit guest does not set them.
            Rbx = Garbage, Rcx = Garbage,
        });
        Assert.Equal(0UL, Rax(t));
        Assert.Contains($"(d{t.Domain.Id}) hello from rdi rsi rdx\n", t.Hv.Log.Read());
    }

    [Fact]
    public void Long_mode_uses_the_full_64bit_pointer()
    {
        using var t = new TestDomain();
        PutMessage(t, "not printed\n");
        Dispatch(t, Long64(), new X86Registers
        {
            Rax = (ulong)HypercallNumber.ConsoleIo,
            Rdi = ConsoleIoOp.Write,
            Rsi = 12,
            Rdx = 0xDEAD_0000_0000_0000 | TestDomain.Buffer, // not truncated: outside the guest
        });
        Assert.Equal(unchecked((ulong)-XenErrno.EFAULT), Rax(t));
        Assert.DoesNotContain("not printed", t.Hv.Log.Read());
    }

    [Fact]
    public void Compatibility_mode_uses_the_32bit_convention()
    {
        using var t = new TestDomain();
        PutMessage(t, "compat\n");
        Dispatch(t, Compat32(), new X86Registers
        {
            Rax = (ulong)HypercallNumber.ConsoleIo,
            Rbx = ConsoleIoOp.Write, Rcx = 7, Rdx = TestDomain.Buffer,
            Rdi = Garbage, Rsi = Garbage,
        });
        Assert.Equal(0u, (uint)Rax(t));
        Assert.Contains($"(d{t.Domain.Id}) compat\n", t.Hv.Log.Read());
    }

    [Fact]
    public void A_positive_result_is_returned_in_rax()
    {
        using var t = new TestDomain();
        Dispatch(t, Long64(), new X86Registers { Rax = (ulong)HypercallNumber.XenVersion, Rdi = XenVersionOp.Version, Rbx = Garbage });
        Assert.Equal(0x0004_0014UL, Rax(t));
        Dispatch(t, Protected32(), new X86Registers { Rax = (ulong)HypercallNumber.XenVersion, Rbx = XenVersionOp.Version, Rdi = Garbage });
        Assert.Equal(0x0004_0014u, (uint)Rax(t));
    }

    [Fact]
    public void A_negative_result_is_sign_extended_in_long_mode()
    {
        using var t = new TestDomain();
        Dispatch(t, Long64(), new X86Registers { Rax = 1000 });
        Assert.Equal(unchecked((ulong)(long)-XenErrno.ENOSYS), Rax(t));
    }

    [Fact]
    public void A_negative_result_is_truncated_to_eax_in_32bit_mode()
    {
        using var t = new TestDomain();
        Dispatch(t, Protected32(), new X86Registers { Rax = 1000 });
        Assert.Equal(unchecked((uint)-XenErrno.ENOSYS), (uint)Rax(t));
        Assert.Equal(-XenErrno.ENOSYS, (int)(uint)Rax(t));
    }

    [Fact]
    public void The_result_is_marked_for_writing_back_to_the_vcpu()
    {
        using var t = new TestDomain();
        int before = t.FakeCpu().DirtyCount;
        Dispatch(t, Long64(), new X86Registers { Rax = (ulong)HypercallNumber.XenVersion, Rdi = XenVersionOp.Version });
        Assert.True(t.FakeCpu().DirtyCount > before);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_hypercall_from_a_nonzero_cpl_gets_eperm_and_does_nothing(int rpl)
    {
        using var t = new TestDomain();
        t.Poke(TestDomain.Arg, (uint)ShutdownReason.Poweroff);
        Dispatch(t, Protected32(rpl), new X86Registers
        {
            Rax = (ulong)HypercallNumber.SchedOp, Rbx = SchedOp.Shutdown, Rcx = TestDomain.Arg,
        });
        Assert.Equal(unchecked((uint)-XenErrno.EPERM), (uint)Rax(t));
        Assert.Equal(DomainState.Paused, t.Domain.State);
    }

    [Fact]
    public void A_hypercall_from_64bit_user_mode_gets_eperm()
    {
        using var t = new TestDomain();
        t.Poke(TestDomain.Arg, (uint)ShutdownReason.Poweroff);
        Dispatch(t, Long64(rpl: 3), new X86Registers
        {
            Rax = (ulong)HypercallNumber.SchedOp, Rdi = SchedOp.Shutdown, Rsi = TestDomain.Arg,
        });
        Assert.Equal(unchecked((ulong)-1L), Rax(t));
        Assert.Equal(DomainState.Paused, t.Domain.State);
    }

    [Fact]
    public void Real_mode_runs_at_cpl_0_whatever_cs_holds()
    {
        using var t = new TestDomain();
        var s = default(X86SpecialRegisters);          // CR0.PE clear
        s.Cs = new X86Segment { Selector = 0xF003, Base = 0xF0030, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
        Dispatch(t, s, new X86Registers { Rax = (ulong)HypercallNumber.XenVersion, Rbx = XenVersionOp.Version });
        Assert.Equal(0x0004_0014u, (uint)Rax(t));
    }

    [Fact]
    public void A_hypercall_from_virtual_8086_mode_gets_eperm()
    {
        using var t = new TestDomain();
        t.Poke(TestDomain.Arg, (uint)ShutdownReason.Poweroff);
        var s = Protected32();
        s.Cs = new X86Segment { Selector = 0x1000, Base = 0x10000, Limit = 0xFFFF, Type = 0x3, Present = 1, S = 1, Dpl = 3 };
        s.Ss = new X86Segment { Selector = 0x2000, Base = 0x20000, Limit = 0xFFFF, Type = 0x3, Present = 1, S = 1, Dpl = 3 };
        Dispatch(t, s, new X86Registers
        {
            Rax = (ulong)HypercallNumber.SchedOp, Rbx = SchedOp.Shutdown, Rcx = TestDomain.Arg,
            Rflags = 0x2 | (1 << 17), // EFLAGS.VM
        });
        Assert.Equal(unchecked((uint)-XenErrno.EPERM), (uint)Rax(t));
        Assert.Equal(DomainState.Paused, t.Domain.State);
    }

    [Theory]
    [InlineData(50u)]
    [InlineData(63u)]
    [InlineData(64u)]
    [InlineData(1000u)]
    [InlineData(0x80000000u)]
    [InlineData(uint.MaxValue)]
    public void Unknown_hypercall_numbers_get_enosys(uint number)
    {
        using var t = new TestDomain();
        Assert.Equal(-XenErrno.ENOSYS, t.Call(number, 0, TestDomain.Arg));
        Assert.Equal(-XenErrno.ENOSYS, t.Call(number, 0, TestDomain.Arg, is64: false));
    }
}
