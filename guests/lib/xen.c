/* Xen discovery, hypercall page and small hypercall helpers. */
#include "guest.h"

uint32_t xen_cpuid_base;
uint8_t hypercall_page[4096] __attribute__((aligned(4096)));

static uint32_t find_cpuid_base(void)
{
    uint32_t leaf, a, b, c, d;

    for (leaf = 0x40000000; leaf < 0x40010000; leaf += 0x100) {
        cpuid(leaf, 0, &a, &b, &c, &d);
        if (b == XEN_CPUID_SIG_EBX && c == XEN_CPUID_SIG_ECX &&
            d == XEN_CPUID_SIG_EDX && a >= leaf + 2)
            return leaf;
    }
    return 0;
}

int xen_init(void)
{
    uint32_t a, msr, c, d;

    xen_cpuid_base = find_cpuid_base();
    if (!xen_cpuid_base) {
        console_select(CONSOLE_DEBUGCON);
        return -1;
    }

    /* Leaf base+2: EBX is the MSR that makes Xen fill in the hypercall
     * page at the written guest-physical address (paging is off, so the
     * linear address is the physical one). */
    cpuid(xen_cpuid_base + 2, 0, &a, &msr, &c, &d);
    wrmsr(msr, (uint32_t)hypercall_page);

    console_select(CONSOLE_HYPERCALL);
    if (console_ring_init() == 0)
        console_select(CONSOLE_HYPERCALL | CONSOLE_RING);
    return 0;
}

/*
 * 32-bit hypercall convention: number selects the 32-byte stub in the
 * hypercall page, arguments in ebx, ecx, edx, esi, edi, result in eax.
 * Xen may clobber the argument registers, so all are outputs.
 */
long hypercall(unsigned int nr, unsigned long a1, unsigned long a2,
               unsigned long a3, unsigned long a4, unsigned long a5)
{
    unsigned long entry = (unsigned long)hypercall_page + (nr & 127) * 32;
    long ret;

    asm volatile("call *%[entry]"
                 : "=a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
                 : [entry] "m"(entry)
                 : "memory");
    return ret;
}

long hvm_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    long rc = hvm_op(HVMOP_get_param, &p);

    if (rc == 0)
        *value = p.value;
    return rc;
}

long hvm_set_param(uint32_t index, uint64_t value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index,
                               .value = value };

    return hvm_op(HVMOP_set_param, &p);
}

long evtchn_send(uint32_t port)
{
    struct evtchn_send s = { .port = port };

    return event_channel_op(EVTCHNOP_send, &s);
}

void sched_yield(void)
{
    sched_op(SCHEDOP_yield, NULL);
}

void halt_forever(void)
{
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

void shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };

    if (xen_cpuid_base)
        sched_op(SCHEDOP_shutdown, &s);
    halt_forever();
}
