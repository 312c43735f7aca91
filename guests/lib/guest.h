/* The tiny runtime shared by the XenSharp test guests. */
#ifndef GUESTS_GUEST_H
#define GUESTS_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "xen.h"

/* Each guest provides this; its return value picks the shutdown reason
 * (0 -> SHUTDOWN_poweroff, anything else -> SHUTDOWN_crash). */
int guest_main(const struct hvm_start_info *si);

/* ---- CPU helpers ---- */
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a,
                         uint32_t *b, uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid"
                 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(subleaf));
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
    asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)val),
                 "d"((uint32_t)(val >> 32)) : "memory");
}

static inline void outb(uint16_t port, uint8_t val)
{
    asm volatile("outb %0, %1" :: "a"(val), "Nd"(port));
}

static inline void cpu_relax(void)
{
    asm volatile("pause" ::: "memory");
}

/* Compiler barrier; on x86 (TSO) it is also a store-store barrier. */
#define barrier() asm volatile("" ::: "memory")

/* ---- Xen interface (xen.c) ---- */
extern uint32_t xen_cpuid_base;    /* 0x40000x00, or 0 when Xen is absent */
extern uint8_t hypercall_page[4096];

/* Finds the Xen CPUID leaves and installs the hypercall page; 0 on success. */
int xen_init(void);

/* Raw hypercall number nr (< 128) through the hypercall page. */
long hypercall(unsigned int nr, unsigned long a1, unsigned long a2,
               unsigned long a3, unsigned long a4, unsigned long a5);

#define HC_ARG(x) ((unsigned long)(x))

static inline long xen_version(int cmd, void *arg)
{
    return hypercall(HC_xen_version, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long console_io(int cmd, unsigned int len, const void *buf)
{
    return hypercall(HC_console_io, cmd, len, HC_ARG(buf), 0, 0);
}
static inline long sched_op(int cmd, void *arg)
{
    return hypercall(HC_sched_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long event_channel_op(int cmd, void *arg)
{
    return hypercall(HC_event_channel_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long hvm_op(int op, void *arg)
{
    return hypercall(HC_hvm_op, op, HC_ARG(arg), 0, 0, 0);
}
static inline long memory_op(int cmd, void *arg)
{
    return hypercall(HC_memory_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
    return hypercall(HC_vcpu_op, cmd, vcpu, HC_ARG(arg), 0, 0);
}

/* HVMOP_{get,set}_param on DOMID_SELF. */
long hvm_get_param(uint32_t index, uint64_t *value);
long hvm_set_param(uint32_t index, uint64_t value);
long evtchn_send(uint32_t port);
void sched_yield(void);
/* SCHEDOP_shutdown; halts if the hypercall returns (or Xen is absent). */
void __attribute__((noreturn)) shutdown(unsigned int reason);
void __attribute__((noreturn)) halt_forever(void);

/* ---- console (console.c) ---- */
#define CONSOLE_HYPERCALL (1u << 0) /* HYPERVISOR_console_io(CONSOLEIO_write) */
#define CONSOLE_RING      (1u << 1) /* PV console ring + event channel */
#define CONSOLE_DEBUGCON  (1u << 2) /* I/O port 0xE9 (fallback without Xen) */

/* Chooses where console output goes; returns the previous mask. */
unsigned int console_select(unsigned int mask);
/* Connects the PV console ring from HVM_PARAM_CONSOLE_{PFN,EVTCHN}. */
int console_ring_init(void);
void console_write(const char *buf, size_t len);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- string.c ---- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
char *strstr(const char *hay, const char *needle);

#endif
