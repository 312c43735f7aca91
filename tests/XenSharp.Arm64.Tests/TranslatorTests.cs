namespace XenSharp.Arm64.Tests;

/// <summary>
/// The translator's contract beside the instruction semantics (which every other test checks on
/// translated code, and <see cref="TranslatorDifferentialTests"/> against the interpreter):
/// self-modifying code, interrupts, budgets, exact stops and faults inside translated blocks.
/// </summary>
public class TranslatorTests
{
    private const ulong Mmio = 0x0900_0000;

    private static ulong Sys(Machine m, uint reg) { Assert.True(m.Cpu.TryGetSystemRegister(reg, out ulong v)); return v; }

    [Fact]
    public void NegativeThresholdOnlyInterprets()
    {
        using var m = new Machine(jitThreshold: -1);
        m.RunToEnd(0xD2800C81, 0x8B010000, 0xF1000421, 0x54FFFFC1); // movz x1, #100 ; loop: add x0, x0, x1 ; subs x1, x1, #1 ; b.ne loop
        Assert.Equal(5050UL, m[0]);
        Assert.Equal(0L, m.Cpu.InstructionsTranslated);
        Assert.Equal(0L, m.Cpu.RegionsCompiled);
    }

    [Fact]
    public void HotLoopIsTranslatedAfterTheThreshold()
    {
        using var m = new Machine(jitThreshold: 10);
        m.RunToEnd(0xD2800C81, 0x8B010000, 0xF1000421, 0x54FFFFC1);
        Assert.Equal(5050UL, m[0]);
        Assert.Equal(1L, m.Cpu.RegionsCompiled);
        Assert.InRange(m.Cpu.InstructionsTranslated, 200, 300);
        Assert.Equal(1L + 300 + 1, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void BackgroundCompilationTakesOverALongLoop()
    {
        using var m = new Machine(jitThreshold: 10);
        m.Cpu.TranslateInBackground = true;
        m[1] = 20_000_000;
        m.Load(Machine.Code, 0xD2800000, 0x8B010000, 0xF1000421, 0x54FFFFC1, Machine.Hvc0); // movz x0, #0 ; loop: add ; subs ; b.ne
        m.Cpu.Pc = Machine.Code;
        Arm64Stop stop;
        do stop = m.Cpu.Run(1 << 20); while (stop == Arm64Stop.Budget);
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal(20_000_000UL * 20_000_001 / 2, m[0]);
        Assert.True(m.Cpu.RegionsCompiled >= 1); // slices ending inside the loop make other entries hot too
        Assert.True(m.Cpu.InstructionsTranslated > 10_000_000, $"{m.Cpu.InstructionsTranslated} translated"); // the first compilation includes JIT-compiling the compiler
    }

    [Fact]
    public void StoreIntoTheRunningLoopIsSeenOnTheNextIteration()
    {
        using var m = new Machine();
        m[5] = 0x91000800; // add x0, x0, #2
        m[6] = Machine.Code;
        m[1] = 10;
        m.RunToEnd(
            0x91000400,  // loop: add x0, x0, #1   (rewritten by the store below)
            0xB90000C5,  // str w5, [x6]
            0xF1000421,  // subs x1, x1, #1
            0x54FFFFA1); // b.ne loop
        Assert.Equal(1UL + 2 * 9, m[0]);
    }

    [Fact]
    public void StoreIntoALaterInstructionOfTheSameBlockIsSeen()
    {
        using var m = new Machine();
        m[5] = 0x91019000; // add x0, x0, #100
        m[6] = Machine.Code + 12;
        m.RunToEnd(
            0xB90000C5,  // str w5, [x6]
            0x91000400,  // add x0, x0, #1
            0x91000400,  // add x0, x0, #1
            0x91000400); // add x0, x0, #1  ← becomes add x0, x0, #100 before it runs
        Assert.Equal(102UL, m[0]);
    }

    [Fact]
    public void StorePairIntoOwnCodeAndUnalignedStoreAcrossIt()
    {
        using var m = new Machine();
        // x5 = "add x0, x0, #2" twice; stp w5, w5 rewrites the two adds after it.
        m[5] = 0x91000800;
        m[6] = Machine.Code + 4;
        m.RunToEnd(
            0x290014C5,  // stp w5, w5, [x6]
            0x91000400,  // add x0, x0, #1 → add x0, x0, #2
            0x91000400); // add x0, x0, #1 → add x0, x0, #2
        Assert.Equal(4UL, m[0]);
    }

    [Fact]
    public void CodeRewrittenBetweenRunsIsRetranslated()
    {
        using var m = new Machine();
        m[1] = 100;
        uint[] loop = [0x91000400, 0xF1000421, 0x54FFFFC1]; // loop: add x0, x0, #1 ; subs x1, x1, #1 ; b.ne loop
        m.RunToEnd(loop);
        Assert.Equal(100UL, m[0]);
        long compiled = m.Cpu.RegionsCompiled;
        m[0] = 0; m[1] = 100;
        m.RunToEnd(0x91000C00, 0xF1000421, 0x54FFFFC1); // add x0, x0, #3 at the same address
        Assert.Equal(300UL, m[0]);
        Assert.True(m.Cpu.RegionsCompiled > compiled);
    }

    [Fact]
    public void BudgetIsExactInsideTranslatedCode()
    {
        // loop: add x0, x0, #1 ; add x1, x1, x0 ; eor x2, x2, x1 ; b loop — never ends.
        uint[] program = [0x91000400, 0x8B000021, 0xCA010042, 0x17FFFFFD];
        using var jit = new Machine();
        using var interp = new Machine(jitThreshold: -1);
        foreach (var m in new[] { jit, interp }) { m.Load(Machine.Code, program); m.Cpu.Pc = Machine.Code; }
        foreach (int budget in new[] { 1, 2, 1000, 7, 3, 100_001, 5 })
        {
            long before = jit.Cpu.InstructionsRetired;
            Assert.Equal(Arm64Stop.Budget, jit.Cpu.Run(budget));
            Assert.Equal(Arm64Stop.Budget, interp.Cpu.Run(budget));
            Assert.Equal(before + budget, jit.Cpu.InstructionsRetired);
            Assert.Equal(interp.Cpu.Pc, jit.Cpu.Pc);
            for (int r = 0; r < 3; r++) Assert.Equal(interp[r], jit[r]);
        }
        Assert.True(jit.Cpu.InstructionsTranslated > 100_000);
    }

    [Fact]
    public void InterruptRaisedWhileATranslatedLoopRunsIsTakenAtABlockBoundary()
    {
        using var m = new Machine();
        ExceptionTests.InstallVectors(m);
        m.Cpu.Pstate = 0x5; // EL1h, interrupts unmasked
        // loop: add x0, x0, #1 ; add x1, x1, #2 ; b loop — one block; at its start x1 == 2 * x0.
        m.Load(Machine.Code, 0x91000400, 0x91000821, 0x17FFFFFE);
        m.Cpu.Pc = Machine.Code;
        var raise = new Thread(() => { Thread.Sleep(50); m.Cpu.SetIrqLine(true); });
        raise.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Arm64Stop stop;
        // Slices of a multiple of the block's length, so no slice ends inside the block and the
        // interrupt can only be taken by translated code, at the block's start.
        do stop = m.Cpu.Run(3 << 22); while (stop == Arm64Stop.Budget && sw.Elapsed.TotalSeconds < 30);
        raise.Join();
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal((ushort)0x280, m.Cpu.Exit.Immediate); // IRQ, current EL with SP_EL1
        Assert.Equal(Machine.Code, Sys(m, SysReg.ELR_EL1));
        Assert.Equal(2 * m[0], m[1]);
        Assert.True(m[0] > 1000);
        Assert.True(m.Cpu.InstructionsTranslated > 1000);
        m.Cpu.SetIrqLine(false);
    }

    [Fact]
    public void MaskedPendingInterruptDoesNotStopTranslatedCode()
    {
        using var m = new Machine();
        m.Cpu.SetIrqLine(true); // masked: PSTATE.I is set after reset
        m[1] = 100_000;
        m.RunToEnd(0x91000400, 0xF1000421, 0x54FFFFC1);
        Assert.Equal(100_000UL, m[0]);
        Assert.True(m.Cpu.InstructionsTranslated > 250_000);
        m.Cpu.SetIrqLine(false);
    }

    [Fact]
    public void MmioReadInsideABlockStopsAtTheLoadWithEarlierInstructionsDone()
    {
        using var m = new Machine();
        m[0] = Mmio;
        var stop = m.Run(
            0x91000421,  // add x1, x1, #1
            0x91000442,  // add x2, x2, #1
            0xB9400003,  // ldr w3, [x0]
            0x91000484); // add x4, x4, #1
        Assert.Equal(Arm64Stop.Mmio, stop);
        Assert.Equal(Machine.Code + 8, m.Cpu.Pc);
        Assert.Equal((Mmio, 4, false), (m.Cpu.Exit.Address, m.Cpu.Exit.Size, m.Cpu.Exit.IsWrite));
        Assert.Equal((1UL, 1UL, 0UL), (m[1], m[2], m[4]));
        Assert.Equal(2L, m.Cpu.InstructionsRetired);
        m.Cpu.CompleteMmioRead(0xCAFE);
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal((0xCAFEUL, 1UL), (m[3], m[4]));
        Assert.Equal(5L, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void MmioPollLoopInTranslatedCode()
    {
        using var m = new Machine();
        m[0] = Mmio;
        // poll: ldr w1, [x0, #0x18] ; add x2, x2, #1 ; tbnz w1, #5, poll ; str w2, [x0]
        m.Load(Machine.Code, 0xB9401801, 0x91000442, 0x372FFFC1, 0xB9000002, Machine.Hvc0);
        m.Cpu.Pc = Machine.Code;
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(Arm64Stop.Mmio, m.Cpu.Run(1000));
            Assert.Equal((Mmio + 0x18, false), (m.Cpu.Exit.Address, m.Cpu.Exit.IsWrite));
            Assert.Equal(Machine.Code, m.Cpu.Pc);
            m.Cpu.CompleteMmioRead(i < 4 ? 0x20UL : 0);
        }
        Assert.Equal(Arm64Stop.Mmio, m.Cpu.Run(1000));
        Assert.Equal((Mmio, true, 5UL), (m.Cpu.Exit.Address, m.Cpu.Exit.IsWrite, m.Cpu.Exit.Data));
        Assert.Equal(Machine.Code + 16, m.Cpu.Pc);
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(1000));
    }

    [Fact]
    public void DataAbortInsideTranslatedCodeReportsTheLoadWithEarlierWritesDone()
    {
        using var m = new Machine();
        ExceptionTests.InstallVectors(m);
        var t = new PageTables(m, 39);
        ulong root = t.NewTable();
        for (ulong a = Machine.RamBase; a < Machine.RamBase + Machine.RamSize; a += 0x20_0000)
            t.Map(root, a, a, PageTables.Af | PageTables.Inner, level: 2);
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TCR_EL1, t.Tcr));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TTBR0_EL1, root));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.SCTLR_EL1, 0x30D0_0801));
        m[0] = 0x10_0000; // unmapped
        m[7] = 3;
        var stop = m.Run(
            0x91000421,  // add x1, x1, #1
            0xA9BF07E7,  // stp x7, x1, [sp, #-16]!
            0xF9400002,  // ldr x2, [x0]   → translation fault
            0x91000484); // add x4, x4, #1
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate);
        Assert.Equal(Machine.Code + 8, Sys(m, SysReg.ELR_EL1));
        Assert.Equal(0x10_0000UL, Sys(m, SysReg.FAR_EL1));
        Assert.Equal(0x25UL, Sys(m, SysReg.ESR_EL1) >> 26);
        Assert.Equal(1UL, m[1]);
        Assert.Equal(0UL, m[4]);
        Assert.Equal(Machine.Stack - 16, m.Cpu.SpEl1);
        Assert.Equal(3UL, m.Read64(Machine.Stack - 16));
        Assert.Equal(1UL, m.Read64(Machine.Stack - 8));
    }

    [Fact]
    public void SamePhysicalCodeAtTwoVirtualAddresses()
    {
        using var m = new Machine();
        var t = new PageTables(m, 39);
        ulong root = t.NewTable();
        for (ulong a = Machine.RamBase; a < Machine.RamBase + Machine.RamSize; a += 0x20_0000)
            t.Map(root, a, a, PageTables.Af | PageTables.Inner, level: 2);
        const ulong Alias = 0x1000_0000;
        t.Map(root, Alias, Machine.Code + 0x1000, PageTables.Af | PageTables.Inner);
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TCR_EL1, t.Tcr));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.TTBR0_EL1, root));
        Assert.True(m.Cpu.TrySetSystemRegister(SysReg.SCTLR_EL1, 0x30D0_0801));
        // At Code + 0x1000: adr x0, . ; add x1, x1, #1 ; hvc #0
        m.Load(Machine.Code + 0x1000, 0x10000000, 0x91000421, Machine.Hvc0);
        for (int i = 0; i < 3; i++)
        {
            foreach (ulong pc in new[] { Machine.Code + 0x1000, Alias })
            {
                m.Cpu.Pc = pc;
                Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
                Assert.Equal(pc, m[0]);
                Assert.Equal(pc + 12, m.Cpu.Pc);
            }
        }
        Assert.Equal(6UL, m[1]);
    }

    /// <summary>
    /// Calls inside a page stay in translated code (BL is an edge, RET to one of the region's
    /// return sites too): recursive fib, then a RET to an address that is no return site.
    /// </summary>
    [Fact]
    public void CallsAndReturnsInsideAPageAgreeWithTheInterpreter()
    {
        uint[] program =
        [
            0xD2800280, // mov x0, #20
            0x94000009, // bl fib
            0xAA0003E5, // mov x5, x0
            0x10000066, // adr x6, landing
            0x94000004, // bl jumper        (returns to landing, not here)
            0xD2800027, // mov x7, #1
            0xD2800048, // landing: mov x8, #2
            0xD4000002, // hvc #0
            0xAA0603FE, // jumper: mov x30, x6
            0xD65F03C0, // ret
            0xF100081F, // fib: cmp x0, #2
            0x540001A3, // b.lo 2f
            0xA9BE7BFD, // stp x29, x30, [sp, #-32]!
            0xF9000BF3, // str x19, [sp, #16]
            0xAA0003F3, // mov x19, x0
            0xD1000400, // sub x0, x0, #1
            0x97FFFFFA, // bl fib
            0xAA0003E1, // mov x1, x0
            0xD1000A60, // sub x0, x19, #2
            0xAA0103F3, // mov x19, x1
            0x97FFFFF6, // bl fib
            0x8B130000, // add x0, x0, x19
            0xF9400BF3, // ldr x19, [sp, #16]
            0xA8C27BFD, // ldp x29, x30, [sp], #32
            0xD65F03C0, // 2: ret
        ];
        var results = new List<(ulong X5, ulong X7, ulong X8, ulong Sp, ulong Pc, long N)>();
        foreach (int threshold in new[] { -1, 0 })
        {
            using var m = new Machine(jitThreshold: threshold);
            m.Load(Machine.Code, program);
            m.Cpu.Pc = Machine.Code;
            Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(10_000_000));
            results.Add((m[5], m[7], m[8], m.Cpu.SpEl1, m.Cpu.Pc, m.Cpu.InstructionsRetired));
            if (threshold == 0) Assert.True(m.Cpu.InstructionsTranslated > m.Cpu.InstructionsRetired * 9 / 10);
        }
        Assert.Equal((6765UL, 0UL, 2UL, Machine.Stack, Machine.Code + 32), (results[0].X5, results[0].X7, results[0].X8, results[0].Sp, results[0].Pc));
        Assert.Equal(results[0], results[1]);
    }

    /// <summary>Two pages calling each other in a loop: regions chain without the run loop, and an interrupt still stops them.</summary>
    [Fact]
    public void ChainedRegionsAcrossPagesStillTakeInterrupts()
    {
        using var m = new Machine();
        ExceptionTests.InstallVectors(m);
        m.Cpu.Pstate = 0x5; // EL1h, interrupts unmasked
        // Page A: loop: add x0, x0, #1 ; bl pageB ; b loop      Page B: add x1, x1, #2 ; ret
        m.Load(Machine.Code, 0x91000400, 0x94000000u | (0x1000 - 4) / 4, 0x17FFFFFE);
        m.Load(Machine.Code + 0x1000, 0x91000821, 0xD65F03C0);
        m.Cpu.Pc = Machine.Code;
        Assert.Equal(Arm64Stop.Budget, m.Cpu.Run(5 * 100_000));
        Assert.Equal(100_000UL, m[0]);
        Assert.Equal(200_000UL, m[1]);
        Assert.True(m.Cpu.InstructionsTranslated > 490_000);
        m.Cpu.SetIrqLine(true);
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(1000));
        Assert.Equal((ushort)0x280, m.Cpu.Exit.Immediate);
        m.Cpu.SetIrqLine(false);
    }

    /// <summary>
    /// A region whose first instruction is an MMIO load stops before it, without progress; with a
    /// masked interrupt line up the run loop must still hand that instruction to the interpreter
    /// (it once re-entered the region forever, spending no budget).
    /// </summary>
    [Fact]
    public async Task MmioAtARegionsStartWithAMaskedLineUpMakesProgress()
    {
        using var m = new Machine();
        m.Cpu.SetIrqLine(true); // masked: PSTATE.I is set after reset
        m[0] = Mmio;
        // loop: ldr w1, [x0] ; add x2, x2, #1 ; cmp x2, #3 ; b.ne loop
        m.Load(Machine.Code, 0xB9400001, 0x91000442, 0xF1000C5F, 0x54FFFFA1, Machine.Hvc0);
        m.Cpu.Pc = Machine.Code;
        var run = Task.Run(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                var stop = m.Cpu.Run(1000);
                if (stop != Arm64Stop.Mmio) return stop;
                m.Cpu.CompleteMmioRead(7);
            }
            return m.Cpu.Run(1000);
        });
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.Equal(Arm64Stop.Hvc, await run);
        Assert.Equal((7UL, 3UL), (m[1], m[2]));
        m.Cpu.SetIrqLine(false);
    }
}
