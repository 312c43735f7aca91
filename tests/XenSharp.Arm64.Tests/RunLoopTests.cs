using System.Diagnostics;
using Xunit.Abstractions;

namespace XenSharp.Arm64.Tests;

public class RunLoopTests(ITestOutputHelper output)
{
    private const ulong Mmio = 0x0900_0000; // outside RAM (the PL011 on "virt")

    [Fact]
    public void HypercallStopsWithImmediateAndResumesAfterIt()
    {
        using var m = new Machine();
        m[16] = 29; // xen_version
        var stop = m.Run(0xD401D422, 0x91000400); // hvc #0xea1 ; add x0, x0, #1
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal((ushort)0xEA1, m.Cpu.Exit.Immediate);
        Assert.Equal(Machine.Code + 4, m.Cpu.Pc);
        m[0] = 41; // the hypervisor's return value
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal(42UL, m[0]);
    }

    [Fact]
    public void MmioReadIsReexecutedWithTheValue()
    {
        using var m = new Machine();
        m[0] = Mmio; m[2] = 0xDEAD;
        var stop = m.Run(0xB9400402); // ldr w2, [x0, #4]
        Assert.Equal(Arm64Stop.Mmio, stop);
        Assert.Equal((Mmio + 4, 4, false), (m.Cpu.Exit.Address, m.Cpu.Exit.Size, m.Cpu.Exit.IsWrite));
        Assert.Equal(Machine.Code, m.Cpu.Pc);
        Assert.Equal(0xDEADUL, m[2]);
        m.Cpu.CompleteMmioRead(0x1234_5678);
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal(0x1234_5678UL, m[2]);
    }

    [Fact]
    public void MmioWriteCompletesThenStops()
    {
        using var m = new Machine();
        m[0] = Mmio; m[1] = 0x41;
        var stop = m.Run(0xF8010C01, 0x91000400); // str x1, [x0, #16]! ; add x0, x0, #1
        Assert.Equal(Arm64Stop.Mmio, stop);
        Assert.Equal((Mmio + 16, 8, true, 0x41UL), (m.Cpu.Exit.Address, m.Cpu.Exit.Size, m.Cpu.Exit.IsWrite, m.Cpu.Exit.Data));
        Assert.Equal(Machine.Code + 4, m.Cpu.Pc);
        Assert.Equal(Mmio + 16, m[0]); // writeback done
        Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(100));
        Assert.Equal(Mmio + 17, m[0]);
    }

    private sealed class TimerHost : IArm64SystemRegisterHost
    {
        public ulong Ctl;
        public bool TryReadSystemRegister(Arm64Cpu cpu, uint encoding, out ulong value)
        {
            value = encoding switch { SysReg.CNTVCT_EL0 => 123456, SysReg.CNTV_CTL_EL0 => Ctl, _ => 0 };
            return encoding is SysReg.CNTVCT_EL0 or SysReg.CNTV_CTL_EL0;
        }
        public bool TryWriteSystemRegister(Arm64Cpu cpu, uint encoding, ulong value)
        {
            if (encoding != SysReg.CNTV_CTL_EL0) return false;
            Ctl = value;
            return true;
        }
    }

    [Fact]
    public void HostOwnedSystemRegisters()
    {
        var host = new TimerHost();
        using var m = new Machine(host);
        m[1] = 1;
        m.RunToEnd(
            0xD53BE040,  // mrs x0, cntvct_el0
            0xD51BE321,  // msr cntv_ctl_el0, x1
            0xD5384243,  // mrs x3, currentel
            0xD5380744,  // mrs x4, id_aa64mmfr2_el1 (RAZ ID space)
            0xD5380005); // mrs x5, midr_el1
        Assert.Equal(123456UL, m[0]);
        Assert.Equal(1UL, host.Ctl);
        Assert.Equal(4UL, m[3]);
        Assert.Equal(0UL, m[4]);
        Assert.Equal(m.Cpu.Midr, m[5]);
    }

    [Fact]
    public void SystemRegisterTheHostDeclinesIsUndefined()
    {
        using var m = new Machine();
        ExceptionTests.InstallVectors(m);
        Assert.Equal(Arm64Stop.Hvc, m.Run(0xD53BE040)); // mrs x0, cntvct_el0 with no host
        Assert.Equal((ushort)0x200, m.Cpu.Exit.Immediate);
    }

    [Fact]
    public void HintsBarriersAndCacheMaintenanceAreHarmless()
    {
        using var m = new Machine();
        m[1] = Machine.Data + 0x40;
        m.Write64(Machine.Data + 0x48, 0xFFFF);
        m.RunToEnd(0xD503201F, 0xD503233F, 0xD5033F9F, 0xD5033FDF, 0xD5033BBF, 0xD508751F, 0xD50B7E21, 0xD50B7421);
        Assert.Equal(0UL, m.Read64(Machine.Data + 0x48)); // dc zva zeroed the 64-byte block
    }

    [Fact]
    public void BudgetStopsAndResumes()
    {
        using var m = new Machine();
        m.Load(Machine.Code, 0x91000400, 0x17FFFFFF); // add x0, x0, #1 ; b .-4
        m.Cpu.Pc = Machine.Code;
        Assert.Equal(Arm64Stop.Budget, m.Cpu.Run(1000));
        Assert.Equal(500UL, m[0]);
    }

    [Fact]
    public void Speed()
    {
        using var m = new Machine();
        // x0 = iterations; loop: add x2, x2, x0 ; eor x3, x3, x2 ; subs x0, x0, #1 ; b.ne loop
        m.Load(Machine.Code, 0x8B000042, 0xCA020063, 0xF1000400, 0x54FFFFA1, Machine.Hvc0);
        const ulong iterations = 10_000_000;
        m[0] = iterations;
        m.Cpu.Pc = Machine.Code;
        var sw = Stopwatch.StartNew();
        long start = m.Cpu.InstructionsRetired;
        Arm64Stop stop;
        do stop = m.Cpu.Run(1 << 20); while (stop == Arm64Stop.Budget);
        sw.Stop();
        Assert.Equal(Arm64Stop.Hvc, stop);
        Assert.Equal(iterations * (iterations + 1) / 2, m[2]);
        long n = m.Cpu.InstructionsRetired - start;
        output.WriteLine($"{n} instructions in {sw.ElapsedMilliseconds} ms: {n / sw.Elapsed.TotalSeconds / 1e6:F1} MIPS");
    }

    [Fact]
    public void MemoryLoopSpeed()
    {
        using var m = new Machine();
        // memcpy-like: ldr x3, [x1], #8 ; str x3, [x2], #8 ; subs x0, x0, #1 ; b.ne
        m.Load(Machine.Code, 0xF8408423, 0xF8008443, 0xF1000400, 0x54FFFFA1, Machine.Hvc0);
        long total = 0;
        var sw = Stopwatch.StartNew();
        for (int rep = 0; rep < 40; rep++)
        {
            m[0] = 0x10000; m[1] = Machine.Data; m[2] = Machine.Data + 0x80000;
            m.Cpu.Pc = Machine.Code;
            long s = m.Cpu.InstructionsRetired;
            Assert.Equal(Arm64Stop.Hvc, m.Cpu.Run(int.MaxValue));
            total += m.Cpu.InstructionsRetired - s;
        }
        sw.Stop();
        output.WriteLine($"{total} instructions in {sw.ElapsedMilliseconds} ms: {total / sw.Elapsed.TotalSeconds / 1e6:F1} MIPS (loads/stores)");
    }
}
