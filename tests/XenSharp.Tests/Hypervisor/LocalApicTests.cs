using System.Diagnostics;
using XenSharp.Hypervisor.Apic;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Time;
using static XenSharp.Hypervisor.Apic.ApicRegisters;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// The emulated local APIC as a guest observes it: xAPIC MMIO at 0xFEE00000, x2APIC MSRs,
/// interrupt acceptance/acknowledge/EOI, IPIs between the vCPUs of a domain, and the timer.
/// </summary>
public class LocalApicTests
{
    private const ulong Base = DefaultBase;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    private static uint Mmio(LocalApic apic, int offset) => (uint)apic.ReadMmio(Base + (ulong)offset, 4);
    private static void Mmio(LocalApic apic, int offset, uint value) => apic.WriteMmio(Base + (ulong)offset, 4, value);

    private static void Enable(LocalApic apic) => Mmio(apic, Svr, SvrEnable | 0xFF);

    private static bool WaitFor(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > Generous) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    private static void DoEoi(LocalApic apic) => Mmio(apic, Eoi, 0);

    [Fact]
    public void Reset_values_match_the_sdm()
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        var a1 = d.Domain.Vcpus[1].Apic;
        Assert.Equal(0xFEE00900UL, a0.ApicBase); // enabled, BSP
        Assert.Equal(0xFEE00800UL, a1.ApicBase); // enabled, AP
        Assert.Equal(0u, Mmio(a0, ApicId));
        Assert.Equal(1u << 24, Mmio(a1, ApicId));
        Assert.Equal(0x50014u, Mmio(a0, ApicVersion));
        Assert.Equal(0xFFu, Mmio(a0, Svr));
        Assert.Equal(0xFFFFFFFFu, Mmio(a0, Dfr));
        Assert.Equal(0u, Mmio(a0, Tpr));
        Assert.Equal(0u, Mmio(a0, Ppr));
        Assert.Equal(0u, Mmio(a0, Ldr));
        foreach (int lvt in new[] { LvtTimer, LvtThermal, LvtPerf, LvtLint0, LvtLint1, LvtError })
            Assert.Equal(LvtMasked, Mmio(a0, lvt));
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(0u, Mmio(a0, IsrBase + i * 16));
            Assert.Equal(0u, Mmio(a0, TmrBase + i * 16));
            Assert.Equal(0u, Mmio(a0, IrrBase + i * 16));
        }
        Assert.Equal(0u, Mmio(a0, TimerInitialCount));
        Assert.Equal(0u, Mmio(a0, TimerCurrentCount));
        Assert.False(a0.IsSoftwareEnabled);
        Assert.False(a0.IsX2ApicMode);
    }

    [Fact]
    public void Cpuid_advertises_apic_x2apic_and_tsc_deadline()
    {
        var leaf1 = CpuidPolicy.ForVcpu(FakeAccelerator.HostCpuid(umip: true), 1, 0).Single(e => e.Function == 1);
        Assert.NotEqual(0u, leaf1.Edx & (1u << 9));
        Assert.NotEqual(0u, leaf1.Ecx & (1u << 21));
        Assert.NotEqual(0u, leaf1.Ecx & (1u << 24));
    }

    [Fact]
    public void Svr_software_enable_gates_acceptance_and_masks_lvts()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        apic.Deliver(0x40);
        Assert.False(apic.IsPending(0x40)); // software-disabled: fixed interrupts are not accepted
        Mmio(apic, LvtTimer, 0x40);
        Assert.Equal(LvtMasked | 0x40, Mmio(apic, LvtTimer)); // LVTs stay masked while disabled

        Enable(apic);
        Assert.True(apic.IsSoftwareEnabled);
        Assert.Equal(0x1FFu, Mmio(apic, Svr));
        Mmio(apic, LvtTimer, 0x40);
        Mmio(apic, LvtLint0, 0x700);
        Assert.Equal(0x40u, Mmio(apic, LvtTimer));
        apic.Deliver(0x40);
        Assert.True(apic.IsPending(0x40));

        Mmio(apic, Svr, 0xFF); // disable again: every LVT masked
        Assert.Equal(LvtMasked | 0x40, Mmio(apic, LvtTimer));
        Assert.Equal(LvtMasked | 0x700, Mmio(apic, LvtLint0));
    }

    [Fact]
    public void Tpr_and_ppr_gate_delivery_by_priority_class()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, Tpr, 0x135); // only the low 8 bits exist
        Assert.Equal(0x35u, Mmio(apic, Tpr));
        Assert.Equal(0x35u, Mmio(apic, Ppr));

        apic.Deliver(0x3F); // same class as TPR: held
        Assert.True(apic.IsPending(0x3F));
        Assert.False(apic.HasDeliverableInterrupt);
        Assert.False(apic.TryAcknowledge(out _));

        apic.Deliver(0x45);
        Assert.True(apic.TryAcknowledge(out byte v));
        Assert.Equal(0x45, v);
        Assert.Equal(0x40u, Mmio(apic, Ppr)); // the in-service class beats TPR

        DoEoi(apic);
        Assert.Equal(0x35u, Mmio(apic, Ppr));
        Mmio(apic, Tpr, 0);
        Assert.True(apic.TryAcknowledge(out v));
        Assert.Equal(0x3F, v);
    }

    [Fact]
    public void Self_ipi_through_icr_goes_irr_then_isr_and_eoi_clears_it()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        int kicks = d.FakeCpu(0).KickCount;
        Mmio(apic, IcrLow, IcrShorthandSelf | 0x61);
        Assert.Equal(1u << 1, Mmio(apic, IrrBase + 3 * 16)); // vector 0x61 = bank 3, bit 1
        Assert.True(d.FakeCpu(0).KickCount > kicks); // pending interrupt notifies (wakes/kicks) the vCPU
        Assert.Equal(IcrShorthandSelf | 0x61, Mmio(apic, IcrLow)); // delivery status reads idle

        Assert.True(apic.TryAcknowledge(out byte v));
        Assert.Equal(0x61, v);
        Assert.Equal(0u, Mmio(apic, IrrBase + 3 * 16));
        Assert.Equal(1u << 1, Mmio(apic, IsrBase + 3 * 16));
        Assert.True(apic.IsInService(0x61));

        DoEoi(apic);
        Assert.Equal(0u, Mmio(apic, IsrBase + 3 * 16));
        Assert.False(apic.TryAcknowledge(out _));
    }

    [Fact]
    public void Several_pending_vectors_are_taken_highest_first_and_nest_by_class()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        apic.Deliver(0x41);
        apic.Deliver(0x91);
        apic.Deliver(0x51);
        Assert.True(apic.TryAcknowledge(out byte v));
        Assert.Equal(0x91, v);
        Assert.False(apic.TryAcknowledge(out _)); // 0x51 is below the in-service class 9
        apic.Deliver(0xA0);                         // but a higher class nests
        Assert.True(apic.TryAcknowledge(out v));
        Assert.Equal(0xA0, v);
        DoEoi(apic); // clears 0xA0, the highest in service
        Assert.True(apic.IsInService(0x91));
        Assert.False(apic.IsInService(0xA0));
        DoEoi(apic);
        Assert.True(apic.TryAcknowledge(out v));
        Assert.Equal(0x51, v);
        DoEoi(apic);
        Assert.True(apic.TryAcknowledge(out v));
        Assert.Equal(0x41, v);
        DoEoi(apic);
        Assert.False(apic.TryAcknowledge(out _));
    }

    [Fact]
    public void Illegal_vectors_set_esr_on_the_next_esr_write()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, IcrLow, IcrShorthandSelf | 0x05);
        Assert.Equal(0u, Mmio(apic, Esr)); // not latched yet
        Mmio(apic, Esr, 0);
        Assert.Equal(EsrSendIllegalVector, Mmio(apic, Esr));
        Mmio(apic, Esr, 0);
        Assert.Equal(0u, Mmio(apic, Esr));
    }

    [Fact]
    public void Ipi_to_another_vcpu_lands_in_its_irr_and_kicks_it()
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        var a1 = d.Domain.Vcpus[1].Apic;
        Enable(a0);
        Enable(a1);
        int kicks = d.FakeCpu(1).KickCount;
        Mmio(a0, IcrHigh, 1u << 24);
        Mmio(a0, IcrLow, 0x70); // fixed, physical, no shorthand
        Assert.True(a1.IsPending(0x70));
        Assert.False(a0.IsPending(0x70));
        Assert.True(d.FakeCpu(1).KickCount > kicks);

        // Logical flat: vCPU 1 answers to logical bit 1.
        Mmio(a1, Ldr, 0x0200_0000);
        Mmio(a0, IcrHigh, 0x0200_0000);
        Mmio(a0, IcrLow, IcrDestLogical | 0x71);
        Assert.True(a1.IsPending(0x71));
        Assert.False(a0.IsPending(0x71));
    }

    [Theory]
    [InlineData(IcrShorthandAllIncludingSelf, true, true)]
    [InlineData(IcrShorthandAllExcludingSelf, false, true)]
    [InlineData(IcrShorthandSelf, true, false)]
    public void Broadcast_shorthands_reach_the_right_vcpus(uint shorthand, bool self, bool other)
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        var a1 = d.Domain.Vcpus[1].Apic;
        Enable(a0);
        Enable(a1);
        Mmio(a0, IcrLow, shorthand | 0x80);
        Assert.Equal(self, a0.IsPending(0x80));
        Assert.Equal(other, a1.IsPending(0x80));
    }

    [Fact]
    public void Physical_broadcast_destination_reaches_everyone()
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        var a1 = d.Domain.Vcpus[1].Apic;
        Enable(a0);
        Enable(a1);
        Mmio(a0, IcrHigh, 0xFF00_0000);
        Mmio(a0, IcrLow, 0x81);
        Assert.True(a0.IsPending(0x81));
        Assert.True(a1.IsPending(0x81));
    }

    [Fact]
    public void X2apic_msrs_fault_until_x2apic_mode_is_enabled()
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        Assert.False(a0.TryReadMsr(0x802, out _));
        Assert.False(a0.TryWriteMsr(0x808, 0));

        Assert.True(a0.TryWriteMsr(ApicBaseMsr, DefaultBase | BaseEnable | BaseExtd));
        Assert.True(a0.IsX2ApicMode);
        Assert.True(a0.TryReadMsr(0x802, out ulong id));
        Assert.Equal(0UL, id);
        Assert.True(d.Domain.Vcpus[1].Apic.TrySetApicBase(DefaultBase | BaseEnable | BaseExtd));
        Assert.True(d.Domain.Vcpus[1].Apic.TryReadMsr(0x802, out id));
        Assert.Equal(1UL, id);
        Assert.True(d.Domain.Vcpus[1].Apic.TryReadMsr(0x80D, out ulong ldr));
        Assert.Equal(1UL << 1, ldr); // cluster 0, bit 1

        // Absent, read-only and write-only registers fault; so do reserved bits.
        Assert.False(a0.TryReadMsr(0x80B, out _));      // EOI is write-only
        Assert.False(a0.TryReadMsr(0x80E, out _));      // no DFR in x2APIC mode
        Assert.False(a0.TryWriteMsr(0x802, 5));          // ID is read-only
        Assert.False(a0.TryWriteMsr(0x80B, 1));          // EOI takes 0 only
        Assert.False(a0.TryReadMsr(0x831, out _));      // no ICR high
        Assert.True(a0.TryReadMsr(0x803, out ulong version));
        Assert.Equal(0x50014UL, version);

        // xAPIC MMIO is ignored in x2APIC mode.
        Assert.Equal(0UL, a0.ReadMmio(Base + ApicVersion, 4));
    }

    [Fact]
    public void X2apic_icr_and_self_ipi_deliver()
    {
        using var d = new TestDomain(vcpus: 2);
        var a0 = d.Domain.Vcpus[0].Apic;
        var a1 = d.Domain.Vcpus[1].Apic;
        foreach (var a in new[] { a0, a1 })
        {
            Assert.True(a.TryWriteMsr(ApicBaseMsr, DefaultBase | BaseEnable | BaseExtd));
            Assert.True(a.TryWriteMsr(0x80F, SvrEnable | 0xFF));
        }
        Assert.True(a0.TryWriteMsr(X2ApicIcrMsr, (1UL << 32) | 0x90)); // physical dest 1
        Assert.True(a1.IsPending(0x90));
        Assert.False(a0.IsPending(0x90));
        Assert.True(a0.TryReadMsr(X2ApicIcrMsr, out ulong icr));
        Assert.Equal((1UL << 32) | 0x90, icr);

        Assert.True(a0.TryWriteMsr(X2ApicIcrMsr, (0x0000_0002UL << 32) | IcrDestLogical | 0x91)); // cluster 0, bit 1 = vCPU 1
        Assert.True(a1.IsPending(0x91));

        Assert.True(a0.TryWriteMsr(X2ApicSelfIpiMsr, 0x92));
        Assert.True(a0.IsPending(0x92));
        Assert.False(a0.TryWriteMsr(X2ApicSelfIpiMsr, 0x192)); // reserved bits

        Assert.True(a0.TryAcknowledge(out byte v));
        Assert.Equal(0x92, v);
        Assert.True(a0.TryReadMsr(0x810 + (0x92u >> 5), out ulong isr)); // ISR bank 4
        Assert.Equal(1UL << (0x92 & 31), isr);
        Assert.True(a0.TryWriteMsr(0x80B, 0));
        Assert.False(a0.IsInService(0x92));
    }

    [Fact]
    public void Apic_base_mode_transitions_follow_the_sdm()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Assert.False(apic.TrySetApicBase(DefaultBase | BaseExtd));          // x2APIC without EN: invalid
        Assert.False(apic.TrySetApicBase(DefaultBase | BaseEnable | 0x1));  // reserved bit
        Assert.True(apic.TrySetApicBase(DefaultBase | BaseEnable | BaseExtd));
        Assert.False(apic.TrySetApicBase(DefaultBase | BaseEnable));        // x2APIC -> xAPIC: invalid
        Assert.True(apic.TrySetApicBase(DefaultBase));                      // -> disabled
        Assert.False(apic.IsEnabled);
        Assert.False(apic.ClaimsMmio(Base));
        Assert.False(apic.TrySetApicBase(DefaultBase | BaseEnable | BaseExtd)); // disabled -> x2APIC: invalid
        Assert.True(apic.TrySetApicBase(DefaultBase | BaseEnable));
        Assert.Equal(0xFEE00900UL, apic.ApicBase); // BSP bit kept
    }

    [Fact]
    public void Disabling_the_apic_globally_resets_it()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, Tpr, 0x20);
        apic.Deliver(0x40);
        Assert.True(apic.TryWriteMsr(ApicBaseMsr, DefaultBase));
        Assert.True(apic.TryWriteMsr(ApicBaseMsr, DefaultBase | BaseEnable));
        Assert.False(apic.IsPending(0x40));
        Assert.Equal(0u, Mmio(apic, Tpr));
        Assert.Equal(0xFFu, Mmio(apic, Svr));
    }

    [Fact]
    public void The_apic_page_moves_with_the_base_msr()
    {
        using var d = new TestDomain(vcpus: 2);
        var apic = d.Domain.Vcpus[1].Apic;
        const ulong newBase = 0xFED0_0000;
        Assert.True(apic.ClaimsMmio(Base + 0x20));
        Assert.True(apic.TryWriteMsr(ApicBaseMsr, newBase | BaseEnable));
        Assert.True(apic.TryReadMsr(ApicBaseMsr, out ulong msr));
        Assert.Equal(newBase | BaseEnable, msr);
        Assert.False(apic.ClaimsMmio(Base + 0x20));
        Assert.True(apic.ClaimsMmio(newBase + 0x20));
        Assert.Equal(1UL << 24, apic.ReadMmio(newBase + ApicId, 4));
    }

    [Fact]
    public void Unaligned_odd_sized_reserved_and_read_only_accesses_are_harmless()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Assert.Equal(0UL, apic.ReadMmio(Base + ApicVersion + 4, 4));
        Assert.Equal(0UL, apic.ReadMmio(Base + ApicVersion, 2));
        Assert.Equal(0UL, apic.ReadMmio(Base + 0x2F0, 4)); // no CMCI LVT
        Assert.Equal(0UL, apic.ReadMmio(Base + 0xFF0, 4));
        apic.WriteMmio(Base + ApicVersion, 4, 0x12345678);
        apic.WriteMmio(Base + ApicId, 4, 0x0500_0000);
        apic.WriteMmio(Base + Svr + 4, 4, 0x1FF);
        Assert.Equal(0x50014UL, apic.ReadMmio(Base + ApicVersion, 4));
        Assert.Equal(0UL, apic.ReadMmio(Base + ApicId, 4));
        Assert.Equal(0xFFUL, apic.ReadMmio(Base + Svr, 4));
    }

    [Theory]
    [InlineData(0x0u, 2u)]
    [InlineData(0x1u, 4u)]
    [InlineData(0x3u, 16u)]
    [InlineData(0x8u, 32u)]
    [InlineData(0xAu, 128u)]
    [InlineData(0xBu, 1u)]
    public void Divide_configuration_maps_to_the_sdm_divisors(uint config, uint divisor) =>
        Assert.Equal(divisor, LocalApic.Divisor(config));

    [Fact]
    public void One_shot_timer_fires_once_and_counts_down()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, TimerDivide, 0xB); // divide by 1: one count per ns at the 1 GHz bus
        Mmio(apic, LvtTimer, 0x40);   // one-shot, vector 0x40

        // A long count first: the current count runs down from the initial count.
        Mmio(apic, TimerInitialCount, 0xFFFF_FFFF);
        uint current = Mmio(apic, TimerCurrentCount);
        Assert.InRange(current, 1u, 0xFFFF_FFFFu);
        Assert.Equal(0xFFFF_FFFFu, Mmio(apic, TimerInitialCount));

        Mmio(apic, TimerInitialCount, 2_000_000); // 2 ms
        Assert.True(WaitFor(() => apic.IsPending(0x40)));
        Assert.Equal(0u, Mmio(apic, TimerCurrentCount));
        Assert.True(apic.TryAcknowledge(out byte v));
        Assert.Equal(0x40, v);
        DoEoi(apic);
        Thread.Sleep(50);
        Assert.False(apic.IsPending(0x40)); // once only
        Assert.False(apic.TimerArmed);
    }

    [Fact]
    public void Periodic_timer_fires_repeatedly_until_stopped()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, TimerDivide, 0xB);
        Mmio(apic, LvtTimer, LvtTimerPeriodic | 0x41);
        Mmio(apic, TimerInitialCount, 1_000_000); // 1 ms
        for (int i = 0; i < 3; i++)
        {
            Assert.True(WaitFor(() => apic.IsPending(0x41)), $"tick {i}");
            Assert.True(apic.TryAcknowledge(out byte v));
            Assert.Equal(0x41, v);
            DoEoi(apic);
        }
        Assert.InRange(Mmio(apic, TimerCurrentCount), 1u, 1_000_000u); // periodic never reads 0 while running
        Mmio(apic, TimerInitialCount, 0); // stop
        Assert.False(apic.TimerArmed);
    }

    [Fact]
    public void Masked_timer_counts_but_raises_nothing()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, TimerDivide, 0xB);
        Mmio(apic, LvtTimer, LvtMasked | 0x42);
        Mmio(apic, TimerInitialCount, 1_000); // 1 µs
        Assert.True(WaitFor(() => !apic.TimerArmed && Mmio(apic, TimerCurrentCount) == 0));
        Thread.Sleep(20);
        Assert.False(apic.IsPending(0x42));
    }

    [Fact]
    public void Tsc_deadline_timer_fires_and_reads_zero_afterwards()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Assert.True(apic.TryWriteMsr(TscDeadlineMsr, HostTsc.Read() + 1000)); // ignored outside TSC-deadline mode
        Assert.True(apic.TryReadMsr(TscDeadlineMsr, out ulong deadline));
        Assert.Equal(0UL, deadline);

        Mmio(apic, LvtTimer, LvtTimerTscDeadline | 0x43);
        ulong guestTsc = (ulong)((long)HostTsc.Read() + apic.TscOffset);
        Assert.True(apic.TryWriteMsr(TscDeadlineMsr, guestTsc + HostTsc.FrequencyHz / 500)); // 2 ms
        Mmio(apic, TimerInitialCount, 1234); // ignored in TSC-deadline mode
        Assert.Equal(0u, Mmio(apic, TimerInitialCount));
        Assert.True(WaitFor(() => apic.IsPending(0x43)));
        Assert.True(apic.TryReadMsr(TscDeadlineMsr, out deadline));
        Assert.Equal(0UL, deadline);
        Assert.False(apic.TimerArmed);
    }

    [Fact]
    public void Writing_zero_to_the_tsc_deadline_disarms_it()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, LvtTimer, LvtTimerTscDeadline | 0x44);
        ulong guestTsc = (ulong)((long)HostTsc.Read() + apic.TscOffset);
        ulong soon = guestTsc + HostTsc.FrequencyHz / 20; // 50 ms
        Assert.True(apic.TryWriteMsr(TscDeadlineMsr, soon));
        Assert.True(apic.TryReadMsr(TscDeadlineMsr, out ulong armed));
        Assert.Equal(soon, armed);
        Assert.True(apic.TimerArmed);
        Assert.True(apic.TryWriteMsr(TscDeadlineMsr, 0));
        Assert.False(apic.TimerArmed);
        Thread.Sleep(150);
        Assert.False(apic.IsPending(0x44));
    }

    [Fact]
    public void Changing_the_timer_mode_stops_the_timer()
    {
        using var d = new TestDomain();
        var apic = d.Domain.Vcpus[0].Apic;
        Enable(apic);
        Mmio(apic, TimerDivide, 0xB);
        Mmio(apic, LvtTimer, 0x45);
        Mmio(apic, TimerInitialCount, 0xFFFF_FFFF);
        Assert.True(apic.TimerArmed);
        Mmio(apic, LvtTimer, LvtTimerTscDeadline | 0x45);
        Assert.False(apic.TimerArmed);
        Assert.Equal(0u, Mmio(apic, TimerCurrentCount));
    }
}
