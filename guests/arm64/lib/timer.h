/*
 * The Arm generic timer: a system counter ticking at CNTFRQ_EL0 (62.5 MHz on XenSharp), read as
 * CNTVCT_EL0 (virtual) or CNTPCT_EL0 (physical), and two EL1 timers with their own comparators:
 * the virtual timer (CNTV_*, PPI 27) and the physical timer (CNTP_*, PPI 30). A timer's
 * interrupt is a level: asserted while CTL.ENABLE is set, CTL.IMASK clear and the counter has
 * reached CVAL; CTL.ISTATUS reads whether the counter has reached CVAL.
 *
 * Deadlines (timer_deadline/timer_passed) bound every wait for something that should happen
 * soon, so a broken platform produces a FAIL line instead of a hang.
 */
#ifndef TIMER_H
#define TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include "cpu.h"

#define TIMER_VIRTUAL_PPI  27
#define TIMER_PHYSICAL_PPI 30

#define CNT_CTL_ENABLE  (1u << 0)
#define CNT_CTL_IMASK   (1u << 1)
#define CNT_CTL_ISTATUS (1u << 2)

static inline uint64_t timer_frequency(void) { return read_sysreg(cntfrq_el0); }

/* The virtual count; the isb keeps the read from happening before earlier instructions. */
static inline uint64_t timer_count(void)
{
	isb();
	return read_sysreg(cntvct_el0);
}

static inline uint64_t timer_physical_count(void)
{
	isb();
	return read_sysreg(cntpct_el0);
}

static inline uint64_t timer_us_to_ticks(uint64_t us) { return us * timer_frequency() / 1000000; }
static inline uint64_t timer_ticks_to_us(uint64_t ticks) { return ticks * 1000000 / timer_frequency(); }

static inline uint64_t timer_deadline(uint64_t us) { return timer_count() + timer_us_to_ticks(us); }
static inline bool timer_passed(uint64_t deadline) { return timer_count() >= deadline; }

#endif
