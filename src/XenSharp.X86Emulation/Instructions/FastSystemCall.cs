using Iced.Intel;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>
/// SYSCALL, SYSRET, SYSENTER, SYSEXIT (Intel SDM vol. 2; AMD APM vol. 3). The MSRs come from
/// <see cref="X86EmulationState.Msrs"/>; without it the instructions are Unsupported (after the
/// checks that need no MSR). CS and SS are loaded with the fixed flat descriptors the
/// architecture defines (base 0, limit 4 GiB, G = 1, present, S = 1; CS type 11 execute/read
/// accessed, 64-bit (L = 1, D = 0) or 32-bit (D = 1); SS type 3, B = 1), not from the GDT.
///
/// <list type="bullet">
/// <item>SYSCALL: EFER.SCE = 0 → #UD; Intel rules: outside 64-bit mode → #UD. RCX = next RIP,
///   R11 = RFLAGS (RF cleared); RFLAGS &amp;= ~SFMASK, RF cleared; CS = STAR[47:32] &amp; 0xFFFC (64-bit
///   code), SS = STAR[47:32] + 8, CPL 0; RIP = LSTAR (64-bit caller) or CSTAR (compatibility-mode
///   caller, AMD rules). AMD rules in legacy protected mode: ECX = next EIP, EIP = STAR[31:0],
///   32-bit CS, VM/IF/RF cleared (real mode → Unsupported).</item>
/// <item>SYSRET: EFER.SCE = 0 → #UD; Intel rules: outside 64-bit mode → #UD; CPL ≠ 0 or real mode
///   → #GP(0). REX.W: RCX must be canonical (#GP(0) — applied under both rules so a non-canonical
///   RIP is never handed back), CS = STAR[63:48] + 16 | 3 (64-bit), RIP = RCX; without REX.W:
///   CS = STAR[63:48] | 3 (32-bit), RIP = ECX. SS = STAR[63:48] + 8 | 3; in long mode
///   RFLAGS = (R11 &amp; 0x3C7FD7) | 2, in legacy mode (AMD rules) IF is set.</item>
/// <item>SYSENTER: real mode or SYSENTER_CS[15:2] = 0 → #GP(0); AMD rules in long mode → #UD.
///   VM, IF, RF cleared; CS = SYSENTER_CS &amp; 0xFFFC (64-bit code when EFER.LMA = 1), SS = CS + 8;
///   RIP/RSP = SYSENTER_EIP/ESP (truncated to 32 bits outside long mode); CPL 0.</item>
/// <item>SYSEXIT: real mode, SYSENTER_CS[15:2] = 0 or CPL ≠ 0 → #GP(0); AMD rules in long mode → #UD.
///   REX.W: CS = SYSENTER_CS + 32 | 3 (64-bit), SS = SYSENTER_CS + 40 | 3, RIP = RDX, RSP = RCX
///   (both must be canonical, #GP(0)); otherwise CS = SYSENTER_CS + 16 | 3 (32-bit),
///   SS = SYSENTER_CS + 24 | 3, EIP = EDX, ESP = ECX. CPL 3.</item>
/// </list>
/// </summary>
internal static class FastSystemCall
{
    public static bool TryExecute(X86EmulationState state, in Instruction instruction, ulong next)
    {
        switch (instruction.Code)
        {
            case Code.Syscall: Syscall(state, next); return true;
            case Code.Sysretd: Sysret(state, 4); return true;
            case Code.Sysretq: Sysret(state, 8); return true;
            case Code.Sysenter: Sysenter(state); return true;
            case Code.Sysexitd: Sysexit(state, 4); return true;
            case Code.Sysexitq: Sysexit(state, 8); return true;
            default: return false;
        }
    }

    private static IMsrReader Msrs(X86EmulationState state, string mnemonic) =>
        state.Msrs ?? throw new EmulationUnsupportedException($"{mnemonic} needs the vCPU's MSRs (X86EmulationState.Msrs is not set)");

    /// <summary>The fixed flat CS/SS the fast system calls load.</summary>
    internal static X86Segment Flat(ushort selector, bool code, int dpl, bool longCode = false) => new()
    {
        Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Type = code ? (byte)11 : (byte)3, S = 1, Dpl = (byte)dpl,
        Present = 1, G = 1, L = code && longCode ? (byte)1 : (byte)0, Db = code && longCode ? (byte)0 : (byte)1, Unusable = 0,
    };

    private static void Syscall(X86EmulationState state, ulong next)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        if ((sr.Efer & X86Flags.EferSce) == 0) throw GuestFaultException.Ud();
        if (!state.AmdFastSystemCalls && !state.Is64BitMode) throw GuestFaultException.Ud();
        if (!state.ProtectedMode) throw new EmulationUnsupportedException("SYSCALL in real mode");
        var msrs = Msrs(state, "SYSCALL");
        ushort selector = (ushort)(msrs.Star >> 32);

        if (state.LongModeActive)
        {
            regs.Rcx = next;
            regs.R11 = regs.Rflags & ~X86Flags.RF;
            regs.Rip = state.Is64BitMode ? msrs.Lstar : msrs.Cstar;
            regs.Rflags = (regs.Rflags & ~msrs.Sfmask & ~X86Flags.RF) | X86Flags.Fixed1;
            sr.Cs = Flat((ushort)(selector & 0xFFFC), true, 0, longCode: true);
        }
        else
        {
            regs.Rcx = next & 0xFFFF_FFFF;
            regs.Rip = msrs.Star & 0xFFFF_FFFF;
            regs.Rflags = (regs.Rflags & ~(X86Flags.VM | X86Flags.IF | X86Flags.RF)) | X86Flags.Fixed1;
            sr.Cs = Flat((ushort)(selector & 0xFFFC), true, 0);
        }
        sr.Ss = Flat((ushort)(selector + 8), false, 0);
    }

    private static void Sysret(X86EmulationState state, int operandSize)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        if ((sr.Efer & X86Flags.EferSce) == 0) throw GuestFaultException.Ud();
        if (!state.AmdFastSystemCalls && !state.Is64BitMode) throw GuestFaultException.Ud();
        if (!state.ProtectedMode || state.Cpl != 0) throw GuestFaultException.Gp(0);
        var msrs = Msrs(state, "SYSRET");
        ushort selector = (ushort)(msrs.Star >> 48);

        if (operandSize == 8)
        {
            if (!SegmentedAccess.IsCanonical(regs.Rcx)) throw GuestFaultException.Gp(0);
            sr.Cs = Flat((ushort)((selector + 16) | 3), true, 3, longCode: true);
            regs.Rip = regs.Rcx;
        }
        else
        {
            sr.Cs = Flat((ushort)(selector | 3), true, 3);
            regs.Rip = regs.Rcx & 0xFFFF_FFFF;
        }
        if (state.LongModeActive)
            regs.Rflags = (regs.R11 & 0x3C_7FD7) | X86Flags.Fixed1;
        else
            regs.Rflags |= X86Flags.IF;
        sr.Ss = Flat((ushort)((selector + 8) | 3), false, 3);
    }

    private static void Sysenter(X86EmulationState state)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        if (!state.ProtectedMode) throw GuestFaultException.Gp(0);
        if (state.AmdFastSystemCalls && state.LongModeActive) throw GuestFaultException.Ud();
        var msrs = Msrs(state, "SYSENTER");
        if ((msrs.SysenterCs & 0xFFFC) == 0) throw GuestFaultException.Gp(0);
        ushort selector = (ushort)(msrs.SysenterCs & 0xFFFC);
        bool longMode = state.LongModeActive;

        regs.Rflags = (regs.Rflags & ~(X86Flags.VM | X86Flags.IF | X86Flags.RF)) | X86Flags.Fixed1;
        sr.Cs = Flat(selector, true, 0, longCode: longMode);
        sr.Ss = Flat((ushort)(selector + 8), false, 0);
        regs.Rip = longMode ? msrs.SysenterEip : msrs.SysenterEip & 0xFFFF_FFFF;
        regs.Rsp = longMode ? msrs.SysenterEsp : msrs.SysenterEsp & 0xFFFF_FFFF;
    }

    private static void Sysexit(X86EmulationState state, int operandSize)
    {
        ref var sr = ref state.Special;
        ref var regs = ref state.Registers;
        if (!state.ProtectedMode) throw GuestFaultException.Gp(0);
        if (state.AmdFastSystemCalls && state.LongModeActive) throw GuestFaultException.Ud();
        var msrs = Msrs(state, "SYSEXIT");
        if ((msrs.SysenterCs & 0xFFFC) == 0 || state.Cpl != 0) throw GuestFaultException.Gp(0);
        ushort selector = (ushort)msrs.SysenterCs;

        if (operandSize == 8)
        {
            if (!SegmentedAccess.IsCanonical(regs.Rdx) || !SegmentedAccess.IsCanonical(regs.Rcx)) throw GuestFaultException.Gp(0);
            sr.Cs = Flat((ushort)((selector + 32) | 3), true, 3, longCode: true);
            sr.Ss = Flat((ushort)((selector + 40) | 3), false, 3);
            regs.Rip = regs.Rdx;
            regs.Rsp = regs.Rcx;
        }
        else
        {
            sr.Cs = Flat((ushort)((selector + 16) | 3), true, 3);
            sr.Ss = Flat((ushort)((selector + 24) | 3), false, 3);
            regs.Rip = regs.Rdx & 0xFFFF_FFFF;
            regs.Rsp = regs.Rcx & 0xFFFF_FFFF;
        }
    }
}
