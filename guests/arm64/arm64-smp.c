/*
 * arm64-smp (2 vCPUs): bringing a second vCPU up and down with PSCI.
 *
 * vCPU 0 starts vCPU 1 with CPU_ON at start.S's secondary_entry and a context id. vCPU 1 checks
 * it arrived with that id on its own stack, records its MPIDR_EL1, and both vCPUs add to a shared
 * counter at the same time with atomic read-modify-writes (LDAXR/STLXR loops). vCPU 1 then
 * publishes that it is done (store-release) and sends SGI 1 to vCPU 0. vCPU 0 waits for both
 * (load-acquire), checks the counter and vCPU 1's MPIDR_EL1, that CPU_ON of vCPU 1 again is
 * ALREADY_ON and of a vCPU that does not exist (affinity 7) INVALID_PARAMETERS, and that
 * AFFINITY_INFO says vCPU 1 is ON. Then it lets vCPU 1 go: vCPU 1 calls CPU_OFF, and
 * AFFINITY_INFO must say OFF.
 *
 * Only one vCPU prints at a time: vCPU 1 prints before it publishes that it is done, and vCPU 0
 * prints nothing between CPU_ON and seeing that.
 */
#include <stdbool.h>
#include "cpu.h"
#include "exception.h"
#include "gic.h"
#include "psci.h"
#include "test.h"
#include "timer.h"

const char test_name[] = "arm64-smp";

#define CONTEXT       0x5EC0D0C0FFEE0001ul
#define SGI           1
#define INCREMENTS    1000
#define MISSING_VCPU  7
#define WAIT_US       1000000	/* for vCPU 1 to start, report, and stop */

static uint64_t counter;
static uint64_t secondary_mpidr, secondary_context, secondary_stack;
static unsigned secondary_done;		/* written with release, read with acquire */
static unsigned secondary_may_stop;
static volatile unsigned sgis;

static void irq(uint32_t intid)
{
	if (intid != SGI)
		test_fail("unexpected interrupt %u", intid);
	sgis++;
}

static void count(void)
{
	for (unsigned i = 0; i < INCREMENTS; i++)
		__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
}

static bool acquired(unsigned *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0; }

static void release(unsigned *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	asm volatile("sev");
}

void secondary_main(uint64_t context)
{
	uint64_t sp;
	asm("mov %0, sp" : "=r"(sp));
	secondary_mpidr = read_sysreg(mpidr_el1);
	secondary_context = context;
	secondary_stack = sp;
	count();
	test_log("vCPU 1 up: MPIDR_EL1 0x%lx, context 0x%lx, stack 0x%lx", secondary_mpidr, context, sp);
	release(&secondary_done);
	gic_send_sgi(SGI, 0);

	uint64_t deadline = timer_deadline(WAIT_US);
	while (!acquired(&secondary_may_stop) && !timer_passed(deadline))
		asm volatile("wfe");
	psci_cpu_off();
}

void test_main(uint64_t dtb)
{
	(void)dtb;
	exception_set_irq_handler(irq);
	gic_init_distributor();
	gic_init_cpu(0);
	gic_enable_private(0, SGI);
	irq_enable();

	uint64_t sp0;
	asm("mov %0, sp" : "=r"(sp0));
	test_log("vCPU 0: MPIDR_EL1 0x%lx, stack 0x%lx; starting vCPU 1", read_sysreg(mpidr_el1), sp0);
	int32_t rc = psci_cpu_on(affinity_of(1), secondary_entry, CONTEXT);
	if (rc != PSCI_SUCCESS)
		test_fail("CPU_ON(vCPU 1) = %d", rc);
	count();

	uint64_t deadline = timer_deadline(WAIT_US);
	while (!(acquired(&secondary_done) && sgis > 0)) {
		if (timer_passed(deadline))
			test_fail("vCPU 1 %s", acquired(&secondary_done) ? "reported but its SGI 1 never came" : "never reported");
		cpu_relax();
	}
	if (secondary_context != CONTEXT)
		test_fail("vCPU 1 got context id 0x%lx, not 0x%lx", secondary_context, CONTEXT);
	if ((secondary_mpidr & 0xFFFFFFFFFFul) != (MPIDR_RES1 | affinity_of(1)))
		test_fail("vCPU 1's MPIDR_EL1 is 0x%lx", secondary_mpidr);
	uint64_t distance = secondary_stack > sp0 ? secondary_stack - sp0 : sp0 - secondary_stack;
	if (distance < 0x1000)
		test_fail("vCPU 1 runs on vCPU 0's stack (sp 0x%lx)", secondary_stack);
	uint64_t total = __atomic_load_n(&counter, __ATOMIC_RELAXED);
	if (total != 2 * INCREMENTS)
		test_fail("shared counter is %lu after 2 x %u atomic increments", total, INCREMENTS);
	test_log("SGI %u from vCPU 1; shared counter %lu", SGI, total);

	if ((rc = psci_cpu_on(affinity_of(1), secondary_entry, CONTEXT)) != PSCI_ALREADY_ON)
		test_fail("CPU_ON(vCPU 1) again = %d, not -4 (ALREADY_ON)", rc);
	if ((rc = psci_cpu_on(affinity_of(MISSING_VCPU), secondary_entry, CONTEXT)) != PSCI_INVALID_PARAMETERS)
		test_fail("CPU_ON(affinity %u) = %d, not -2 (INVALID_PARAMETERS)", MISSING_VCPU, rc);
	if ((rc = psci_affinity_info(affinity_of(1))) != PSCI_AFFINITY_ON)
		test_fail("AFFINITY_INFO(vCPU 1) = %d while it runs, not 0 (ON)", rc);
	test_log("CPU_ON: vCPU 1 again -4, affinity %u -2; AFFINITY_INFO(vCPU 1) ON", MISSING_VCPU);

	release(&secondary_may_stop);
	deadline = timer_deadline(WAIT_US);
	while ((rc = psci_affinity_info(affinity_of(1))) != PSCI_AFFINITY_OFF) {
		if (timer_passed(deadline))
			test_fail("AFFINITY_INFO(vCPU 1) = %d after it was told to call CPU_OFF", rc);
		cpu_relax();
	}
	test_log("vCPU 1 called CPU_OFF: AFFINITY_INFO OFF");
}
