/*
 * Event channels for the test guests, without interrupts: shared_info in a
 * .bss page, vCPU 0's upcalls masked (evtchn_upcall_mask = 1), and waits
 * done with SCHEDOP_poll on the port, which returns once the port's pending
 * bit is set in the 2-level bitmap (or at the timeout).  Also the pvclock
 * (system time from vcpu_info.time) and the periodic timer.
 */
#include "guest.h"

static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
volatile struct shared_info *xen_shared_info;

uint32_t xen_domid(void)
{
    uint32_t a, b, c, d;

    if (!xen_cpuid_base)
        return DOMID_INVALID;
    cpuid(xen_cpuid_base + 4, 0, &a, &b, &c, &d);
    return (a & XEN_HVM_CPUID_DOMID_PRESENT) ? c : DOMID_INVALID;
}

long evtchn_init(void)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint32_t)shinfo_page >> 12,
    };
    long rc;

    if (xen_shared_info)
        return 0;
    rc = memory_op(XENMEM_add_to_physmap, &xatp);
    if (rc != 0)
        return rc;
    xen_shared_info = (volatile struct shared_info *)shinfo_page;
    /* No upcalls: events are seen only through the pending bits, and
     * SCHEDOP_poll must not return early for "events need delivery". */
    xen_shared_info->vcpu_info[0].evtchn_upcall_mask = 1;
    barrier();
    return 0;
}

/* ---- pvclock ---- */

static inline uint64_t rdtsc64(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* ((delta << shift) * mul) >> 32 with 32-bit multiplies only (no libgcc). */
uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    uint32_t lo, hi;

    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    lo = (uint32_t)delta;
    hi = (uint32_t)(delta >> 32);
    return (((uint64_t)lo * mul) >> 32) + (uint64_t)hi * mul;
}

uint64_t xen_now_ns(void)
{
    volatile struct vcpu_time_info *t;
    uint32_t version;
    uint64_t ns;

    if (!xen_shared_info)
        return 0;
    t = (volatile void *)xen_shared_info->vcpu_info[0].time;
    do {
        version = t->version;
        barrier();
        ns = t->system_time +
             pvclock_scale(rdtsc64() - t->tsc_timestamp, t->tsc_to_system_mul,
                           t->tsc_shift);
        barrier();
    } while ((version & 1) || version != t->version);
    return ns;
}

/* ---- operations ---- */

long evtchn_alloc_unbound(uint16_t remote_dom, uint32_t *port)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF,
                                       .remote_dom = remote_dom };
    long rc = event_channel_op(EVTCHNOP_alloc_unbound, &op);

    if (rc == 0 && port)
        *port = op.port;
    return rc;
}

long evtchn_bind_interdomain(uint16_t remote_dom, uint32_t remote_port,
                             uint32_t *local_port)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote_dom,
                                          .remote_port = remote_port };
    long rc = event_channel_op(EVTCHNOP_bind_interdomain, &op);

    if (rc == 0 && local_port)
        *local_port = op.local_port;
    return rc;
}

long evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu };
    long rc = event_channel_op(EVTCHNOP_bind_virq, &op);

    if (rc == 0 && port)
        *port = op.port;
    return rc;
}

long evtchn_close(uint32_t port)
{
    struct evtchn_close op = { .port = port };

    return event_channel_op(EVTCHNOP_close, &op);
}

long evtchn_status(uint16_t dom, uint32_t port, struct evtchn_status *st)
{
    memset(st, 0, sizeof(*st));
    st->dom = dom;
    st->port = port;
    return event_channel_op(EVTCHNOP_status, st);
}

int evtchn_is_pending(uint32_t port)
{
    if (!xen_shared_info || port >= EVTCHN_2L_NR_CHANNELS_32)
        return 0;
    return (xen_shared_info->evtchn_pending[port / 32] >> (port % 32)) & 1;
}

int evtchn_test_and_clear(uint32_t port)
{
    uint32_t bit = 1u << (port % 32), old;

    if (!xen_shared_info || port >= EVTCHN_2L_NR_CHANNELS_32)
        return 0;
    old = __atomic_fetch_and(&xen_shared_info->evtchn_pending[port / 32], ~bit,
                             __ATOMIC_SEQ_CST);
    return (old & bit) != 0;
}

void evtchn_clear(uint32_t port)
{
    evtchn_test_and_clear(port);
}

long evtchn_poll(uint32_t port, uint64_t timeout_abs_ns)
{
    static uint32_t ports[1];
    struct sched_poll p = { .ports = (uint32_t)ports, .nr_ports = 1,
                            .timeout = timeout_abs_ns };

    ports[0] = port;
    return sched_op(SCHEDOP_poll, &p);
}

int evtchn_wait(uint32_t port, uint64_t timeout_ns)
{
    uint64_t deadline = xen_now_ns() + timeout_ns;

    for (;;) {
        if (evtchn_test_and_clear(port))
            return 1;
        if (xen_now_ns() >= deadline)
            return 0;
        /* Returns when the port is pending, at the deadline, or early
         * (a spurious wake-up is fine: the loop checks again). */
        if (evtchn_poll(port, deadline) < 0)
            sched_yield();
    }
}

void xen_sleep_ns(uint64_t ns)
{
    uint64_t deadline = xen_now_ns() + ns;
    struct sched_poll p = { .ports = 0, .nr_ports = 0 };

    while (xen_now_ns() < deadline) {
        p.timeout = deadline;
        if (sched_op(SCHEDOP_poll, &p) < 0)
            sched_yield();
    }
}

long vcpu_set_periodic_timer(unsigned int vcpu, uint64_t period_ns)
{
    struct vcpu_set_periodic_timer t = { .period_ns = period_ns };

    return vcpu_op(VCPUOP_set_periodic_timer, vcpu, &t);
}

long vcpu_stop_periodic_timer(unsigned int vcpu)
{
    return vcpu_op(VCPUOP_stop_periodic_timer, vcpu, NULL);
}
