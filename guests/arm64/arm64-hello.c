/*
 * arm64-hello: the boot contract and the two ways out of a guest.
 *
 * Checks the entry state (EL1 with SP_EL1, D/A/I/F masked, MMU off, MPIDR_EL1 of vCPU 0, x0
 * pointing at a flattened device tree), prints the Xen version on the UART, writes a line through
 * console_io, and asks PSCI for its version and for two features: CPU_ON (implemented) and
 * SET_SUSPEND_MODE (not implemented by Xen).
 */
#include "cpu.h"
#include "hypercall.h"
#include "psci.h"
#include "test.h"
#include "xen.h"

const char test_name[] = "arm64-hello";

#define RAM_BASE  0x40000000ul
#define FDT_MAGIC 0xd00dfeed	/* big-endian, at offset 0; totalsize at offset 4 */

static void check_entry_state(uint64_t dtb)
{
	uint64_t el = read_sysreg(CurrentEL) >> 2 & 3, spsel = read_sysreg(spsel);
	uint64_t daif = read_sysreg(daif), sctlr = read_sysreg(sctlr_el1), mpidr = read_sysreg(mpidr_el1);
	if (el != 1 || spsel != 1)
		test_fail("entered at EL%lu with SPSel %lu, not EL1h", el, spsel);
	if (daif != 0x3C0)
		test_fail("DAIF is 0x%lx at entry, not 0x3c0 (all masked)", daif);
	if (sctlr & 1)
		test_fail("the MMU is on at entry (SCTLR_EL1 0x%lx)", sctlr);
	if ((mpidr & 0xFFFFFFFFFFul) != MPIDR_RES1)
		test_fail("MPIDR_EL1 of vCPU 0 is 0x%lx, not 0x80000000", mpidr);

	const uint32_t *fdt = (const uint32_t *)dtb;
	if (dtb < RAM_BASE || (dtb & 7) != 0 || __builtin_bswap32(fdt[0]) != FDT_MAGIC)
		test_fail("x0 = 0x%lx at entry does not point at a device tree", dtb);
	test_log("entered at EL1h, device tree at 0x%lx (%u bytes)", dtb, __builtin_bswap32(fdt[1]));
}

void test_main(uint64_t dtb)
{
	check_entry_state(dtb);

	long version = xen_version(XENVER_version, 0);
	if (version < 0)
		test_fail("xen_version(XENVER_version) = %ld", version);
	test_log("hello from AArch64, Xen %lu.%lu", (unsigned long)version >> 16, (unsigned long)version & 0xFFFF);

	static const char line[] = "arm64-hello: hello through console_io\n";
	long rc = xen_console_write(line, sizeof(line) - 1);
	if (rc != 0)
		test_fail("console_io(CONSOLEIO_write) = %ld", rc);

	int32_t psci = psci_call(PSCI_VERSION, 0, 0, 0);
	if (psci != 0x00010001)
		test_fail("PSCI_VERSION = 0x%x, not 0x10001 (1.1)", (unsigned)psci);
	int32_t cpu_on = psci_call(PSCI_FEATURES, PSCI_CPU_ON, 0, 0);
	if (cpu_on != PSCI_SUCCESS)
		test_fail("PSCI_FEATURES(CPU_ON) = %d, not 0", cpu_on);
	int32_t suspend_mode = psci_call(PSCI_FEATURES, PSCI_SET_SUSPEND_MODE, 0, 0);
	if (suspend_mode != PSCI_NOT_SUPPORTED)
		test_fail("PSCI_FEATURES(SET_SUSPEND_MODE) = %d, not -1", suspend_mode);
	test_log("PSCI %d.%d; CPU_ON implemented, SET_SUSPEND_MODE not", psci >> 16, psci & 0xFFFF);
}
