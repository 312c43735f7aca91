/*
 * CPU primitives every guest uses: system registers, barriers, interrupt masking, waiting, and
 * MMIO accessors.
 *
 * The guests run at EL1 with the MMU off, so every data access is to Device memory: MMIO goes
 * through single ldr/str instructions (no pairs, no writeback) that a hypervisor can decode from
 * the syndrome, and compiler-generated accesses stay aligned (-mstrict-align).
 */
#ifndef CPU_H
#define CPU_H

#include <stdint.h>

#define read_sysreg(reg) ({ uint64_t v_; asm volatile("mrs %0, " #reg : "=r"(v_)); v_; })
#define write_sysreg(reg, val) asm volatile("msr " #reg ", %0" : : "r"((uint64_t)(val)) : "memory")

static inline void isb(void) { asm volatile("isb" : : : "memory"); }

/* Clears PSTATE.I (IRQs are masked at entry and in exception handlers); pending IRQs come at once. */
static inline void irq_enable(void) { asm volatile("msr daifclr, #2\n\tisb" : : : "memory"); }

/* A polite spin-loop body (other vCPUs and the hypervisor keep running). */
static inline void cpu_relax(void) { asm volatile("yield" : : : "memory"); }

/*
 * Sleeps until an interrupt is pending, then takes it. Call with IRQs masked: WFI wakes on a
 * pending IRQ whatever PSTATE.I says, so a condition checked just before cannot miss the
 * interrupt that changes it (with IRQs unmasked it could be taken between the check and the
 * WFI, which would then sleep on). The IRQ is taken in the unmasked window after WFI.
 */
static inline void cpu_wait_for_interrupt(void)
{
	asm volatile("wfi\n\tmsr daifclr, #2\n\tisb\n\tmsr daifset, #2" : : : "memory");
}

/*
 * Xen numbers vCPU n's affinity Aff1 = n / 16, Aff0 = n % 16 (what PSCI calls take as a target);
 * its MPIDR_EL1 is that plus bit 31 (RES1).
 */
#define MPIDR_RES1 (1ul << 31)
static inline uint64_t affinity_of(unsigned cpu) { return (cpu / 16) << 8 | cpu % 16; }

static inline uint32_t mmio_read32(uintptr_t addr)
{
	uint32_t v;
	asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
	asm volatile("str %w0, [%1]" : : "rZ"(v), "r"(addr) : "memory");
}

static inline uint64_t mmio_read64(uintptr_t addr)
{
	uint64_t v;
	asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write64(uintptr_t addr, uint64_t v)
{
	asm volatile("str %x0, [%1]" : : "rZ"(v), "r"(addr) : "memory");
}

#endif
