/*
 * Xen hypercalls on arm64: HVC #0xEA1 (XEN_HYPERCALL_TAG), the hypercall number in x16, up to
 * five arguments in x0..x4, the result in x0 (a negative Xen errno on failure). Xen may change
 * x16 and the argument registers, so all are inputs and outputs of the asm. Pointer arguments
 * are guest-physical addresses: these guests run with the MMU off, so a pointer is one.
 */
#ifndef HYPERCALL_H
#define HYPERCALL_H

#include <stdint.h>

#define __HYPERVISOR_memory_op        12
#define __HYPERVISOR_xen_version      17
#define __HYPERVISOR_console_io       18
#define __HYPERVISOR_event_channel_op 32

#define XEN_ENOSYS 38

static inline long xen_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	register uint64_t x16 asm("x16") = nr;
	register uint64_t x0 asm("x0") = a0;
	register uint64_t x1 asm("x1") = a1;
	register uint64_t x2 asm("x2") = a2;
	asm volatile("hvc #0xea1" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x16) : : "memory");
	return (long)x0;
}

static inline long xen_version(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_xen_version, cmd, (uintptr_t)arg, 0);
}

/* CONSOLEIO_write (0): the bytes appear in the hypervisor log (`xl dmesg`) as "(dN) ..." lines. */
static inline long xen_console_write(const char *buf, unsigned long count)
{
	return xen_hypercall(__HYPERVISOR_console_io, 0, count, (uintptr_t)buf);
}

static inline long xen_memory_op(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_memory_op, cmd, (uintptr_t)arg, 0);
}

static inline long xen_event_channel_op(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_event_channel_op, cmd, (uintptr_t)arg, 0);
}

#endif
