/*
 * PSCI 1.1 (Arm DEN 0022) through the SMC Calling Convention's HVC conduit, as Xen offers it to
 * guests: HVC #0 with the function id in x0 and arguments in x1..x3; the result comes back in x0
 * (a signed 32-bit status for every call used here). The hypervisor may change x4..x17
 * (SMCCC 1.0), so the wrapper declares them clobbered.
 *
 * 0x84... ids are SMC32 calls, 0xC4... their SMC64 forms (64-bit addresses).
 */
#ifndef PSCI_H
#define PSCI_H

#include <stdint.h>
#include <stdnoreturn.h>

#define PSCI_VERSION         0x84000000u
#define PSCI_CPU_OFF         0x84000002u
#define PSCI_CPU_ON          0xC4000003u
#define PSCI_AFFINITY_INFO   0xC4000004u
#define PSCI_SYSTEM_OFF      0x84000008u
#define PSCI_FEATURES        0x8400000Au
#define PSCI_SET_SUSPEND_MODE 0x8400000Fu	/* optional; Xen does not implement it */

#define PSCI_SUCCESS            0
#define PSCI_NOT_SUPPORTED      -1
#define PSCI_INVALID_PARAMETERS -2
#define PSCI_ALREADY_ON         -4

/* AFFINITY_INFO results */
#define PSCI_AFFINITY_ON  0
#define PSCI_AFFINITY_OFF 1

/*
 * Where CPU_ON should start a vCPU: start.S's secondary_entry gives it its own stack and the
 * vectors, then calls secondary_main(context), which a guest that starts vCPUs defines.
 */
void secondary_entry(void);
void secondary_main(uint64_t context);

static inline int32_t psci_call(uint32_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 asm("x0") = fn;
	register uint64_t x1 asm("x1") = a1;
	register uint64_t x2 asm("x2") = a2;
	register uint64_t x3 asm("x3") = a3;
	asm volatile("hvc #0"
		     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
		     :
		     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
		       "x16", "x17", "memory");
	return (int32_t)x0;
}

/* Starts the vCPU with MPIDR affinity `target` at physical `entry` with x0 = `context`. */
static inline int32_t psci_cpu_on(uint64_t target, void (*entry)(void), uint64_t context)
{
	return psci_call(PSCI_CPU_ON, target, (uint64_t)entry, context);
}

/* ON / OFF (or ON_PENDING) of the vCPU with MPIDR affinity `target` (lowest affinity level 0). */
static inline int32_t psci_affinity_info(uint64_t target)
{
	return psci_call(PSCI_AFFINITY_INFO, target, 0, 0);
}

static inline noreturn void psci_cpu_off(void)
{
	psci_call(PSCI_CPU_OFF, 0, 0, 0);
	for (;;)
		asm volatile("wfi");
}

static inline noreturn void psci_system_off(void)
{
	psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (;;)
		asm volatile("wfi");
}

#endif
