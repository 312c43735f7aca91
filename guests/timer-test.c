/*
 * Checks Xen time for a PVH guest: the pvclock in vcpu_info (struct
 * vcpu_time_info), the wallclock in shared_info, VIRQ_TIMER and the
 * singleshot timer, with SCHEDOP_block waiting for it.  Output, one line per
 * check, as hypercall-test:
 *
 *   PASS <name> / FAIL <name>: ... / INFO <text>
 *   timer-test: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.  Interrupts stay off: the
 * guest sees the timer only through the event-channel pending bit.
 */
#include "guest.h"

#define MS 1000000ull

static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
static volatile struct shared_info *const sh = (volatile void *)shinfo_page;

static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static volatile struct vcpu_time_info *time_info(void)
{
    return (volatile void *)sh->vcpu_info[0].time;
}

/* System time now, read with the version protocol. */
static uint64_t now_ns(void)
{
    volatile struct vcpu_time_info *t = time_info();
    uint32_t version;
    uint64_t ns;

    do {
        version = t->version;
        barrier();
        ns = t->system_time +
             pvclock_scale(read_tsc() - t->tsc_timestamp, t->tsc_to_system_mul, t->tsc_shift);
        barrier();
    } while ((version & 1) || version != t->version);
    return ns;
}

static int port_pending(uint32_t port)
{
    return (sh->evtchn_pending[port / 32] >> (port % 32)) & 1;
}

static void clear_port(uint32_t port)
{
    __atomic_fetch_and(&sh->evtchn_pending[port / 32], ~(1u << (port % 32)), __ATOMIC_SEQ_CST);
    sh->vcpu_info[0].evtchn_pending_sel = 0;
    sh->vcpu_info[0].evtchn_upcall_pending = 0;
}

static long set_timer(uint64_t timeout, uint32_t flags)
{
    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = timeout, .flags = flags };

    return vcpu_op(VCPUOP_set_singleshot_timer, 0, &t);
}

static void spin_until(uint64_t ns)
{
    while (now_ns() < ns)
        cpu_relax();
}

int guest_main(const struct hvm_start_info *si)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint32_t)shinfo_page >> 12,
    };
    struct evtchn_bind_virq bind = { .virq = VIRQ_TIMER, .vcpu = 0, .port = 0 };
    volatile struct vcpu_time_info *t;
    uint64_t t1, t2, start, elapsed, tsc0;
    unsigned int i, blocks;
    long rc;

    (void)si;
    test_guest = "timer-test";
    printf("timer-test: starting\n");
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");

    rc = memory_op(XENMEM_add_to_physmap, &xatp);
    check("shared-info-placed", rc == 0, "got %ld expected 0", rc);
    if (rc != 0)
        return test_summary();

    /* The pvclock. */
    t = time_info();
    printf("INFO vcpu_time_info: version %u tsc_timestamp %llu system_time %llu mul %#x shift %d flags %#x\n",
           t->version, t->tsc_timestamp, t->system_time, t->tsc_to_system_mul, t->tsc_shift, t->flags);
    check("time-version-even", t->version != 0 && (t->version & 1) == 0,
          "got %u expected a nonzero even version", t->version);
    check("time-scale", t->tsc_to_system_mul != 0, "got mul 0 expected nonzero");
    printf("INFO wallclock: wc_version %u wc_sec %u wc_nsec %u\n", sh->wc_version, sh->wc_sec, sh->wc_nsec);
    check("wallclock", (sh->wc_version & 1) == 0 && sh->wc_version != 0 && sh->wc_sec > 1600000000u,
          "got wc_version %u wc_sec %u expected even, nonzero and after 2020", sh->wc_version, sh->wc_sec);

    /* A short busy loop: a few million TSC ticks (no PAUSE, which may exit
     * to the host and make the loop slow). */
    t1 = now_ns();
    for (tsc0 = read_tsc(), i = 0; read_tsc() - tsc0 < 4000000; i++)
        barrier();
    t2 = now_ns();
    printf("INFO system time %llu ns, then %llu ns after a busy loop\n", t1, t2);
    check("time-since-creation", t1 > 0 && t1 < 60000 * MS,
          "got %llu ns expected between 0 and 60 s since the domain was created", t1);
    check("time-advances", t2 > t1, "got %llu then %llu expected an increase", t1, t2);

    /* VIRQ_TIMER and a singleshot timer 20 ms ahead. */
    rc = event_channel_op(EVTCHNOP_bind_virq, &bind);
    check("bind-virq-timer", rc == 0 && bind.port != 0, "got rc %ld port %u expected rc 0 and a port",
          rc, bind.port);
    if (rc != 0 || bind.port == 0)
        return test_summary();
    printf("INFO VIRQ_TIMER is port %u\n", bind.port);
    clear_port(bind.port);

    start = now_ns();
    rc = set_timer(start + 20 * MS, VCPU_SSHOTTMR_future);
    check("set-singleshot-timer", rc == 0, "got %ld expected 0", rc);
    for (blocks = 0; !port_pending(bind.port) && now_ns() - start < 2000 * MS; blocks++)
        sched_op(SCHEDOP_block, NULL);
    elapsed = now_ns() - start;
    printf("INFO woke after %llu ns and %u SCHEDOP_block calls\n", elapsed, blocks);
    check("timer-fired", port_pending(bind.port), "got no VIRQ_TIMER within 2 s");
    check("timer-not-early", elapsed >= 20 * MS, "got %llu ns expected >= 20 ms", elapsed);
    check("timer-not-late", elapsed < 2000 * MS, "got %llu ns expected < 2 s", elapsed);
    clear_port(bind.port);

    /* A timeout in the past with VCPU_SSHOTTMR_future. */
    rc = set_timer(now_ns() - 1 * MS, VCPU_SSHOTTMR_future);
    check("set-timer-past-etime", rc == -XEN_ETIME, "got %ld expected %d", rc, -XEN_ETIME);

    /* A stopped timer never fires. */
    rc = set_timer(now_ns() + 10 * MS, 0);
    check("set-timer-to-stop", rc == 0, "got %ld expected 0", rc);
    rc = vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
    check("stop-singleshot-timer", rc == 0, "got %ld expected 0", rc);
    spin_until(now_ns() + 50 * MS);
    check("stopped-timer-silent", !port_pending(bind.port), "got VIRQ_TIMER pending expected none");

    return test_summary();
}
