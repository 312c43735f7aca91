/*
 * The GICv3 Xen gives a guest (ARM IHI 0069), Non-secure, with affinity routing always on:
 *
 *  - the Distributor (GICD) at 0x03001000 holds the SPIs and the global Group 1 enable;
 *  - one Redistributor per vCPU, 128 KiB apart from 0x03020000: an RD_base frame (wake-up
 *    control, LPI tables) then an SGI_base frame holding that vCPU's SGIs (INTID 0-15) and PPIs
 *    (16-31): enable, priority and group registers at the same offsets as in the GICD;
 *  - the CPU interface, through ICC_* system registers: ICC_PMR_EL1 (priority mask),
 *    ICC_IGRPEN1_EL1 (Group 1 enable), ICC_IAR1_EL1 (acknowledge: returns the INTID, 1023 when
 *    nothing is pending), ICC_EOIR1_EL1 (end of interrupt: with EOImode 0 this also deactivates),
 *    ICC_SGI1R_EL1 (send an SGI).
 *
 * A redistributor starts asleep (GICR_WAKER.ProcessorSleep set) and forwards nothing until its
 * CPU clears ProcessorSleep and sees ChildrenAsleep clear. Everything here is Group 1 (GICR_IGROUPR0
 * and GICD_IGROUPR reset to all ones on Xen) at one priority.
 *
 * LPIs (INTID 8192 and up, raised by the ITS) are configured by two tables in guest memory per
 * redistributor: a property table (one byte per LPI: bit 0 enable, bits 7:2 priority) at
 * GICR_PROPBASER, and a pending table (one bit per INTID, 64 KiB aligned, zeroed) at
 * GICR_PENDBASER; GICR_CTLR.EnableLPIs turns them on.
 */
#ifndef GIC_H
#define GIC_H

#include <stdint.h>
#include "cpu.h"

#define GICD_BASE         0x03001000ul
#define GICR_BASE         0x03020000ul
#define GICR_STRIDE       0x20000ul
#define GICR_SGI_BASE     0x10000ul	/* the SGI_base frame, after RD_base */

#define GICD_CTLR         0x0000
#define GICD_TYPER        0x0004
#define GICD_CTLR_RWP     (1u << 31)
#define GICD_CTLR_ARE_NS  (1u << 4)
#define GICD_CTLR_ENABLE_GRP1A (1u << 1)
#define GICD_TYPER_LPIS   (1u << 17)

#define GICR_CTLR         0x0000
#define GICR_TYPER        0x0008
#define GICR_WAKER        0x0014
#define GICR_PROPBASER    0x0070
#define GICR_PENDBASER    0x0078
#define GICR_CTLR_ENABLE_LPIS (1u << 0)
#define GICR_TYPER_PLPIS  (1ul << 0)
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)

/* In the SGI_base frame */
#define GICR_IGROUPR0     0x0080
#define GICR_ISENABLER0   0x0100
#define GICR_IPRIORITYR   0x0400

#define GIC_PRIORITY      0xA0	/* every interrupt the guests use; below the mask */
#define GIC_PRIORITY_MASK 0xF0	/* ICC_PMR_EL1: lets GIC_PRIORITY through */
#define GIC_SPURIOUS      1023
#define GIC_FIRST_LPI     8192

static inline uintptr_t gic_redistributor(unsigned cpu) { return GICR_BASE + cpu * GICR_STRIDE; }

/* Group 1 on with affinity routing; once, from vCPU 0. */
void gic_init_distributor(void);

/* Wakes the calling vCPU's redistributor and enables its CPU interface for Group 1. */
void gic_init_cpu(unsigned cpu);

/* Enables SGI or PPI `intid` (0-31) at GIC_PRIORITY on `cpu`'s redistributor. */
void gic_enable_private(unsigned cpu, unsigned intid);

/*
 * Points `cpu`'s redistributor at an LPI property table covering INTIDs below 2^id_bits and
 * at a zeroed pending table, then sets EnableLPIs.
 */
void gic_enable_lpis(unsigned cpu, const uint8_t *properties, unsigned id_bits, const void *pending);

/* The property-table byte of an enabled LPI at GIC_PRIORITY. */
#define GIC_LPI_ENABLED (GIC_PRIORITY | 1)

static inline uint32_t gic_acknowledge(void)
{
	uint32_t intid = (uint32_t)read_sysreg(icc_iar1_el1);
	asm volatile("dsb sy" : : : "memory");
	return intid;
}

static inline void gic_end_of_interrupt(uint32_t intid)
{
	write_sysreg(icc_eoir1_el1, intid);
	isb();
}

/* SGI `intid` (0-15) to vCPU `cpu`: ICC_SGI1R_EL1 = INTID[27:24] | Aff1[23:16] | TargetList bit Aff0. */
static inline void gic_send_sgi(unsigned intid, unsigned cpu)
{
	asm volatile("dsb ishst" : : : "memory");	/* data written before the SGI is visible with it */
	write_sysreg(icc_sgi1r_el1, (uint64_t)intid << 24 | (uint64_t)(cpu / 16) << 16 | 1u << (cpu % 16));
	isb();
}

#endif
