/*
 * arm64-timer: the generic timer's virtual timer through the GICv3.
 *
 * Wakes the GIC (distributor, this vCPU's redistributor, CPU interface), enables the virtual
 * timer's PPI 27, and programs the timer 2 ms ahead three times in a row: each interrupt is
 * acknowledged, the timer masked (its level drops, so the PPI does not fire again), the
 * interrupt ended and the timer re-armed for the next 2 ms. The vCPU sleeps in WFI in between.
 * At the end the virtual count must have advanced by at least the three periods.
 *
 * The physical timer (PPI 30) is the watchdog: if three ticks have not come within 100 ms it
 * fires and the guest fails instead of sleeping for ever.
 */
#include <stdbool.h>
#include "cpu.h"
#include "exception.h"
#include "gic.h"
#include "test.h"
#include "timer.h"

const char test_name[] = "arm64-timer";

#define PERIOD_US   2000
#define TICKS       3
#define WATCHDOG_US 100000

static uint64_t period;			/* in counter ticks */
static volatile unsigned ticks;
static volatile bool watchdog_fired;

static void irq(uint32_t intid)
{
	switch (intid) {
	case TIMER_VIRTUAL_PPI: {
		uint64_t ctl = read_sysreg(cntv_ctl_el0);
		if (!(ctl & CNT_CTL_ISTATUS))
			test_fail("PPI 27 taken with CNTV_CTL_EL0 0x%lx (ISTATUS clear)", ctl);
		write_sysreg(cntv_ctl_el0, CNT_CTL_ENABLE | CNT_CTL_IMASK);
		if (++ticks < TICKS) {
			write_sysreg(cntv_cval_el0, read_sysreg(cntv_cval_el0) + period);
			write_sysreg(cntv_ctl_el0, CNT_CTL_ENABLE);
		}
		isb();	/* the output is low (or not yet due) before the EOI */
		break;
	}
	case TIMER_PHYSICAL_PPI:
		write_sysreg(cntp_ctl_el0, CNT_CTL_ENABLE | CNT_CTL_IMASK);
		isb();
		watchdog_fired = true;
		break;
	default:
		test_fail("unexpected interrupt %u", intid);
	}
}

void test_main(uint64_t dtb)
{
	(void)dtb;
	exception_set_irq_handler(irq);
	gic_init_distributor();
	gic_init_cpu(0);
	gic_enable_private(0, TIMER_VIRTUAL_PPI);
	gic_enable_private(0, TIMER_PHYSICAL_PPI);

	uint64_t frequency = timer_frequency();
	if (frequency == 0)
		test_fail("CNTFRQ_EL0 is 0");
	period = timer_us_to_ticks(PERIOD_US);
	test_log("counter at %lu Hz; %u ticks of %u us", frequency, TICKS, PERIOD_US);

	write_sysreg(cntp_cval_el0, timer_physical_count() + timer_us_to_ticks(WATCHDOG_US));
	write_sysreg(cntp_ctl_el0, CNT_CTL_ENABLE);
	uint64_t start = timer_count();
	write_sysreg(cntv_cval_el0, start + period);
	write_sysreg(cntv_ctl_el0, CNT_CTL_ENABLE);
	isb();

	while (ticks < TICKS && !watchdog_fired)
		cpu_wait_for_interrupt();
	uint64_t elapsed = timer_count() - start;
	write_sysreg(cntv_ctl_el0, 0);
	write_sysreg(cntp_ctl_el0, 0);

	if (ticks < TICKS)
		test_fail("%u of %u virtual timer interrupts within %u us", ticks, TICKS, WATCHDOG_US);
	if (elapsed < TICKS * period)
		test_fail("%u ticks after %lu counts, fewer than %u periods of %lu", TICKS, elapsed, TICKS, period);
	test_log("%u ticks in %lu us", TICKS, timer_ticks_to_us(elapsed));
}
