#include "gic.h"
#include "test.h"
#include "timer.h"

#define GIC_TIMEOUT_US 100000

void gic_init_distributor(void)
{
	mmio_write32(GICD_BASE + GICD_CTLR, GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_GRP1A);
	uint64_t deadline = timer_deadline(GIC_TIMEOUT_US);
	uint32_t ctlr;
	while ((ctlr = mmio_read32(GICD_BASE + GICD_CTLR)) & GICD_CTLR_RWP) {
		if (timer_passed(deadline))
			test_fail("GICD_CTLR.RWP stays set");
		cpu_relax();
	}
	if ((ctlr & (GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_GRP1A)) != (GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_GRP1A))
		test_fail("GICD_CTLR reads 0x%x: ARE_NS and EnableGrp1A should be set", ctlr);
}

void gic_init_cpu(unsigned cpu)
{
	uintptr_t rd = gic_redistributor(cpu);

	/* Wake the redistributor: clear ProcessorSleep, wait for ChildrenAsleep to clear. */
	mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
	uint64_t deadline = timer_deadline(GIC_TIMEOUT_US);
	while (mmio_read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP) {
		if (timer_passed(deadline))
			test_fail("GICR_WAKER.ChildrenAsleep of vCPU %u stays set", cpu);
		cpu_relax();
	}

	/* SGIs and PPIs: Group 1, one priority. */
	uintptr_t sgi = rd + GICR_SGI_BASE;
	mmio_write32(sgi + GICR_IGROUPR0, ~0u);
	for (unsigned i = 0; i < 32; i += 4)
		mmio_write32(sgi + GICR_IPRIORITYR + i, GIC_PRIORITY * 0x01010101u);

	/* CPU interface: system registers, EOImode 0, no preemption groups, Group 1 on. */
	write_sysreg(icc_sre_el1, read_sysreg(icc_sre_el1) | 1);
	isb();
	write_sysreg(icc_pmr_el1, GIC_PRIORITY_MASK);
	write_sysreg(icc_bpr1_el1, 0);
	write_sysreg(icc_ctlr_el1, 0);
	write_sysreg(icc_igrpen1_el1, 1);
	isb();
}

void gic_enable_private(unsigned cpu, unsigned intid)
{
	mmio_write32(gic_redistributor(cpu) + GICR_SGI_BASE + GICR_ISENABLER0, 1u << intid);
}

void gic_enable_lpis(unsigned cpu, const uint8_t *properties, unsigned id_bits, const void *pending)
{
	uintptr_t rd = gic_redistributor(cpu);
	if (!(mmio_read32(GICD_BASE + GICD_TYPER) & GICD_TYPER_LPIS) || !(mmio_read64(rd + GICR_TYPER) & GICR_TYPER_PLPIS))
		test_fail("the GIC does not support LPIs (GICD_TYPER.LPIS, GICR_TYPER.PLPIS)");
	/*
	 * PROPBASER: physical address [51:12], IDbits [4:0] = id_bits - 1. PENDBASER: physical
	 * address [51:16]. Cacheability and shareability fields 0 (Device-nGnRnE, non-shareable):
	 * the guest writes the tables with the MMU off, i.e. uncached.
	 */
	mmio_write64(rd + GICR_PROPBASER, (uintptr_t)properties | (id_bits - 1));
	mmio_write64(rd + GICR_PENDBASER, (uintptr_t)pending);
	asm volatile("dsb sy" : : : "memory");
	mmio_write32(rd + GICR_CTLR, mmio_read32(rd + GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
}
