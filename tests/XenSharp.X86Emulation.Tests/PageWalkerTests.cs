namespace XenSharp.X86Emulation.Tests;

public sealed class PageWalkerTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    private const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, XD = 1UL << 63;
    private const ulong Root = 0x20000, T1 = 0x21000, T2 = 0x22000, T3 = 0x23000;

    private X86EmulationState S => _m.State;

    private void Paging32(bool pse = false)
    {
        S.Special.Cr0 = X86Flags.Cr0Pe | X86Flags.Cr0Pg | X86Flags.Cr0Wp;
        S.Special.Cr4 = pse ? X86Flags.Cr4Pse : 0;
        S.Special.Efer = 0;
        S.Special.Cr3 = Root;
    }

    private void PagingPae()
    {
        S.Special.Cr0 = X86Flags.Cr0Pe | X86Flags.Cr0Pg | X86Flags.Cr0Wp;
        S.Special.Cr4 = X86Flags.Cr4Pae;
        S.Special.Efer = X86Flags.EferNxe;
        S.Special.Cr3 = Root;
    }

    private void Paging64()
    {
        S.Special.Cr0 = X86Flags.Cr0Pe | X86Flags.Cr0Pg | X86Flags.Cr0Wp;
        S.Special.Cr4 = X86Flags.Cr4Pae;
        S.Special.Efer = X86Flags.EferLme | X86Flags.EferLma | X86Flags.EferNxe;
        S.Special.Cr3 = Root;
    }

    private ulong Ok(ulong linear, PageAccess access)
    {
        Assert.True(PageWalker.TryTranslate(S, linear, access, out ulong pa, out var f), f.ToString());
        return pa;
    }

    private uint Fault(ulong linear, PageAccess access)
    {
        Assert.False(PageWalker.TryTranslate(S, linear, access, out _, out var f));
        Assert.Equal(X86Vectors.PageFault, f.Vector);
        Assert.Equal(linear, f.Cr2);
        return f.ErrorCode;
    }

    [Fact]
    public void Paging_off_is_identity()
    {
        S.Special.Cr0 = X86Flags.Cr0Pe;
        Assert.Equal(0x1234UL, Ok(0x1234, PageAccess.Write));
    }

    [Fact]
    public void Bit32_4k_page_sets_accessed_and_dirty()
    {
        Paging32();
        _m.Write32(Root, (uint)(T1 | P | RW | US));
        _m.Write32(T1 + 5 * 4, (uint)(0x55000 | P | RW | US));
        Assert.Equal(0x55123UL, Ok(0x5123, PageAccess.Read));
        Assert.Equal(A, _m.Read32(Root) & A);
        Assert.Equal(A, _m.Read32(T1 + 20) & (A | D));
        Ok(0x5123, PageAccess.Write);
        Assert.Equal(A | D, _m.Read32(T1 + 20) & (A | D));
        Assert.Equal(0UL, _m.Read32(Root) & D);
    }

    [Fact]
    public void Bit32_4m_pse_page_and_pse36_and_reserved_bit21()
    {
        Paging32(pse: true);
        _m.Write32(Root + 4, (uint)(0x00C0_0000 | P | RW | PS | (1 << 13)));
        Assert.Equal(0x1_00C1_2345UL, Ok(0x0041_2345, PageAccess.Write));
        Assert.Equal(A | D, _m.Read32(Root + 4) & (A | D));
        _m.Write32(Root + 8, (uint)(0x0100_0000 | P | PS | (1 << 21)));
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved, Fault(0x0080_0000, PageAccess.Read));
    }

    [Fact]
    public void Bit32_not_present_and_user_bits()
    {
        Paging32();
        Assert.Equal(PageWalker.ErrWrite | PageWalker.ErrUser, Fault(0x1000, PageAccess.Write | PageAccess.User));
        _m.Write32(Root, (uint)(T1 | P | RW));
        _m.Write32(T1 + 4, (uint)(0x9000 | P | RW));
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrUser, Fault(0x1000, PageAccess.User));
        Assert.Equal(0UL, _m.Read32(T1 + 4) & A); // no A bit on a fault
    }

    [Fact]
    public void Pae_4k_and_2m_pages_with_nx()
    {
        PagingPae();
        _m.Write64(Root, T1 | P);
        _m.Write64(T1, T2 | P | RW | US);
        _m.Write64(T2 + 8, 0x33000 | P | RW | US);
        _m.Write64(T1 + 8, 0x20_0000 | P | RW | PS | XD);
        Assert.Equal(0x33456UL, Ok(0x1456, PageAccess.Read | PageAccess.User));
        Assert.Equal(0x21_2345UL, Ok(0x21_2345, PageAccess.Write));
        Assert.Equal(A | D, _m.Read64(T1 + 8) & (A | D));
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrFetch, Fault(0x20_0000, PageAccess.Execute));
    }

    [Fact]
    public void Pae_pdpte_reserved_bits()
    {
        PagingPae();
        _m.Write64(Root, T1 | P | RW);
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved, Fault(0x1000, PageAccess.Read));
    }

    private void Map64(ulong pml4e, ulong pdpte, ulong pde, ulong pte)
    {
        _m.Write64(Root, pml4e);
        _m.Write64(T1, pdpte);
        _m.Write64(T2, pde);
        _m.Write64(T3, pte);
    }

    [Fact]
    public void Long_mode_4k_walk_sets_accessed_in_all_levels()
    {
        Paging64();
        Map64(T1 | P | RW | US, T2 | P | RW | US, T3 | P | RW | US, 0x77000 | P | RW | US);
        Assert.Equal(0x77ABCUL, Ok(0xABC, PageAccess.Write | PageAccess.User));
        foreach (var e in new[] { Root, T1, T2 }) Assert.Equal(A, _m.Read64(e) & (A | D));
        Assert.Equal(A | D, _m.Read64(T3) & (A | D));
    }

    [Fact]
    public void Long_mode_2m_and_1g_pages()
    {
        Paging64();
        _m.Write64(Root, T1 | P | RW);
        _m.Write64(T1 + 8, 0x4000_0000 | P | RW | PS);             // 1 GiB at 1 GiB
        _m.Write64(T1, T2 | P | RW);
        _m.Write64(T2 + 8, 0x60_0000 | P | RW | PS);                // 2 MiB at 2 MiB
        Assert.Equal(0x4012_3456UL, Ok(0x4012_3456, PageAccess.Read));
        Assert.Equal(0x61_2345UL, Ok(0x21_2345, PageAccess.Read));
        _m.Write64(T1 + 16, 0x8000_0000 | P | RW | PS | 0x2000);    // reserved bit 13 in a 1 GiB entry
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved, Fault(0x8000_0000, PageAccess.Read));
    }

    [Fact]
    public void Long_mode_error_code_bits()
    {
        Paging64();
        Map64(T1 | P | RW | US, T2 | P | RW | US, T3 | P | RW | US, 0x77000 | P | US);
        // User write to read-only page: P | W | U.
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrWrite | PageWalker.ErrUser, Fault(0x10, PageAccess.Write | PageAccess.User));
        // Supervisor write with WP = 1: P | W; with WP = 0 it is allowed.
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrWrite, Fault(0x10, PageAccess.Write));
        S.Special.Cr0 &= ~X86Flags.Cr0Wp;
        Assert.Equal(0x77010UL, Ok(0x10, PageAccess.Write));
        // Reserved: PS in a PML4 entry.
        _m.Write64(Root, T1 | P | RW | US | PS);
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved | PageWalker.ErrUser, Fault(0x10, PageAccess.User));
        // Reserved: XD with EFER.NXE = 0.
        _m.Write64(Root, T1 | P | RW | US | XD);
        S.Special.Efer &= ~X86Flags.EferNxe;
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved, Fault(0x10, PageAccess.Read));
        // Reserved: address bit above MAXPHYADDR.
        S.Special.Efer |= X86Flags.EferNxe;
        _m.Write64(Root, T1 | P | RW | US | (1UL << 45));
        S.MaxPhysicalAddressBits = 40;
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrReserved, Fault(0x10, PageAccess.Read));
        // Not present fetch: I/D only.
        S.MaxPhysicalAddressBits = 52;
        _m.Write64(Root, 0);
        Assert.Equal(PageWalker.ErrFetch, Fault(0x10, PageAccess.Execute));
    }

    [Fact]
    public void Smep_and_smap()
    {
        Paging64();
        Map64(T1 | P | RW | US, T2 | P | RW | US, T3 | P | RW | US, 0x77000 | P | RW | US);
        S.Special.Cr4 |= X86Flags.Cr4Smep | X86Flags.Cr4Smap;
        Assert.Equal(PageWalker.ErrPresent | PageWalker.ErrFetch, Fault(0x10, PageAccess.Execute));
        Assert.Equal(PageWalker.ErrPresent, Fault(0x10, PageAccess.Read));
        S.Registers.Rflags |= X86Flags.AC;
        Assert.Equal(0x77010UL, Ok(0x10, PageAccess.Read));
        Assert.Equal(PageWalker.ErrPresent, Fault(0x10, PageAccess.Read | PageAccess.Implicit));
    }

    [Fact]
    public void Table_outside_guest_memory_is_unsupported()
    {
        Paging64();
        S.Special.Cr3 = 0x1_0000_0000;
        Assert.Throws<EmulationUnsupportedException>(() => PageWalker.TryTranslate(S, 0, PageAccess.Read, out _, out _));
    }
}
