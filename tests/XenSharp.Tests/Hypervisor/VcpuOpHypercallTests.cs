using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// vcpu_op (vcpu.h, hvm/hvm_vcpu.h): bringing secondary vCPUs up and registering vcpu_info.
/// No test brings a vCPU up for real (that starts a thread running the guest).
/// </summary>
public class VcpuOpHypercallTests
{
    private const ulong Ctx = TestDomain.Arg;

    /// <summary>struct vcpu_hvm_context in 32-bit mode, as hvmloader's smp.c builds it for an AP.</summary>
    private sealed class Context32
    {
        public uint Mode = 0;
        public uint Eax = 1, Ecx, Edx, Ebx, Esp = 0x9F000, Ebp, Esi, Edi, Eip = 0x8000, Eflags;
        public uint Cr0 = 1, Cr3, Cr4;
        public ulong Efer = 0;
        public uint CsBase, DsBase, SsBase, EsBase, TrBase = 0;
        public uint CsLimit = ~0u, DsLimit = ~0u, SsLimit = ~0u, EsLimit = ~0u, TrLimit = 0x67;
        public ushort CsAr = 0xC9B, DsAr = 0xC93, SsAr = 0xC93, EsAr = 0xC93, TrAr = 0x8B;

        public void WriteTo(TestDomain t, ulong gpa)
        {
            t.Fill(gpa, 128, 0);
            t.Poke(gpa, Mode);
            t.Poke(gpa + 4, 0u); // pad
            ulong r = gpa + 8;
            uint[] words = [Eax, Ecx, Edx, Ebx, Esp, Ebp, Esi, Edi, Eip, Eflags, Cr0, Cr3, Cr4, 0 /* pad1 */];
            for (int i = 0; i < words.Length; i++) t.Poke(r + (ulong)(i * 4), words[i]);
            t.Poke(r + 56, Efer);
            uint[] segs = [CsBase, DsBase, SsBase, EsBase, TrBase, CsLimit, DsLimit, SsLimit, EsLimit, TrLimit];
            for (int i = 0; i < segs.Length; i++) t.Poke(r + 64 + (ulong)(i * 4), segs[i]);
            ushort[] ars = [CsAr, DsAr, SsAr, EsAr, TrAr];
            for (int i = 0; i < ars.Length; i++) t.Poke(r + 104 + (ulong)(i * 2), ars[i]);
        }
    }

    /// <summary>struct vcpu_hvm_context in 64-bit mode.</summary>
    private static void WriteContext64(TestDomain t, ulong gpa, ulong rip, ulong rsp, ulong cr0, ulong cr3, ulong cr4, ulong efer)
    {
        t.Fill(gpa, 128, 0);
        t.Poke(gpa, 1u); // VCPU_HVM_MODE_64B
        ulong r = gpa + 8;
        t.Poke(r + 0, 0x1111UL);   // rax
        t.Poke(r + 24, 0x4444UL);  // rbx
        t.Poke(r + 32, rsp);
        t.Poke(r + 56, 0x8888UL);  // rdi
        t.Poke(r + 64, rip);
        t.Poke(r + 72, 0x200UL);   // rflags: IF
        t.Poke(r + 80, cr0);
        t.Poke(r + 88, cr3);
        t.Poke(r + 96, cr4);
        t.Poke(r + 104, efer);
    }

    private static long Op(TestDomain t, int cmd, ulong vcpu, ulong arg = Ctx, bool is64 = true) =>
        t.Call(HypercallNumber.VcpuOp, (ulong)cmd, vcpu, arg, is64: is64);

    [Fact]
    public void Is_up_reports_a_secondary_vcpu_that_was_never_brought_up_as_down()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(0, Op(t, VcpuOp.IsUp, 1));
    }

    [Theory]
    [InlineData(VcpuOp.IsUp, 2UL)]
    [InlineData(VcpuOp.Up, 2UL)]
    [InlineData(VcpuOp.Initialise, 2UL)]
    [InlineData(VcpuOp.RegisterVcpuInfo, 5UL)]
    [InlineData(VcpuOp.IsUp, 0x1_0000_0000UL)]
    [InlineData(VcpuOp.IsUp, ulong.MaxValue)]
    public void A_vcpu_id_past_the_last_vcpu_gets_enoent(int cmd, ulong vcpu)
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32().WriteTo(t, Ctx);
        Assert.Equal(-XenErrno.ENOENT, Op(t, cmd, vcpu));
    }

    [Fact]
    public void Up_before_initialise_gets_einval_and_the_vcpu_stays_down()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.EINVAL, Op(t, VcpuOp.Up, 1, 0));
        Assert.Equal(VcpuState.Offline, t.Domain.Vcpus[1].State);
        Assert.Equal(0, Op(t, VcpuOp.IsUp, 1));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Initialise_with_hvmloaders_32bit_context_gives_the_vcpu_that_state(bool is64)
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32 { Eax = 1, Esp = 0x9F000, Eip = 0x8000 }.WriteTo(t, Ctx);

        Assert.Equal(0, Op(t, VcpuOp.Initialise, 1, Ctx, is64));

        var v = t.Domain.Vcpus[1];
        Assert.True(v.Initialised);
        var init = Assert.IsType<InitialVcpuState>(v.PendingInitialState);
        Assert.Equal(0x8000UL, init.Registers.Rip);
        Assert.Equal(0x9F000UL, init.Registers.Rsp);
        Assert.Equal(1UL, init.Registers.Rax);
        Assert.Equal(0x2UL, init.Registers.Rflags & 0x2);   // the always-one bit
        Assert.Equal(0UL, init.Registers.Rflags & 0x200);   // interrupts off, as given

        var s = init.SpecialRegisters;
        Assert.Equal(1UL, s.Cr0 & X86SpecialRegisters.Cr0Pe);
        Assert.Equal(0UL, s.Cr0 & X86SpecialRegisters.Cr0Pg);
        Assert.False(s.Is64BitMode);
        AssertSegment(s.Cs, 0, 0xFFFFFFFF, type: 0xB, db: 1, l: 0);
        AssertSegment(s.Ds, 0, 0xFFFFFFFF, type: 0x3, db: 1, l: 0);
        AssertSegment(s.Ss, 0, 0xFFFFFFFF, type: 0x3, db: 1, l: 0);
        AssertSegment(s.Es, 0, 0xFFFFFFFF, type: 0x3, db: 1, l: 0);
        Assert.Equal(1, s.Tr.Present);
        Assert.Equal(0x67u, s.Tr.Limit);
        Assert.Equal(0xB, s.Tr.Type);
        Assert.Equal(0, s.Tr.S);

        // Initialised is not up: the vCPU waits for VCPUOP_up.
        Assert.Equal(0, Op(t, VcpuOp.IsUp, 1));
        Assert.Equal(VcpuState.Offline, v.State);
    }

    private static void AssertSegment(X86Segment seg, ulong @base, uint limit, byte type, byte db, byte l)
    {
        Assert.Equal(@base, seg.Base);
        Assert.Equal(limit, seg.Limit);
        Assert.Equal(type, seg.Type);
        Assert.Equal(1, seg.S);
        Assert.Equal(1, seg.Present);
        Assert.Equal(0, seg.Unusable);
        Assert.Equal(0, seg.Dpl);
        Assert.Equal(db, seg.Db);
        Assert.Equal(l, seg.L);
        Assert.Equal(1, seg.G);
    }

    [Fact]
    public void Initialise_32bit_takes_every_register_and_segment_from_its_own_field()
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32
        {
            Eax = 0xA0, Ecx = 0xC0, Edx = 0xD0, Ebx = 0xB0, Esp = 0x5000, Ebp = 0xBB, Esi = 0x51, Edi = 0xD1,
            Eip = 0x1234, Eflags = 0x46, Cr0 = 0x11, Cr3 = 0x7000, Cr4 = 0x10,
            CsBase = 0x100, DsBase = 0x200, SsBase = 0x300, EsBase = 0x400,
            CsLimit = 0xFFFFF, DsLimit = 0xEFFFF, SsLimit = 0xDFFFF, EsLimit = 0xCFFFF,
            SsAr = 0xC97, // expand-down data for SS, to tell it apart from DS
        }.WriteTo(t, Ctx);

        Assert.Equal(0, Op(t, VcpuOp.Initialise, 1));
        var init = t.Domain.Vcpus[1].PendingInitialState!;
        var r = init.Registers;
        Assert.Equal((0xA0UL, 0xC0UL, 0xD0UL, 0xB0UL), (r.Rax, r.Rcx, r.Rdx, r.Rbx));
        Assert.Equal((0x5000UL, 0xBBUL, 0x51UL, 0xD1UL), (r.Rsp, r.Rbp, r.Rsi, r.Rdi));
        Assert.Equal(0x1234UL, r.Rip);
        Assert.Equal(0x46UL, r.Rflags);
        var s = init.SpecialRegisters;
        Assert.Equal(0x7000UL, s.Cr3);
        Assert.Equal(0x10UL, s.Cr4);
        Assert.Equal((0x100UL, 0xFFFFFu), (s.Cs.Base, s.Cs.Limit));
        Assert.Equal((0x200UL, 0xEFFFFu), (s.Ds.Base, s.Ds.Limit));
        Assert.Equal((0x300UL, 0xDFFFFu, (byte)0x7), (s.Ss.Base, s.Ss.Limit, s.Ss.Type));
        Assert.Equal((0x400UL, 0xCFFFFu), (s.Es.Base, s.Es.Limit));
    }

    [Fact]
    public void Initialise_64bit_starts_the_vcpu_in_long_mode()
    {
        using var t = new TestDomain(vcpus: 2);
        const ulong cr0 = 0x8000_0011, cr4 = 0x20, efer = 0x100;
        WriteContext64(t, Ctx, rip: 0xFFFF_FFFF_8100_0000, rsp: 0xFFFF_C900_0000_8000, cr0, cr3: 0x1000, cr4, efer);

        Assert.Equal(0, Op(t, VcpuOp.Initialise, 1));
        var init = t.Domain.Vcpus[1].PendingInitialState!;
        Assert.Equal(0xFFFF_FFFF_8100_0000UL, init.Registers.Rip);
        Assert.Equal(0xFFFF_C900_0000_8000UL, init.Registers.Rsp);
        Assert.Equal((0x1111UL, 0x4444UL, 0x8888UL), (init.Registers.Rax, init.Registers.Rbx, init.Registers.Rdi));
        var s = init.SpecialRegisters;
        Assert.True(s.Is64BitMode);
        Assert.Equal(1, s.Cs.L);
        Assert.Equal(0, s.Cs.Db);
        Assert.Equal(0x1000UL, s.Cr3);
        Assert.Equal(cr0, s.Cr0 & cr0);
        Assert.Equal(cr4, s.Cr4 & cr4);
        Assert.Equal(efer | X86SpecialRegisters.EferLma, s.Efer);
    }

    [Theory]
    [InlineData(0x11UL, 0x20UL, 0x100UL)]          // no paging
    [InlineData(0x8000_0011UL, 0UL, 0x100UL)]      // no PAE
    [InlineData(0x8000_0011UL, 0x20UL, 0UL)]       // no LME
    public void Initialise_64bit_without_long_mode_prerequisites_gets_einval(ulong cr0, ulong cr4, ulong efer)
    {
        using var t = new TestDomain(vcpus: 2);
        WriteContext64(t, Ctx, rip: 0x100000, rsp: 0x8000, cr0, cr3: 0x1000, cr4, efer);
        Assert.Equal(-XenErrno.EINVAL, Op(t, VcpuOp.Initialise, 1));
        Assert.False(t.Domain.Vcpus[1].Initialised);
        Assert.Null(t.Domain.Vcpus[1].PendingInitialState);
    }

    [Theory]
    [InlineData((ushort)0xC93)] // data segment in CS
    [InlineData((ushort)0xC1B)] // not present
    [InlineData((ushort)0xC8B)] // system segment (S = 0)
    public void Initialise_32bit_with_an_unusable_code_segment_gets_einval(ushort csAr)
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32 { CsAr = csAr }.WriteTo(t, Ctx);
        Assert.Equal(-XenErrno.EINVAL, Op(t, VcpuOp.Initialise, 1));
        Assert.False(t.Domain.Vcpus[1].Initialised);
    }

    [Fact]
    public void Initialise_twice_gets_eexist_and_keeps_the_first_state()
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32 { Eip = 0x8000 }.WriteTo(t, Ctx);
        Assert.Equal(0, Op(t, VcpuOp.Initialise, 1));
        new Context32 { Eip = 0x9000 }.WriteTo(t, Ctx);
        Assert.Equal(-XenErrno.EEXIST, Op(t, VcpuOp.Initialise, 1));
        Assert.Equal(0x8000UL, t.Domain.Vcpus[1].PendingInitialState!.Registers.Rip);
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(0xFFFFFFFFu)]
    public void Initialise_with_an_unknown_mode_gets_einval(uint mode)
    {
        using var t = new TestDomain(vcpus: 2);
        new Context32 { Mode = mode }.WriteTo(t, Ctx);
        Assert.Equal(-XenErrno.EINVAL, Op(t, VcpuOp.Initialise, 1));
        Assert.False(t.Domain.Vcpus[1].Initialised);
        Assert.Null(t.Domain.Vcpus[1].PendingInitialState);
    }

    [Theory]
    [InlineData(TestDomain.Unmapped)]
    [InlineData(TestDomain.RamSize - 64)] // the 128-byte context runs off the end of RAM
    public void Initialise_with_a_bad_pointer_gets_efault(ulong gpa)
    {
        using var t = new TestDomain(vcpus: 2);
        if (gpa < TestDomain.RamSize) t.Fill(gpa, 64, 0);
        Assert.Equal(-XenErrno.EFAULT, Op(t, VcpuOp.Initialise, 1, gpa));
        Assert.False(t.Domain.Vcpus[1].Initialised);
    }

    // --- register_vcpu_info ---------------------------------------------------------------

    private static long RegisterVcpuInfo(TestDomain t, ulong vcpu, ulong mfn, uint offset)
    {
        t.Poke(Ctx, mfn);
        t.Poke(Ctx + 8, offset);
        t.Poke(Ctx + 12, 0u);
        return Op(t, VcpuOp.RegisterVcpuInfo, vcpu);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x40u)]
    [InlineData(4096u - 64)]
    public void Register_vcpu_info_places_a_masked_vcpu_info_at_the_offset(uint offset)
    {
        using var t = new TestDomain(vcpus: 2);
        ulong gpa = 0x40000 + offset;
        t.Fill(gpa, 64, 0xAB);
        Assert.Equal(0, RegisterVcpuInfo(t, 1, 0x40, offset));
        Assert.Equal(gpa, t.Domain.Vcpus[1].VcpuInfoAddress);
        var info = t.Peek(gpa, 64);
        Assert.Equal(1, info[1]);                                  // evtchn_upcall_mask
        Assert.Equal(0, info[0]);                                  // evtchn_upcall_pending
        Assert.Equal(0UL, t.Domain.Vcpus[0].VcpuInfoAddress);      // only the named vCPU
    }

    [Fact]
    public void Register_vcpu_info_carries_over_the_shared_info_slot()
    {
        using var t = new TestDomain(vcpus: 2);
        // Place shared_info at frame 0x30, then mark an event pending in vCPU 1's slot.
        t.Poke(TestDomain.Buffer, (ushort)0x7FF0);
        t.Poke(TestDomain.Buffer + 4, 0u);
        t.Poke(TestDomain.Buffer + 8, 0UL);
        t.Poke(TestDomain.Buffer + 16, 0x30UL);
        Assert.Equal(0, t.Call(HypercallNumber.MemoryOp, MemoryOp.AddToPhysmap, TestDomain.Buffer));
        t.Poke(0x30000 + 64, (byte)1);         // vcpu_info[1].evtchn_upcall_pending
        t.Poke(0x30000 + 64 + 8, 0xF0F0UL);     // vcpu_info[1].evtchn_pending_sel

        Assert.Equal(0, RegisterVcpuInfo(t, 1, 0x41, 0x100));
        var info = t.Peek(0x41100, 64);
        Assert.Equal(1, info[0]);
        Assert.Equal(1, info[1]);
        Assert.Equal(0xF0F0UL, BitConverter.ToUInt64(info, 8));
    }

    [Theory]
    [InlineData(4096u - 63)]
    [InlineData(4096u)]
    [InlineData(0xFFFFFFFFu)]
    public void Register_vcpu_info_with_an_offset_past_4096_minus_64_gets_einval(uint offset)
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.EINVAL, RegisterVcpuInfo(t, 1, 0x40, offset));
        Assert.Equal(0UL, t.Domain.Vcpus[1].VcpuInfoAddress);
    }

    [Fact]
    public void Register_vcpu_info_twice_gets_einval_and_keeps_the_first()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(0, RegisterVcpuInfo(t, 1, 0x40, 0));
        Assert.Equal(-XenErrno.EINVAL, RegisterVcpuInfo(t, 1, 0x42, 0));
        Assert.Equal(0x40000UL, t.Domain.Vcpus[1].VcpuInfoAddress);
    }

    [Theory]
    [InlineData(TestDomain.RamSize >> 12)]
    [InlineData(0xFFFF_FFFF_FFFF_FFFFUL)]
    [InlineData(1UL << 52)]
    public void Register_vcpu_info_outside_ram_gets_einval(ulong mfn)
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.EINVAL, RegisterVcpuInfo(t, 1, mfn, 0));
        Assert.Equal(0UL, t.Domain.Vcpus[1].VcpuInfoAddress);
    }

    [Fact]
    public void Register_vcpu_info_with_a_bad_pointer_gets_efault()
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.EFAULT, Op(t, VcpuOp.RegisterVcpuInfo, 1, TestDomain.Unmapped));
        Assert.Equal(-XenErrno.EFAULT, Op(t, VcpuOp.RegisterVcpuInfo, 1, TestDomain.RamSize - 8));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(99)]
    public void Unknown_commands_get_enosys(int cmd)
    {
        using var t = new TestDomain(vcpus: 2);
        Assert.Equal(-XenErrno.ENOSYS, Op(t, cmd, 1));
    }
}
