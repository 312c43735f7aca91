/*
 * Checks the FIFO event-channel ABI (event_channel.h, "FIFO ABI") from
 * inside a guest, consuming events as Linux's events_fifo.c does (see
 * lib/fifo.c), with upcalls masked: the guest looks at the queues itself and
 * waits with SCHEDOP_poll.
 *
 * Options: mode=fifo (default) or mode=limit.
 *
 * mode=fifo (the domain needs max_event_channels >= 1025 for the
 * beyond-the-first-page check; with less it prints SKIP):
 *   - init_control for vCPU 0 (control block in a page of its own) returns
 *     link_bits 17; a second one, a missing vCPU and bad offsets give errors;
 *     set_priority before it gives -ENOSYS (2-level ABI).
 *   - expand_array with one page, pre-filled with MASKED words as Linux does;
 *     the words must stay as the guest wrote them (Xen does not write the
 *     page; it only sets PENDING of ports raised while they had no word).  Every port the guest binds is then unmasked as Linux does.
 *   - a loopback channel (alloc_unbound for DOMID_SELF + bind_interdomain):
 *     the bound end is pending at once; a send links the other end on queue
 *     7 (head[7], ready bit 7, evtchn_upcall_pending); SCHEDOP_poll returns
 *     for a FIFO-pending port.
 *   - three events sent in order z, x, y form the LINK chain z -> x -> y and
 *     are consumed in that order.
 *   - a port at priority 2 is consumed before default-priority ones sent
 *     earlier; priority 16 gives -EINVAL.
 *   - a masked port is marked PENDING but not linked; EVTCHNOP_unmask links
 *     it.
 *   - VIRQ_TIMER (singleshot timer 20 ms ahead, waited for with
 *     SCHEDOP_poll on its port) and an IPI port arrive through the queue.
 *   - a port >= 1024 has no event word: its events are not linked until a
 *     second expand_array, then they are.
 *   - EVTCHNOP_reset returns to the 2-level ABI: a new loopback channel's
 *     events show in shared_info's pending bitmap, not in the old event
 *     array; init_control works again afterwards.
 *
 * mode=limit (xl.cfg max_event_channels = 16): alloc_unbound succeeds up to
 * port 16 and then gives -ENOSPC, also for bind_ipi/bind_virq and also after
 * switching to the FIFO ABI; a closed port is reused.
 *
 * Output as timer-test's, ending "fifo-test: <P> passed, <F> failed"; then
 * SHUTDOWN_poweroff if F == 0, otherwise SHUTDOWN_crash.
 */
#include "guest.h"

#define MS 1000000ull
#define MAX_EVENTS 16
#define STEPS 256            /* consume_one_event steps per fifo_consume() */

static uint8_t control_page[4096] __attribute__((aligned(4096)));
static uint8_t array_page0[4096] __attribute__((aligned(4096)));
static uint8_t array_page1[4096] __attribute__((aligned(4096)));

static struct fifo_event ev[MAX_EVENTS];
static unsigned int nev;

static void check_rc(const char *name, long got, long want)
{
    check(name, got == want, "got %ld expected %ld", got, want);
}

/* "p/q p/q ..." of the last consume. */
static const char *events_str(void)
{
    static char buf[160];
    unsigned int i, n = 0;

    buf[0] = '\0';
    for (i = 0; i < nev && i < MAX_EVENTS && n < sizeof(buf) - 16; i++)
        n += snprintf(buf + n, sizeof(buf) - n, "%s%u/%u", i ? " " : "",
                      ev[i].port, ev[i].priority);
    if (nev == 0)
        snprintf(buf, sizeof(buf), "(none)");
    return buf;
}

static unsigned int consume(void)
{
    nev = fifo_consume(ev, MAX_EVENTS, STEPS);
    return nev;
}

/* Whether the last consume gave exactly these (port, priority) pairs. */
static int consumed(unsigned int n, const uint32_t *ports, const uint32_t *prios)
{
    unsigned int i;

    if (nev != n)
        return 0;
    for (i = 0; i < n; i++)
        if (ev[i].port != ports[i] || ev[i].priority != prios[i])
            return 0;
    return 1;
}

/* Consumes whatever is queued; reports it unless it was expected to be empty. */
static void drain(const char *why)
{
    if (consume())
        printf("INFO drained %s: %s\n", why, events_str());
}

static uint32_t word(uint32_t port)
{
    volatile uint32_t *w = fifo_word(port);

    return w ? *w : 0xFFFFFFFFu;
}

static void clear_upcall_pending(void)
{
    xen_shared_info->vcpu_info[0].evtchn_upcall_pending = 0;
    barrier();
}

/* A loopback channel: *a offered to ourselves, *b bound to it. */
static long loopback(uint32_t *a, uint32_t *b)
{
    long rc = evtchn_alloc_unbound(DOMID_SELF, a);

    if (rc == 0)
        rc = evtchn_bind_interdomain(DOMID_SELF, *a, b);
    return rc;
}

static void fill_masked(uint8_t *page)
{
    uint32_t *w = (uint32_t *)page;
    unsigned int i;

    for (i = 0; i < EVTCHN_FIFO_WORDS_PER_PAGE; i++)
        w[i] = FIFO_BIT(MASKED);
    barrier();
}

/* ---------------------------------------------------------------- mode=fifo */

static int fifo_mode(void)
{
    volatile struct evtchn_fifo_control_block *cb;
    uint32_t a = 0, b = 0, c1 = 0, c2 = 0, d1 = 0, d2 = 0, t = 0, ipi = 0;
    uint32_t u = 0, l = 0, p, ports[4], prios[4], w, changed, allocated;
    uint64_t start, elapsed;
    unsigned int i, polls;
    uint8_t link_bits = 0;
    long rc;

    /* 2-level ABI: set_priority does not exist (Xen: -ENOSYS for a valid port). */
    check_rc("set-priority-2level-enosys", fifo_set_priority(1, 3), -XEN_ENOSYS);
    rc = fifo_expand_array(array_page0);
    printf("INFO expand_array before init_control: %ld (Xen: -EOPNOTSUPP, -95)\n", rc);
    check("expand-array-before-init-fails", rc < 0, "got %ld expected an error", rc);

    /* init_control: errors first, then the real one. */
    check_rc("init-control-no-vcpu-enoent",
             fifo_init_control(control_page, 0, 1, NULL), -XEN_ENOENT);
    check_rc("init-control-misaligned-einval",
             fifo_init_control(control_page, 4, 0, NULL), -XEN_EINVAL);
    check_rc("init-control-crosses-page-einval",
             fifo_init_control(control_page, 4096 - 64, 0, NULL), -XEN_EINVAL);
    memset(control_page, 0, sizeof(control_page));
    rc = fifo_init_control(control_page, 0, 0, &link_bits);
    check_rc("init-control", rc, 0);
    if (rc != 0)
        return test_summary();
    check("init-control-link-bits-17", link_bits == EVTCHN_FIFO_LINK_BITS,
          "got %u expected %u", link_bits, EVTCHN_FIFO_LINK_BITS);
    check_rc("init-control-twice-einval",
             fifo_init_control(control_page, 0, 0, NULL), -XEN_EINVAL);
    cb = fifo_control;

    /* One event-array page, every word MASKED first (Linux's init_array_page). */
    fill_masked(array_page0);
    rc = fifo_expand_array(array_page0);
    check_rc("expand-array", rc, 0);
    if (rc != 0)
        return test_summary();
    /* Xen does not write the page, except that it sets PENDING on a port
     * raised while it had no word (the console's, say): nothing unmasked,
     * nothing linked. */
    for (i = 0, changed = 0, p = 0; i < EVTCHN_FIFO_WORDS_PER_PAGE; i++)
        if ((((uint32_t *)array_page0)[i] & ~FIFO_BIT(PENDING)) != FIFO_BIT(MASKED) && changed++ == 0)
            p = i;
    check("expand-array-keeps-guest-words", changed == 0,
          "got %u of 1024 words changed (word %u = %#x) expected the page as the "
          "guest wrote it (MASKED; PENDING may be added)", changed, p,
          ((uint32_t *)array_page0)[p]);
    /* Whatever happened, every port is masked from here on, as Linux has it. */
    for (i = 0; i < EVTCHN_FIFO_WORDS_PER_PAGE; i++)
        fifo_mask(i);
    drain("after expand_array");

    /* (1) A loopback channel. */
    rc = loopback(&a, &b);
    check("loopback-bind", rc == 0 && a && b && a != b, "got rc %ld ports %u %u", rc, a, b);
    if (rc != 0)
        return test_summary();
    printf("INFO loopback ports %u (unbound end) and %u (bound end)\n", a, b);
    check("bound-end-pending-masked", (word(b) & (FIFO_BIT(PENDING) | FIFO_BIT(LINKED))) == FIFO_BIT(PENDING),
          "got word %#x expected PENDING and not LINKED (masked)", word(b));
    fifo_unmask(a);
    fifo_unmask(b);
    consume();
    ports[0] = b; prios[0] = 7;
    check("bound-end-linked-by-unmask", consumed(1, ports, prios),
          "got %s expected %u/7", events_str(), b);

    clear_upcall_pending();
    check("queues-empty", cb->ready == 0, "got ready %#x expected 0", cb->ready);
    check_rc("send", evtchn_send(b), 0);
    w = word(a);
    check("send-pending-linked", (w & (FIFO_BIT(PENDING) | FIFO_BIT(LINKED) | FIFO_BIT(MASKED))) ==
                                     (FIFO_BIT(PENDING) | FIFO_BIT(LINKED)) && (w & EVTCHN_FIFO_LINK_MASK) == 0,
          "got word %#x expected PENDING|LINKED, LINK 0", w);
    check("send-head-queue7", cb->head[7] == a, "got head[7] %u expected %u", cb->head[7], a);
    check("send-ready-bit7", cb->ready == 1u << 7, "got ready %#x expected %#x", cb->ready, 1u << 7);
    check("send-upcall-pending", xen_shared_info->vcpu_info[0].evtchn_upcall_pending == 1,
          "got evtchn_upcall_pending %u expected 1", xen_shared_info->vcpu_info[0].evtchn_upcall_pending);
    consume();
    ports[0] = a;
    check("send-consumed", consumed(1, ports, prios), "got %s expected %u/7", events_str(), a);
    check("consumed-word-clear", (word(a) & (FIFO_BIT(PENDING) | FIFO_BIT(LINKED) | EVTCHN_FIFO_LINK_MASK)) == 0,
          "got word %#x expected PENDING, LINKED and LINK clear", word(a));

    /* SCHEDOP_poll must see the FIFO pending state. */
    evtchn_send(b);
    start = xen_now_ns();
    rc = evtchn_poll(a, start + 2000 * MS);
    elapsed = xen_now_ns() - start;
    check("poll-fifo-pending-returns", rc == 0 && elapsed < 1000 * MS,
          "got rc %ld after %llu ns expected 0 at once (the port is pending)", rc, elapsed);
    consume();
    check("poll-event-consumed", consumed(1, ports, prios), "got %s expected %u/7", events_str(), a);

    /* (2) Three events in order z, x, y: a LINK chain in that order. */
    rc = loopback(&c1, &c2);
    if (rc == 0)
        rc = loopback(&d1, &d2);
    check("more-loopbacks", rc == 0, "got rc %ld", rc);
    if (rc != 0)
        return test_summary();
    fifo_unmask(c1); fifo_unmask(c2); fifo_unmask(d1); fifo_unmask(d2);
    drain("the new channels' bind events");
    printf("INFO loopback ports %u<-%u and %u<-%u\n", c1, c2, d1, d2);
    evtchn_send(d2);   /* d1: the highest port first */
    evtchn_send(b);    /* a */
    evtchn_send(c2);   /* c1 */
    check("chain-head", cb->head[7] == d1, "got head[7] %u expected %u", cb->head[7], d1);
    check("chain-links", (word(d1) & EVTCHN_FIFO_LINK_MASK) == a && (word(a) & EVTCHN_FIFO_LINK_MASK) == c1 &&
                         (word(c1) & EVTCHN_FIFO_LINK_MASK) == 0,
          "got words %u:%#x %u:%#x %u:%#x expected links %u -> %u -> %u -> 0",
          d1, word(d1), a, word(a), c1, word(c1), d1, a, c1);
    check("chain-ready", cb->ready == 1u << 7, "got ready %#x expected %#x", cb->ready, 1u << 7);
    consume();
    ports[0] = d1; ports[1] = a; ports[2] = c1;
    prios[0] = prios[1] = prios[2] = 7;
    check("chain-consumed-in-order", consumed(3, ports, prios), "got %s expected %u/7 %u/7 %u/7",
          events_str(), d1, a, c1);

    /* (3) Priority 2 before the default priority, though sent last. */
    check_rc("set-priority", fifo_set_priority(c1, 2), 0);
    check_rc("set-priority-16-einval", fifo_set_priority(c1, 16), -XEN_EINVAL);
    evtchn_send(b);    /* a */
    evtchn_send(d2);   /* d1 */
    evtchn_send(c2);   /* c1, priority 2 */
    check("priority-ready", cb->ready == ((1u << 7) | (1u << 2)), "got ready %#x expected %#x",
          cb->ready, (1u << 7) | (1u << 2));
    check("priority-head2", cb->head[2] == c1, "got head[2] %u expected %u", cb->head[2], c1);
    consume();
    ports[0] = c1; ports[1] = a; ports[2] = d1;
    prios[0] = 2; prios[1] = prios[2] = 7;
    check("priority-consumed-first", consumed(3, ports, prios), "got %s expected %u/2 %u/7 %u/7",
          events_str(), c1, a, d1);
    fifo_set_priority(c1, EVTCHN_FIFO_PRIORITY_DEFAULT);

    /* (4) A masked event is pending but not linked until EVTCHNOP_unmask. */
    fifo_mask(a);
    evtchn_send(b);
    w = word(a);
    check("masked-pending-not-linked", (w & (FIFO_BIT(PENDING) | FIFO_BIT(LINKED))) == FIFO_BIT(PENDING),
          "got word %#x expected PENDING|MASKED without LINKED", w);
    check("masked-not-ready", cb->ready == 0, "got ready %#x expected 0", cb->ready);
    consume();
    check("masked-not-consumed", nev == 0, "got %s expected none", events_str());
    check_rc("unmask", evtchn_unmask_op(a), 0);
    w = word(a);
    check("unmask-links", (w & (FIFO_BIT(PENDING) | FIFO_BIT(LINKED) | FIFO_BIT(MASKED))) ==
                              (FIFO_BIT(PENDING) | FIFO_BIT(LINKED)) && cb->ready == 1u << 7,
          "got word %#x ready %#x expected PENDING|LINKED, ready %#x", w, cb->ready, 1u << 7);
    consume();
    ports[0] = a; prios[0] = 7;
    check("unmask-consumed", consumed(1, ports, prios), "got %s expected %u/7", events_str(), a);

    /* (5) VIRQ_TIMER through the queue, waited for with SCHEDOP_poll. */
    rc = evtchn_bind_virq(VIRQ_TIMER, 0, &t);
    check("bind-virq-timer", rc == 0 && t != 0, "got rc %ld port %u", rc, t);
    if (rc == 0) {
        struct vcpu_set_singleshot_timer st;

        fifo_unmask(t);
        drain("after binding VIRQ_TIMER");
        start = xen_now_ns();
        st.timeout_abs_ns = start + 20 * MS;
        st.flags = VCPU_SSHOTTMR_future;
        rc = vcpu_op(VCPUOP_set_singleshot_timer, 0, &st);
        check_rc("set-singleshot-timer", rc, 0);
        for (polls = 0; !(word(t) & FIFO_BIT(PENDING)) && xen_now_ns() - start < 2000 * MS && polls < 1000; polls++)
            if (evtchn_poll(t, start + 2000 * MS) < 0)
                sched_yield();
        elapsed = xen_now_ns() - start;
        printf("INFO VIRQ_TIMER (port %u) after %llu ns and %u polls, word %#x ready %#x\n",
               t, elapsed, polls, word(t), cb->ready);
        check("virq-timer-pending", (word(t) & FIFO_BIT(PENDING)) != 0, "got word %#x after %llu ns",
              word(t), elapsed);
        check("virq-timer-not-early", elapsed >= 20 * MS, "got %llu ns expected >= 20 ms", elapsed);
        check("virq-timer-poll-wakes", elapsed < 1000 * MS,
              "got %llu ns expected well under the 2 s poll timeout", elapsed);
        consume();
        ports[0] = t;
        check("virq-timer-consumed", consumed(1, ports, prios), "got %s expected %u/7", events_str(), t);
    }

    /* (6) An IPI port. */
    rc = evtchn_bind_ipi(0, &ipi);
    check("bind-ipi", rc == 0 && ipi != 0, "got rc %ld port %u", rc, ipi);
    if (rc == 0) {
        fifo_unmask(ipi);
        drain("after binding the IPI");
        check_rc("ipi-send", evtchn_send(ipi), 0);
        consume();
        ports[0] = ipi;
        check("ipi-consumed", consumed(1, ports, prios), "got %s expected %u/7", events_str(), ipi);
    }

    /* (7) A port beyond the first event-array page. */
    for (allocated = 0, p = 0, rc = 0; allocated < 1100; allocated++) {
        rc = evtchn_alloc_unbound(DOMID_SELF, &p);
        if (rc != 0 || p >= EVTCHN_FIFO_WORDS_PER_PAGE)
            break;
    }
    printf("INFO %u alloc_unbound calls, last rc %ld port %u\n", allocated + 1, rc, p);
    if (rc != 0 || p < EVTCHN_FIFO_WORDS_PER_PAGE ||
        evtchn_bind_interdomain(DOMID_SELF, p, &l) != 0) {
        skip("second-array-page", "no port >= 1024 (max_event_channels under 1025?)");
    } else {
        u = p;
        printf("INFO loopback ports %u and %u beyond the first page\n", u, l);
        check_rc("high-port-send", evtchn_send(l), 0);   /* raises u; l is pending from the bind */
        check("high-port-invisible-before-expand", cb->ready == 0, "got ready %#x expected 0", cb->ready);
        consume();
        check("high-port-not-consumed-before-expand", nev == 0, "got %s expected none", events_str());
        fill_masked(array_page1);
        rc = fifo_expand_array(array_page1);
        check_rc("expand-array-second-page", rc, 0);
        if (rc == 0) {
            w = word(u);
            printf("INFO after expand_array: word %u = %#x, word %u = %#x, ready %#x\n",
                   u, w, l, word(l), cb->ready);
            fifo_mask(u); fifo_mask(l);       /* as Linux's init_array_page left them */
            check("high-ports-pending-after-expand", (word(u) & FIFO_BIT(PENDING)) && (word(l) & FIFO_BIT(PENDING)),
                  "got words %#x %#x expected both PENDING", word(u), word(l));
            fifo_unmask(u);
            fifo_unmask(l);
            consume();
            ports[0] = u; ports[1] = l;
            prios[0] = prios[1] = 7;
            check("high-ports-consumed-after-expand", consumed(2, ports, prios),
                  "got %s expected %u/7 %u/7", events_str(), u, l);
            evtchn_send(u);
            consume();
            ports[0] = l;
            check("high-port-event", consumed(1, ports, prios), "got %s expected %u/7", events_str(), l);
        }
    }

    /* (8) EVTCHNOP_reset: back to the 2-level ABI. */
    drain("before EVTCHNOP_reset");
    rc = evtchn_reset_self();
    check_rc("reset", rc, 0);
    if (rc != 0)
        return test_summary();
    fifo_forget();
    for (i = 0; i < 32; i++) {
        xen_shared_info->evtchn_pending[i] = 0;
        xen_shared_info->evtchn_mask[i] = 0;
    }
    rc = loopback(&a, &b);
    check("reset-loopback", rc == 0, "got rc %ld", rc);
    if (rc == 0) {
        printf("INFO after reset: loopback ports %u and %u\n", a, b);
        check("reset-2level-bind-pending", evtchn_is_pending(b), "got port %u not pending in the 2-level bitmap", b);
        evtchn_clear(b);
        evtchn_send(b);
        check("reset-2level-send-pending", evtchn_is_pending(a), "got port %u not pending in the 2-level bitmap", a);
        check("reset-fifo-array-untouched", (((uint32_t *)array_page0)[a] & FIFO_BIT(PENDING)) == 0 &&
                                            ((volatile struct evtchn_fifo_control_block *)control_page)->ready == 0,
              "got word %#x ready %#x expected no FIFO activity", ((uint32_t *)array_page0)[a],
              ((volatile struct evtchn_fifo_control_block *)control_page)->ready);
        start = xen_now_ns();
        rc = evtchn_poll(a, start + 2000 * MS);
        elapsed = xen_now_ns() - start;
        check("reset-2level-poll", rc == 0 && elapsed < 1000 * MS, "got rc %ld after %llu ns", rc, elapsed);
        evtchn_clear(a);
    }
    memset(control_page, 0, sizeof(control_page));
    check_rc("init-control-after-reset", fifo_init_control(control_page, 0, 0, NULL), 0);
    return test_summary();
}

/* --------------------------------------------------------------- mode=limit */

static int limit_mode(void)
{
    uint32_t p = 0, last = 0, ipi = 0, n;
    long rc = 0;

    for (n = 0; n < 64; n++) {
        rc = evtchn_alloc_unbound(DOMID_SELF, &p);
        if (rc != 0)
            break;
        last = p;
    }
    printf("INFO %u ports allocated, the last %u, then rc %ld\n", n, last, rc);
    check("limit-last-port-16", last == 16, "got last port %u expected 16", last);
    check_rc("limit-enospc", rc, -XEN_ENOSPC);
    check_rc("limit-close", evtchn_close(16), 0);
    rc = evtchn_alloc_unbound(DOMID_SELF, &p);
    check("limit-realloc-16", rc == 0 && p == 16, "got rc %ld port %u expected port 16", rc, p);
    check_rc("limit-enospc-again", evtchn_alloc_unbound(DOMID_SELF, &p), -XEN_ENOSPC);
    check_rc("limit-ipi-enospc", evtchn_bind_ipi(0, &p), -XEN_ENOSPC);
    check_rc("limit-virq-enospc", evtchn_bind_virq(VIRQ_TIMER, 0, &p), -XEN_ENOSPC);

    /* The same limit under the FIFO ABI, which could address 131072 ports. */
    memset(control_page, 0, sizeof(control_page));
    check_rc("limit-init-control", fifo_init_control(control_page, 0, 0, NULL), 0);
    fill_masked(array_page0);
    check_rc("limit-expand-array", fifo_expand_array(array_page0), 0);
    for (n = 0; n < EVTCHN_FIFO_WORDS_PER_PAGE; n++)   /* see expand-array-keeps-guest-words */
        fifo_mask(n);
    drain("after expand_array");
    check_rc("limit-fifo-enospc", evtchn_alloc_unbound(DOMID_SELF, &p), -XEN_ENOSPC);
    evtchn_close(16);
    rc = evtchn_bind_ipi(0, &ipi);
    check("limit-fifo-ipi-port-16", rc == 0 && ipi == 16, "got rc %ld port %u expected port 16", rc, ipi);
    if (rc == 0) {
        fifo_unmask(ipi);
        drain("after binding the IPI");
        evtchn_send(ipi);
        consume();
        check("limit-fifo-ipi-event", nev == 1 && ev[0].port == ipi, "got %s expected %u/7",
              events_str(), ipi);
    }
    check_rc("limit-fifo-enospc-again", evtchn_bind_ipi(0, &p), -XEN_ENOSPC);
    return test_summary();
}

int guest_main(const struct hvm_start_info *si)
{
    char mode[16];
    long rc;

    cmdline_init(si);
    test_guest = "fifo-test";
    if (cmdline_str("mode", mode, sizeof(mode)) < 0)
        memcpy(mode, "fifo", 5);
    printf("fifo-test: starting, mode=%s\n", mode);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    rc = evtchn_init();
    check_rc("shared-info-placed", rc, 0);
    if (rc != 0)
        return test_summary();
    if (strcmp(mode, "limit") == 0)
        return limit_mode();
    if (strcmp(mode, "fifo") != 0)
        test_abort("unknown mode=%s (fifo or limit)", mode);
    return fifo_mode();
}
