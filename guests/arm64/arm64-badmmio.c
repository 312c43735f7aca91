/*
 * arm64-badmmio: an access to guest-physical memory that is neither RAM nor a device.
 *
 * XenSharp's contract (Xen's, too) is a synchronous external abort injected into the guest: a
 * data abort taken at EL1 (ESR_EL1.EC 0x25) with FAR_EL1 = the address. The guest reads and then
 * writes a word in the hole at 0x0A000000 (between the GIC ITS and the PCI ECAM window); its
 * handler checks each abort, prints it and resumes after the faulting instruction.
 */
#include <stdbool.h>
#include "exception.h"
#include "test.h"

const char test_name[] = "arm64-badmmio";

#define HOLE 0x0A000000ul

static volatile unsigned aborts;

static bool data_abort(struct exception_frame *frame, uint64_t esr, uint64_t far)
{
	if (ESR_EC(esr) != ESR_EC_DABT_CUR || far != HOLE || !(esr & ESR_IL))
		return false;	/* not the expected abort: the generic FAIL line */
	test_log("data abort at 0x%08lx ESR=0x%lx", far, esr);
	frame->elr += 4;
	aborts++;
	return true;
}

void test_main(uint64_t dtb)
{
	(void)dtb;
	exception_set_sync_handler(data_abort);

	uint32_t value = 0;
	asm volatile("ldr %w0, [%1]" : "+r"(value) : "r"(HOLE) : "memory");
	if (aborts != 1)
		test_fail("reading 0x%08lx did not abort (read 0x%x)", HOLE, value);

	asm volatile("str %w0, [%1]" : : "r"(0x5A5A5A5Au), "r"(HOLE) : "memory");
	if (aborts != 2)
		test_fail("writing 0x%08lx did not abort", HOLE);
	test_log("both accesses aborted and resumed");
}
