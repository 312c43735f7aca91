/*
 * Two domains of this image exchange events over an interdomain event
 * channel.  The command line picks the role and the number of round trips:
 *
 *   cmdline = "role=pong"                  (the side that offers the port)
 *   cmdline = "role=ping rounds=10000"     (the side that binds and starts)
 *
 * Options: role=ping|pong, rounds=<n> (default 1000; both sides must agree),
 * wait-ms=<n> (how long to wait for one event, default 10000) and
 * start-ms=<n> (how long to wait for the peer to show up, default 60000).
 *
 * The peers meet as split drivers do.  The toolstack writes each domain's
 * peer id into /local/domain/<id>/data/peer before unpausing them.  pong
 * allocates an unbound port for the peer (EVTCHNOP_alloc_unbound) and
 * publishes it in its own data/port, readable by the peer (set_perms
 * "n<self>" "r<peer>"); it also publishes data/port-other, a port offered
 * to domain 0.  ping reads them (retrying until they appear), binds the
 * first with EVTCHNOP_bind_interdomain and sends; each side waits for its
 * port with SCHEDOP_poll (upcalls masked), clears the pending bit and, for
 * pong, replies.  The exchange is strictly alternating, so every event is
 * accounted for: ping checks that its port is never pending before it
 * sends, both sides that poll never returns without the port pending, and
 * that nothing more arrives at the end.  Output lines as timer-test's:
 *
 *   PASS <name> / FAIL <name>: ... / INFO <text>
 *   INFO received=<n>
 *   INFO pingpong rounds=<n> ns=<elapsed>          (ping only)
 *   evtchn-pingpong: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.
 */
#include "guest.h"

#define MS 1000000ull

static uint32_t self, peer, rounds;
static uint64_t wait_ns, start_ns;
static uint32_t wait_ms, start_ms;
static unsigned int spurious;      /* polls that returned early, port idle */

static void check_rc(const char *name, long got, long want)
{
    check(name, got == want, "got %ld expected %ld", got, want);
}

static unsigned long parse_u(const char *s, int *ok)
{
    unsigned long v = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    *ok = p != s && *p == '\0';
    return v;
}

/* Reads a decimal XenStore node, retrying (ENOENT/EACCES: not yet written,
 * or not yet readable) until start_ns have passed; -errno on failure. */
static long read_number(const char *path, uint32_t *out)
{
    uint64_t deadline = xen_now_ns() + start_ns;
    char buf[32];
    int rc, ok;

    for (;;) {
        rc = xs_read(path, buf, sizeof(buf));
        if (rc >= 0) {
            unsigned long v = parse_u(buf, &ok);

            if (!ok)
                return -XEN_EINVAL;
            *out = v;
            return 0;
        }
        if ((rc != -XEN_ENOENT && rc != -XEN_EACCES) || xen_now_ns() > deadline)
            return rc;
        xen_sleep_ns(10 * MS);
    }
}

/* Writes a node under data/ that only the peer (and we) may read. */
static int publish(const char *path, uint32_t value)
{
    char owner[16], reader[16], val[16];
    const char *perms[2] = { owner, reader };
    int rc;

    snprintf(val, sizeof(val), "%u", value);
    snprintf(owner, sizeof(owner), "n%u", self);
    snprintf(reader, sizeof(reader), "r%u", peer);
    rc = xs_write(path, val);
    if (rc == 0)
        rc = xs_set_perms(path, perms, 2);
    return rc;
}

/* Waits for port; counts polls that come back with the port idle before
 * the deadline.  1 when the event came (and is cleared), 0 on timeout. */
static int wait_event(uint32_t port, uint64_t timeout)
{
    uint64_t deadline = xen_now_ns() + timeout;

    for (;;) {
        if (evtchn_test_and_clear(port))
            return 1;
        if (xen_now_ns() >= deadline)
            return 0;
        if (evtchn_poll(port, deadline) < 0) {
            sched_yield();
            continue;
        }
        if (!evtchn_is_pending(port) && xen_now_ns() < deadline)
            spurious++;
    }
}

static void check_status(const char *name, uint32_t port, uint32_t want_status,
                         int check_port, uint32_t want_port)
{
    struct evtchn_status st;
    long rc = evtchn_status(DOMID_SELF, port, &st);
    uint32_t dom = want_status == EVTCHNSTAT_unbound ? st.u.unbound.dom
                                                     : st.u.interdomain.dom;

    printf("INFO status of port %u: rc %ld status %u vcpu %u dom %u port %u\n",
           port, rc, st.status, st.vcpu, dom, st.u.interdomain.port);
    check(name, rc == 0 && st.status == want_status && dom == peer &&
          (!check_port || st.u.interdomain.port == want_port),
          "got rc %ld status %u dom %u port %u expected rc 0 status %u dom %u%s",
          rc, st.status, dom, st.u.interdomain.port, want_status, peer,
          check_port ? " and the peer's port" : "");
}

/* Errors that don't need the peer's cooperation. */
static void local_errors(void)
{
    struct evtchn_alloc_unbound au = { .dom = peer, .remote_dom = self };
    uint32_t port = 0;
    long rc;

    rc = event_channel_op(EVTCHNOP_alloc_unbound, &au);
    check("alloc-unbound-in-peer-eperm", rc == -XEN_EPERM,
          "got %ld expected %d (a domU may not allocate in another domain)",
          rc, -XEN_EPERM);
    au.dom = 0x7FE0;            /* no such domain */
    rc = event_channel_op(EVTCHNOP_alloc_unbound, &au);
    check_rc("alloc-unbound-no-domain-esrch", rc, -XEN_ESRCH);

    rc = evtchn_alloc_unbound(peer, &port);
    check("alloc-unbound-spare", rc == 0 && port != 0, "got rc %ld port %u",
          rc, port);
    if (rc == 0) {
        check_rc("close-unbound", evtchn_close(port), 0);
        check_rc("send-closed-port-einval", evtchn_send(port), -XEN_EINVAL);
        check_rc("close-closed-port-einval", evtchn_close(port), -XEN_EINVAL);
    }
    check_rc("send-port-out-of-range-einval", evtchn_send(100000), -XEN_EINVAL);
}

static uint32_t run_pong(void)
{
    uint32_t port = 0, other = 0, received = 0, i;
    int got;
    long rc;

    rc = evtchn_alloc_unbound(peer, &port);
    check("alloc-unbound", rc == 0 && port != 0, "got rc %ld port %u", rc, port);
    if (rc != 0)
        return 0;
    check_status("status-unbound", port, EVTCHNSTAT_unbound, 0, 0);
    rc = evtchn_alloc_unbound(0, &other);
    check("alloc-unbound-for-dom0", rc == 0 && other != 0, "got rc %ld port %u",
          rc, other);
    printf("INFO offering port %u to domain %u (and port %u to domain 0)\n",
           port, peer, other);
    /* port-other first: once data/port is readable, both are. */
    check_rc("publish-port-other", publish("data/port-other", other), 0);
    check_rc("publish-port", publish("data/port", port), 0);

    for (i = 0; i < rounds; i++) {
        got = wait_event(port, i == 0 ? start_ns : wait_ns);
        if (!got) {
            check("events-arrive", 0, "got no event %u of %u within %u ms",
                  i + 1, rounds, i == 0 ? start_ms : wait_ms);
            break;
        }
        received++;
        if (i == 0)
            check_status("status-interdomain", port, EVTCHNSTAT_interdomain, 0, 0);
        rc = evtchn_send(port);
        if (rc != 0) {
            check_rc("send-reply", rc, 0);
            break;
        }
    }
    if (received == rounds)
        check("events-arrive", 1, "-");

    /* ping closes its end when it is done: ours becomes unbound again, still
     * offered to the peer (Xen keeps remote_domid). */
    if (received) {
        uint64_t deadline = xen_now_ns() + wait_ns;
        struct evtchn_status st;

        do {
            rc = evtchn_status(DOMID_SELF, port, &st);
            if (rc != 0 || st.status != EVTCHNSTAT_interdomain)
                break;
            xen_sleep_ns(5 * MS);
        } while (xen_now_ns() < deadline);
        check_status("peer-close-makes-unbound", port, EVTCHNSTAT_unbound, 0, 0);
    }
    check("no-extra-events", !evtchn_is_pending(port),
          "got the port pending after the last round");
    check_rc("close-port", evtchn_close(port), 0);
    if (other)
        check_rc("close-port-other", evtchn_close(other), 0);
    return received;
}

static uint32_t run_ping(void)
{
    char path[64];
    uint32_t remote = 0, other = 0, port = 0, received = 0, early = 0, i;
    uint64_t t0, t1;
    struct evtchn_status st;
    long rc;

    snprintf(path, sizeof(path), "/local/domain/%u/data/port", peer);
    rc = read_number(path, &remote);
    check("read-peer-port", rc == 0 && remote != 0, "got %ld (%s) port %u", rc,
          xs_errname(rc), remote);
    if (rc != 0)
        return 0;
    snprintf(path, sizeof(path), "/local/domain/%u/data/port-other", peer);
    rc = read_number(path, &other);
    check("read-peer-port-other", rc == 0, "got %ld (%s)", rc, xs_errname(rc));
    printf("INFO domain %u offers port %u (and port %u to domain 0)\n", peer,
           remote, other);

    if (rc == 0) {
        rc = evtchn_bind_interdomain(peer, other, &port);
        check_rc("bind-port-offered-to-another-einval", rc, -XEN_EINVAL);
    }
    rc = evtchn_status(peer, remote, &st);
    check_rc("status-of-peer-port-eperm", rc, -XEN_EPERM);

    port = 0;
    rc = evtchn_bind_interdomain(peer, remote, &port);
    check("bind-interdomain", rc == 0 && port != 0, "got rc %ld port %u", rc, port);
    if (rc != 0)
        return 0;
    printf("INFO bound local port %u to domain %u port %u\n", port, peer, remote);
    /* Xen marks a newly bound port pending, in case events were lost. */
    evtchn_clear(port);
    check_status("status-interdomain", port, EVTCHNSTAT_interdomain, 1, remote);
    rc = evtchn_bind_interdomain(peer, remote, &other);
    check_rc("bind-again-einval", rc, -XEN_EINVAL);

    t0 = xen_now_ns();
    for (i = 0; i < rounds; i++) {
        if (evtchn_test_and_clear(port))
            early++;            /* an event nobody asked for */
        rc = evtchn_send(port);
        if (rc != 0) {
            check_rc("send", rc, 0);
            break;
        }
        if (!wait_event(port, wait_ns)) {
            check("events-arrive", 0, "got no reply %u of %u within %u ms",
                  i + 1, rounds, wait_ms);
            break;
        }
        received++;
    }
    t1 = xen_now_ns();
    if (received == rounds)
        check("events-arrive", 1, "-");
    printf("INFO pingpong rounds=%u ns=%llu\n", received, t1 - t0);
    check("strictly-alternating", early == 0,
          "got %u events before the matching send", early);

    xen_sleep_ns(20 * MS);
    check("no-extra-events", !evtchn_is_pending(port),
          "got the port pending after the last round");
    check_rc("close-port", evtchn_close(port), 0);
    check_rc("send-after-close-einval", evtchn_send(port), -XEN_EINVAL);
    return received;
}

int guest_main(const struct hvm_start_info *si)
{
    char role[16];
    uint32_t received;
    long rc;
    int ping;

    cmdline_init(si);
    test_guest = "evtchn-pingpong";
    if (cmdline_str("role", role, sizeof(role)) < 0)
        role[0] = '\0';
    rounds = cmdline_ull("rounds", 1000);
    wait_ms = cmdline_ull("wait-ms", 10000);
    start_ms = cmdline_ull("start-ms", 60000);
    wait_ns = wait_ms * MS;
    start_ns = start_ms * MS;
    printf("evtchn-pingpong: starting role=%s rounds=%u\n", role, rounds);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    ping = strcmp(role, "ping") == 0;
    if (!ping && strcmp(role, "pong") != 0)
        test_abort("role-option: got \"%s\" expected role=ping or role=pong", role);

    rc = evtchn_init();
    check_rc("shared-info-placed", rc, 0);
    if (rc != 0)
        return test_summary();
    self = xen_domid();
    check("cpuid-domid", self != DOMID_INVALID && self != 0, "got %u", self);

    rc = read_number("data/peer", &peer);
    check("read-data-peer", rc == 0 && peer != self, "got %ld (%s) peer %u self %u",
          rc, xs_errname(rc), peer, self);
    if (rc != 0)
        return test_summary();
    printf("INFO domain %u is %s, peer domain %u\n", self, role, peer);

    local_errors();
    received = ping ? run_ping() : run_pong();
    printf("INFO received=%u\n", received);
    check("received-all", received == rounds, "got %u expected %u", received,
          rounds);
    printf("INFO %u polls returned with the port idle\n", spurious);
    check("poll-returns-only-when-pending", spurious == 0,
          "got %u early returns", spurious);
    return test_summary();
}
