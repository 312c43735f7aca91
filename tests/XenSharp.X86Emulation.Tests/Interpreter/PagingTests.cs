using Iced.Intel;
using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

public sealed class PagingTests : IDisposable
{
    private const ulong Code = InterpreterMachine.Code, Data = InterpreterMachine.Data, Handlers = InterpreterMachine.Handlers;
    private const ulong Tables = 0x60000;
    private readonly InterpreterMachine _m = new();
    public void Dispose() => _m.Dispose();

    /// <summary>#PF handler: stores the error code at Data+0x100, CR2 at Data+0x108, the faulting EIP at Data+0x110.</summary>
    private void PageFaultHandler32() => _m.Handler32(14, Handlers, a =>
    {
        a.pop(eax);
        a.mov(__dword_ptr[Data + 0x100], eax);
        a.mov(eax, cr2);
        a.mov(__dword_ptr[Data + 0x108], eax);
        a.mov(eax, __dword_ptr[esp]);
        a.mov(__dword_ptr[Data + 0x110], eax);
        a.hlt();
    });

    [Fact]
    public void Non_pae_paging_translates_and_faults_with_cr2_and_error_code()
    {
        // PD at Tables: PDE0 → PT at Tables+0x1000 mapping 4 MiB identity, except: page 0x80 not
        // present, page 0x81 read-only, and linear 0x90000 remapped to physical 0x30000 (Data).
        _m.M.Write32(Tables, (uint)(Tables + 0x1000) | 3);
        for (uint p = 0; p < 1024; p++) _m.M.Write32(Tables + 0x1000 + 4 * p, p * 0x1000 | 3);
        _m.M.Write32(Tables + 0x1000 + 4 * 0x80, 0);
        _m.M.Write32(Tables + 0x1000 + 4 * 0x81, 0x81000 | 1);
        _m.M.Write32(Tables + 0x1000 + 4 * 0x90, (uint)Data | 3);
        _m.M.Write32(Data + 0x20, 0xABCD);
        _m.Protected32(a =>
        {
            a.mov(eax, (uint)Tables); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, unchecked((int)0x8001_0000)); a.mov(cr0, eax); // PG | WP
            a.mov(ebx, __dword_ptr[0x90020]);
            a.mov(__dword_ptr[0x81000], ebx);   // write to a read-only page → #PF(P|W)
            a.hlt();
        });
        PageFaultHandler32();
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0xABCDUL, _m.Regs.Rbx);
        Assert.Equal(3u, _m.Read32(Data + 0x100));
        Assert.Equal(0x81000u, _m.Read32(Data + 0x108));
        Assert.Equal(0x81000UL, _m.State.Special.Cr2);
        Assert.NotEqual(0u, _m.Read32(Tables + 0x1000 + 4 * 0x90) & 0x20); // Accessed set by the walk

        // Not-present read at CPL 0.
        _m.Protected32(a =>
        {
            a.mov(eax, (uint)Tables); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, unchecked((int)0x8000_0000)); a.mov(cr0, eax);
            a.mov(eax, __dword_ptr[0x80010]);
            a.hlt();
        });
        PageFaultHandler32();
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0u, _m.Read32(Data + 0x100));
        Assert.Equal(0x80010u, _m.Read32(Data + 0x108));
    }

    [Fact]
    public void Tlb_is_flushed_by_invlpg_and_cr3_reload()
    {
        _m.M.Write32(Tables, (uint)(Tables + 0x1000) | 3);
        for (uint p = 0; p < 1024; p++) _m.M.Write32(Tables + 0x1000 + 4 * p, p * 0x1000 | 3);
        _m.M.Write32(Data, 1);
        _m.M.Write32(Data + 0x1000, 2);
        const ulong pte = Tables + 0x1000 + 4 * 0x90;
        _m.M.Write32(pte, (uint)Data | 3);
        _m.Protected32(a =>
        {
            a.mov(eax, (uint)Tables); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, unchecked((int)0x8000_0000)); a.mov(cr0, eax);
            a.mov(ebx, __dword_ptr[0x90000]);
            a.mov(__dword_ptr[pte], (uint)(Data + 0x1000) | 3);
            a.mov(ecx, __dword_ptr[0x90000]);   // stale TLB entry: still 1 (allowed, as on hardware)
            a.invlpg(__byte_ptr[0x90000]);
            a.mov(edx, __dword_ptr[0x90000]);   // 2
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(1UL, _m.Regs.Rbx);
        Assert.Equal(1UL, _m.Regs.Rcx);
        Assert.Equal(2UL, _m.Regs.Rdx);
    }

    [Fact]
    public void Pae_paging_with_a_2mib_page_and_a_not_present_write()
    {
        const ulong pdpt = Tables, pd = Tables + 0x1000, pt = Tables + 0x2000;
        _m.M.Write64(pdpt, pd | 1);
        _m.M.Write64(pd, pt | 3);                       // 0–2 MiB through a PT
        _m.M.Write64(pd + 8, 0x20_0000UL | 0x83);       // 2–4 MiB: one 2 MiB page
        for (ulong p = 0; p < 512; p++) _m.M.Write64(pt + 8 * p, p * 0x1000 | 3);
        _m.M.Write64(pt + 8 * 0x85, 0);
        _m.M.Write32(0x30_0004, 0x5A5A);
        _m.Protected32(a =>
        {
            a.mov(eax, cr4); a.or(eax, 0x20); a.mov(cr4, eax);
            a.mov(eax, (uint)pdpt); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, unchecked((int)0x8000_0000)); a.mov(cr0, eax);
            a.mov(esi, __dword_ptr[0x30_0004]);
            a.mov(__dword_ptr[0x85_008 - 0x8], esi);     // write to not-present 0x85000
            a.hlt();
        });
        PageFaultHandler32();
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x5A5AUL, _m.Regs.Rsi);
        Assert.Equal(2u, _m.Read32(Data + 0x100));      // W, not present, supervisor
        Assert.Equal(0x85000u, _m.Read32(Data + 0x108));
        Assert.NotEqual(0UL, _m.Read64(pd + 8) & 0x20);  // Accessed on the 2 MiB PDE
    }

    [Fact]
    public void Long_mode_page_fault_from_user_mode_has_user_bit_and_cr2()
    {
        _m.Long64(a =>
        {
            a.mov(rax, 0x1234_5678_9ABC_DEF0);
            a.mov(__qword_ptr[0x30000], rax);
            a.mov(rbx, __qword_ptr[0x30000]);
            a.mov(rcx, 0x20_0000);
            a.mov(__qword_ptr[rcx], rax);                 // 2 MiB and above: not mapped
            a.hlt();
        }, cpl: 3);
        _m.Handler64(14, Handlers, a =>
        {
            a.pop(rax);
            a.mov(__qword_ptr[Data + 0x100], rax);
            a.mov(rax, cr2);
            a.mov(__qword_ptr[Data + 0x108], rax);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[Data + 0x110], rax);
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(0x1234_5678_9ABC_DEF0UL, _m.Regs.Rbx);
        Assert.Equal(6UL, _m.Read64(Data + 0x100));       // U | W, not present
        Assert.Equal(0x20_0000UL, _m.Read64(Data + 0x108));
        Assert.Equal(0, _m.State.Cpl);
        Assert.Equal(TestMachine.KernelStackTop - 40, _m.Regs.Rsp); // RSP0 from the TSS; SS, RSP, RFLAGS, CS, RIP left after popping the error code
    }

    [Fact]
    public void Enters_long_mode_like_guest_entry_code()
    {
        // Identity map the first 2 MiB (PML4 → PDPT → PD with a 2 MiB page).
        _m.M.Write64(Tables, (Tables + 0x1000) | 3);
        _m.M.Write64(Tables + 0x1000, (Tables + 0x2000) | 3);
        _m.M.Write64(Tables + 0x2000, 0x83);
        const ulong entry64 = Code + 0x200;
        _m.Protected32(a =>
        {
            a.mov(eax, cr4); a.or(eax, 0x20); a.mov(cr4, eax);
            a.mov(eax, (uint)Tables); a.mov(cr3, eax);
            a.mov(ecx, 0xC000_0080); a.rdmsr(); a.or(eax, 0x100); a.wrmsr();
            a.mov(eax, cr0); a.or(eax, unchecked((int)0x8000_0000)); a.mov(cr0, eax);
            a.jmp(TestMachine.Code64K, (uint)entry64);
        });
        _m.Load(64, entry64, a =>
        {
            var loop = a.CreateLabel();
            a.mov(rax, 0x1122_3344_5566_7788);
            a.mov(__qword_ptr[Data], rax);
            a.xor(eax, eax);
            a.mov(ecx, 10);
            a.Label(ref loop);
            a.add(rax, rcx);
            a.loop(loop);
            a.push(rax);
            a.pop(rdx);
            a.hlt();
        });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.True(_m.State.Is64BitMode);
        Assert.Equal(X86Flags.EferLma | X86Flags.EferLme, _m.State.Special.Efer);
        Assert.Equal(0x1122_3344_5566_7788UL, _m.Read64(Data));
        Assert.Equal(55UL, _m.Regs.Rdx);
    }

    [Fact]
    public void Sixty_four_bit_calls_rip_relative_and_syscall()
    {
        const ulong lstar = Code + 0x300;
        _m.Long64(a =>
        {
            var func = a.CreateLabel();
            var value = a.CreateLabel();
            a.mov(edi, 20);
            a.call(func);
            a.mov(r14, rax);
            a.mov(r12, __qword_ptr[value]);
            a.mov(ecx, 0xC000_0082); a.mov(eax, (uint)lstar); a.xor(edx, edx); a.wrmsr();
            a.mov(ecx, 0xC000_0081); a.xor(eax, eax); a.mov(edx, (uint)TestMachine.Code64K); a.wrmsr();
            a.mov(ecx, 0xC000_0080); a.rdmsr(); a.or(eax, 1); a.wrmsr();
            a.syscall();
            a.hlt();
            a.Label(ref func);
            a.push(rbp); a.mov(rbp, rsp);
            a.lea(rax, __[rdi + rdi * 2 + 1]);
            a.movsxd(rax, eax);
            a.leave(); a.ret();
            a.Label(ref value);
            a.dq(0xFEED_FACE_CAFE_BEEF);
        });
        _m.Load(64, lstar, a => { a.mov(r13, rcx); a.hlt(); });
        Assert.Equal(InterpreterStop.Halt, _m.Run());
        Assert.Equal(61UL, _m.Regs.R14);
        Assert.Equal(0xFEED_FACE_CAFE_BEEFUL, _m.Regs.R12);
        Assert.Equal(lstar + 4, _m.Regs.Rip);
        Assert.NotEqual(0UL, _m.Regs.R13);
    }
}
