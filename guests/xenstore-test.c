/*
 * Exercises the XenStore protocol over the guest's ring (lib/xenstore.c),
 * with xenstored's semantics as the reference, then waits for the
 * toolstack to write control/shutdown.  Output, one line per check:
 *
 *   PASS <name>
 *   FAIL <name>: got <X> expected <Y>
 *   INFO <text>                         (informational, not a check)
 *   xenstore-test: waiting for control/shutdown
 *   xenstore-test: control/shutdown = <poweroff|reboot>
 *   xenstore-test: <P> passed, <F> failed
 *
 * then SCHEDOP_shutdown: SHUTDOWN_poweroff or SHUTDOWN_reboot as
 * requested when F == 0, SHUTDOWN_crash otherwise.  If the checks cannot
 * reach the store, or control/shutdown is missing or never set, it prints
 * FAIL and the summary and crashes.
 */
#include "guest.h"

/* Polls (SCHEDOP_yield each) to wait for control/shutdown; the cmdline
 * option xs-wait-polls=<n> overrides it. */
#define SHUTDOWN_WAIT_POLLS 50000000ul
#define EVENT_WAIT_POLLS    XS_POLL_LIMIT

static uint32_t domid;
static char buf[XENSTORE_PAYLOAD_MAX + 1], list[XENSTORE_PAYLOAD_MAX + 2];
static char big[5001];


/* An xs_* result against the one expected: 0 or a negative errno. */
static void check_rc(const char *name, int got, int want)
{
    check(name, got == want, "got %d (%s) expected %d (%s)", got,
          xs_errname(got), want, xs_errname(want));
}

/* A read of path must give exactly want. */
static void check_read(const char *name, uint32_t tx, const char *path,
                       const char *want)
{
    int rc = xs_read_tx(tx, path, buf, sizeof(buf));

    if (rc < 0)
        check(name, 0, "got %d (%s) expected \"%s\"", rc, xs_errname(rc), want);
    else
        check(name, (size_t)rc == strlen(want) && strcmp(buf, want) == 0,
              "got \"%s\" (%d bytes) expected \"%s\"", buf, rc, want);
}

static int list_contains(const char *l, const char *name)
{
    for (; *l; l += strlen(l) + 1)
        if (strcmp(l, name) == 0)
            return 1;
    return 0;
}

/* Joins a list from xs_directory/xs_get_perms with spaces, for printing. */
static const char *joined(const char *l)
{
    static char out[512];
    size_t n = 0;

    out[0] = '\0';
    for (; *l && n < sizeof(out) - 1; l += strlen(l) + 1)
        n += snprintf(out + n, sizeof(out) - n, "%s%s", n ? " " : "", l);
    return out;
}

/* A list result for messages: the strings, or the error. */
static const char *shown(int rc)
{
    return rc < 0 ? xs_errname(rc) : joined(list);
}

static unsigned long parse_ulong(const char *s, const char **end)
{
    unsigned long v = 0;

    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    if (end)
        *end = s;
    return v;
}

/* The next watch event with this token; others are reported and skipped. */
static int wait_event(const char *token, char *path, size_t size,
                      unsigned long polls)
{
    char tok[64];
    int rc, i;

    for (i = 0; i < 64; i++) {
        rc = xs_wait_watch(path, size, tok, sizeof(tok), polls);
        if (rc < 0)
            return rc;
        if (strcmp(tok, token) == 0)
            return 0;
        printf("INFO skipping watch event %s (token %s)\n", path, tok);
    }
    return -XEN_ETIMEDOUT;
}

static void check_event(const char *name, const char *token, const char *want)
{
    char path[256];
    int rc = wait_event(token, path, sizeof(path), EVENT_WAIT_POLLS);

    if (rc < 0) {
        check(name, 0, "got %d (%s) expected an event for %s", rc,
              xs_errname(rc), want);
        return;
    }
    printf("INFO watch event: path %s token %s\n", path, token);
    check(name, strcmp(path, want) == 0, "got path %s expected %s", path, want);
}

/* --------------------------------------------------------------- checks */

static void test_domain(void)
{
    uint32_t a, b, c, d;
    char want[32];
    const char *end;
    int rc;

    cpuid(xen_cpuid_base + 4, 0, &a, &b, &c, &d);
    check("cpuid-domid", (a & XEN_HVM_CPUID_DOMID_PRESENT) && c > 0 &&
          c < DOMID_FIRST_RESERVED, "got eax %#x ecx %u expected "
          "DOMID_PRESENT and a domU id", a, c);
    domid = c;

    rc = xs_read("domid", buf, sizeof(buf));
    if (rc < 0) {
        check("read-domid", 0, "got %d (%s) expected \"%u\"", rc,
              xs_errname(rc), domid);
    } else {
        unsigned long v = parse_ulong(buf, &end);

        printf("INFO domid = \"%s\"\n", buf);
        check("read-domid", end != buf && !*end && v == domid,
              "got \"%s\" expected \"%u\" (CPUID)", buf, domid);
    }

    rc = xs_read("name", buf, sizeof(buf));
    if (rc >= 0)
        printf("INFO name = \"%s\"\n", buf);
    check("read-name", rc > 0, "got %d (%s) expected a nonempty name", rc,
          xs_errname(rc));

    snprintf(want, sizeof(want), "/local/domain/%u", domid);
    rc = xs_get_domain_path(domid, buf, sizeof(buf));
    check("get-domain-path", rc >= 0 && strcmp(buf, want) == 0,
          "got %d \"%s\" expected \"%s\"", rc, rc >= 0 ? buf : "", want);
}

static void test_read_write(void)
{
    static char owner[16], want_perms[32];
    const char *const perms[2] = { owner, "r0" };
    int rc, i;

    check_rc("write-greeting", xs_write("data/greeting", "hello from the guest"), 0);
    check_read("read-greeting", XS_TX_NONE, "data/greeting", "hello from the guest");

    rc = xs_directory("data", list, sizeof(list));
    if (rc >= 0)
        printf("INFO directory data: %s\n", joined(list));
    check("directory-data", rc >= 1 && list_contains(list, "greeting"),
          "got %d (%s) expected a list containing greeting", rc, shown(rc));

    /* A node a domain creates is owned by it. */
    rc = xs_get_perms("data/greeting", list, sizeof(list));
    if (rc >= 0)
        printf("INFO perms data/greeting: %s\n", joined(list));
    check("get-perms-owner", rc >= 1 && list[0] && list[1] >= '0' &&
          parse_ulong(list + 1, NULL) == domid, "got %d (%s) expected the "
          "first entry to name domain %u", rc, shown(rc), domid);

    snprintf(owner, sizeof(owner), "n%u", domid);
    check_rc("set-perms", xs_set_perms("data/greeting", perms, 2), 0);
    snprintf(want_perms, sizeof(want_perms), "n%u r0", domid);
    rc = xs_get_perms("data/greeting", list, sizeof(list));
    check("get-perms-after-set", rc == 2 && strcmp(joined(list), want_perms) == 0,
          "got %d (%s) expected 2 (%s)", rc, shown(rc), want_perms);
    check_read("read-after-set-perms", XS_TX_NONE, "data/greeting",
               "hello from the guest");

    check_rc("mkdir", xs_mkdir("data/dir"), 0);
    rc = xs_directory("data", list, sizeof(list));
    check("mkdir-listed", rc >= 2 && list_contains(list, "dir"),
          "got %d (%s) expected a list containing dir", rc, shown(rc));
    check_read("mkdir-empty-value", XS_TX_NONE, "data/dir", "");
    check_rc("rm", xs_rm("data/dir"), 0);
    check_rc("rm-gone", xs_read("data/dir", buf, sizeof(buf)), -XEN_ENOENT);

    /* Longer than the 1024-byte rings in both directions. */
    for (i = 0; i < 1500; i++)
        big[i] = 'a' + i % 26;
    big[1500] = '\0';
    check_rc("write-1500-bytes", xs_write("data/large", big), 0);
    rc = xs_read("data/large", buf, sizeof(buf));
    check("read-1500-bytes", rc == 1500 && strcmp(buf, big) == 0,
          "got %d (%s) expected 1500 identical bytes", rc,
          rc < 0 ? xs_errname(rc) : "bytes read back");
    xs_rm("data/large");
}

static void test_transactions(void)
{
    uint32_t tx = 0;
    int rc = 0, attempt;

    xs_rm("data/tx-a");
    xs_rm("data/tx-b");
    for (attempt = 1; attempt <= 5; attempt++) {
        rc = xs_transaction_start(&tx);
        if (rc < 0)
            break;
        if (attempt == 1)
            printf("INFO transaction id %u\n", tx);
        if ((rc = xs_write_tx(tx, "data/tx-a", "value a")) < 0 ||
            (rc = xs_write_tx(tx, "data/tx-b", "value b")) < 0)
            break;
        check_read("tx-read-inside", tx, "data/tx-a", "value a");
        check_rc("tx-isolated", xs_read("data/tx-a", buf, sizeof(buf)),
                 -XEN_ENOENT);
        rc = xs_transaction_end(tx, 1);
        if (rc != -XEN_EAGAIN)
            break;
        printf("INFO transaction commit: EAGAIN, retrying\n");
    }
    check_rc("tx-commit", rc, 0);
    check_read("tx-read-a", XS_TX_NONE, "data/tx-a", "value a");
    check_read("tx-read-b", XS_TX_NONE, "data/tx-b", "value b");

    rc = xs_transaction_start(&tx);
    check_rc("tx-start-abort", rc < 0 ? rc : 0, 0);
    if (rc == 0) {
        check_rc("tx-write-c", xs_write_tx(tx, "data/tx-c", "value c"), 0);
        check_rc("tx-abort", xs_transaction_end(tx, 0), 0);
        check_rc("tx-abort-discarded", xs_read("data/tx-c", buf, sizeof(buf)),
                 -XEN_ENOENT);
    }
    check_rc("tx-end-unknown", xs_transaction_end(tx, 1), -XEN_ENOENT);
}

static void test_errors(void)
{
    int rc;

    rc = xs_read("/local/domain/0/name", buf, sizeof(buf));
    printf("INFO read /local/domain/0/name: %d (%s)\n", rc, xs_errname(rc));
    check("read-dom0-name", rc == -XEN_EACCES || rc == -XEN_ENOENT,
          "got %d (%s) expected -%d (EACCES) or -%d (ENOENT)", rc,
          xs_errname(rc), XEN_EACCES, XEN_ENOENT);
    check_rc("write-dom0-data", xs_write("/local/domain/0/data/x", "x"),
             -XEN_EACCES);

    /* A payload over 4096 bytes makes xenstored drop the connection, so the
     * client refuses it without sending it. */
    memset(big, 'x', 5000);
    big[5000] = '\0';
    rc = xs_write("data/too-big", big);
    printf("INFO write of a 5000-byte value: %d (%s)\n", rc, xs_errname(rc));
    check("write-too-big", rc == -XEN_E2BIG || rc == -XEN_EINVAL,
          "got %d (%s) expected -%d (E2BIG) or -%d (EINVAL)", rc,
          xs_errname(rc), XEN_E2BIG, XEN_EINVAL);

    /* 3000 bytes fit in a message but not in a node (quota node-size 2048). */
    big[3000] = '\0';
    rc = xs_write("data/too-big", big);
    printf("INFO write of a 3000-byte value: %d (%s)\n", rc, xs_errname(rc));
    check("write-over-node-quota", rc == -XEN_ENOSPC || rc == -XEN_E2BIG,
          "got %d (%s) expected -%d (ENOSPC) or -%d (E2BIG)", rc,
          xs_errname(rc), XEN_ENOSPC, XEN_E2BIG);
    check_read("connection-alive", XS_TX_NONE, "data/greeting",
               "hello from the guest");

    check_rc("invalid-path-read", xs_read("data//x", buf, sizeof(buf)),
             -XEN_EINVAL);
    check_rc("invalid-path-write", xs_write("data//x", "x"), -XEN_EINVAL);
}

static void test_watches(void)
{
    check_rc("watch-data", xs_watch("data/w", "w"), 0);
    check_event("watch-data-initial", "w", "data/w");
    check_rc("watch-data-write", xs_write("data/w", "1"), 0);
    check_event("watch-data-event", "w", "data/w");
    check_rc("unwatch-data", xs_unwatch("data/w", "w"), 0);
    check_rc("unwatch-again", xs_unwatch("data/w", "w"), -XEN_ENOENT);
}

/* ---------------------------------------------------- control/shutdown */

static unsigned long wait_polls(const struct hvm_start_info *si)
{
    const char *cmd, *opt;

    if (!si || si->magic != XEN_HVM_START_MAGIC_VALUE || !si->cmdline_paddr ||
        si->cmdline_paddr >= (1ull << 32))
        return SHUTDOWN_WAIT_POLLS;
    cmd = (const char *)(uint32_t)si->cmdline_paddr;
    opt = strstr(cmd, "xs-wait-polls=");
    if (!opt || strnlen(cmd, 4096) == 4096)
        return SHUTDOWN_WAIT_POLLS;
    return parse_ulong(opt + 14, NULL);
}

static void __attribute__((noreturn)) finish(unsigned int reason)
{
    printf("xenstore-test: %u passed, %u failed\n", tests_passed, tests_failed);
    shutdown(tests_failed ? SHUTDOWN_crash : reason);
}

static void __attribute__((noreturn)) wait_for_shutdown(unsigned long polls)
{
    char path[256];
    int rc;

    check_rc("watch-control-shutdown", xs_watch("control/shutdown", "ctl"), 0);
    rc = wait_event("ctl", path, sizeof(path), EVENT_WAIT_POLLS);
    if (rc == 0)
        printf("INFO watch event: path %s token ctl\n", path);
    check("watch-control-shutdown-initial", rc == 0 &&
          strcmp(path, "control/shutdown") == 0, "got %d (%s) path %s expected"
          " an event for control/shutdown", rc, xs_errname(rc),
          rc == 0 ? path : "-");

    printf("INFO waiting up to %lu polls\n", polls);
    printf("xenstore-test: waiting for control/shutdown\n");
    for (;;) {
        rc = xs_read("control/shutdown", buf, sizeof(buf));
        if (rc < 0) {
            check("control-shutdown", 0, "got %d (%s) expected the node to exist",
                  rc, xs_errname(rc));
            finish(SHUTDOWN_crash);
        }
        if (strcmp(buf, "poweroff") == 0 || strcmp(buf, "reboot") == 0) {
            int reboot = buf[0] == 'r';

            printf("xenstore-test: control/shutdown = %s\n", buf);
            /* Acknowledge, as PV guests do, by clearing the request. */
            rc = xs_write("control/shutdown", "");
            printf("INFO cleared control/shutdown: %d (%s)\n", rc, xs_errname(rc));
            check("control-shutdown", 1, "-");
            finish(reboot ? SHUTDOWN_reboot : SHUTDOWN_poweroff);
        }
        if (rc > 0)
            printf("INFO ignoring control/shutdown = \"%s\"\n", buf);

        rc = wait_event("ctl", path, sizeof(path), polls);
        if (rc < 0) {
            check("control-shutdown", 0, "got %d (%s) expected a watch event "
                  "with poweroff or reboot", rc, xs_errname(rc));
            finish(SHUTDOWN_crash);
        }
        printf("INFO watch event: path %s token ctl\n", path);
    }
}

/* ----------------------------------------------------------------- main */

int guest_main(const struct hvm_start_info *si)
{
    static void (*const sections[])(void) = {
        test_domain, test_read_write, test_transactions, test_errors,
        test_watches,
    };
    uint64_t pfn = 0, port = 0;
    unsigned int i;
    int rc;

    printf("xenstore-test: starting\n");
    if (!xen_cpuid_base) {
        check("cpuid-signature", 0, "got none expected XenVMMXenVMM in "
              "0x40000000-0x4000ff00");
        finish(SHUTDOWN_crash);
    }
    hvm_get_param(HVM_PARAM_STORE_PFN, &pfn);
    hvm_get_param(HVM_PARAM_STORE_EVTCHN, &port);
    printf("INFO store pfn %#llx, event channel %llu\n", pfn, port);
    rc = xs_init();
    check_rc("xs-init", rc, 0);
    if (rc < 0)
        finish(SHUTDOWN_crash);

    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        sections[i]();
        rc = xs_init();         /* < 0 once the connection is unusable */
        if (rc < 0 || xs_timeouts()) {
            if (rc < 0)
                printf("INFO giving up: the store connection failed: %d (%s)\n",
                       rc, xs_errname(rc));
            else
                printf("INFO giving up: xenstored did not answer within %u "
                       "polls\n", XS_POLL_LIMIT);
            finish(SHUTDOWN_crash);
        }
    }
    if (xs_dropped_events() || xs_stray_replies())
        printf("INFO %u watch events dropped, %u stray replies\n",
               xs_dropped_events(), xs_stray_replies());
    wait_for_shutdown(wait_polls(si));
}
