/*
 * arm64-its: LPIs through the GICv3 ITS.
 *
 * Gives the redistributor of vCPU 0 its LPI property and pending tables, sets up the ITS
 * (device table, collection table, command queue), then maps collection 0 to vCPU 0, the CPU
 * device (DeviceID 0) to an ITT of 8 events, and event 5 to LPI 8197. The LPI must then arrive
 * twice: once from an INT command, once from a write of 5 to GITS_TRANSLATER. Every batch of
 * commands must be consumed (GITS_CREADR reaching GITS_CWRITER).
 *
 * Then the commands the ITS must drop: MAPTI and INT for a DeviceID beyond GITS_TYPER.Devbits
 * (the first one out of range). The queue must still be consumed, no interrupt may arrive, and
 * the ITS must still deliver event 5 afterwards.
 */
#include "cpu.h"
#include "exception.h"
#include "gic.h"
#include "its.h"
#include "test.h"
#include "timer.h"

const char test_name[] = "arm64-its";

#define LPI_ID_BITS  14			/* LPIs 8192..16383 */
#define EVENT_BITS   3
#define EVENT        5
#define LPI          (GIC_FIRST_LPI + EVENT)
#define COLLECTION   0
#define WAIT_US      10000

static uint8_t lpi_properties[(1u << LPI_ID_BITS) - GIC_FIRST_LPI] __attribute__((aligned(4096)));
static uint8_t lpi_pending[(1u << LPI_ID_BITS) / 8] __attribute__((aligned(0x10000)));
static uint8_t itt[256] __attribute__((aligned(256)));

static volatile unsigned lpis;

static void irq(uint32_t intid)
{
	if (intid != LPI)
		test_fail("interrupt %u, expected LPI %u", intid, LPI);
	lpis++;
}

/* Waits for the ITS to consume the queue; `what` names the commands for the FAIL line. */
static void expect_queue_empty(const char *what)
{
	uint64_t deadline = timer_deadline(WAIT_US);
	while (!its_queue_empty()) {
		if (timer_passed(deadline))
			test_fail("GITS_CREADR does not reach GITS_CWRITER after %s", what);
		cpu_relax();
	}
}

/* Gives pending interrupts WAIT_US to arrive (IRQs are unmasked), then checks the count. */
static void expect_lpis(unsigned expected, const char *after)
{
	uint64_t deadline = timer_deadline(WAIT_US);
	while (lpis < expected && !timer_passed(deadline))
		cpu_relax();
	if (lpis != expected)
		test_fail("%u LPIs after %s, expected %u", lpis, after, expected);
}

void test_main(uint64_t dtb)
{
	(void)dtb;
	exception_set_irq_handler(irq);
	gic_init_distributor();
	gic_init_cpu(0);
	lpi_properties[LPI - GIC_FIRST_LPI] = GIC_LPI_ENABLED;
	gic_enable_lpis(0, lpi_properties, LPI_ID_BITS, lpi_pending);

	its_init();
	if (its_itt_size(EVENT_BITS) > sizeof(itt))
		test_fail("an ITT of %u events needs %lu bytes", 1u << EVENT_BITS, its_itt_size(EVENT_BITS));
	its_mapc(COLLECTION, 0);
	its_mapd(ITS_CPU_DEVICE, EVENT_BITS, itt);
	its_mapti(ITS_CPU_DEVICE, EVENT, LPI, COLLECTION);
	its_inv(ITS_CPU_DEVICE, EVENT);
	its_sync(0);
	expect_queue_empty("MAPC, MAPD, MAPTI, INV, SYNC");
	test_log("device %u event %u mapped to LPI %u on vCPU 0", ITS_CPU_DEVICE, EVENT, LPI);

	irq_enable();
	its_int(ITS_CPU_DEVICE, EVENT);
	its_sync(0);
	expect_queue_empty("INT, SYNC");
	expect_lpis(1, "INT");
	test_log("LPI %u from INT", LPI);

	its_translate(EVENT);
	expect_lpis(2, "a write to GITS_TRANSLATER");
	test_log("LPI %u from a write of %u to GITS_TRANSLATER", LPI, EVENT);

	uint64_t device_limit = its_device_limit();
	if (device_limit > UINT32_MAX)
		test_fail("GITS_TYPER.Devbits is 32: no DeviceID is out of range");
	uint32_t bad_device = (uint32_t)device_limit;
	its_mapti(bad_device, EVENT, LPI, COLLECTION);
	its_int(bad_device, EVENT);
	its_sync(0);
	expect_queue_empty("MAPTI and INT for an out-of-range device");
	expect_lpis(2, "MAPTI and INT for an out-of-range device");
	test_log("MAPTI and INT for device 0x%x dropped, no interrupt", bad_device);

	its_int(ITS_CPU_DEVICE, EVENT);
	its_sync(0);
	expect_queue_empty("INT, SYNC");
	expect_lpis(3, "a further INT");
	test_log("LPI %u from INT after the dropped commands", LPI);
}
