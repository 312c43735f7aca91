/*
 * Two domains of this image check grant tables and GNTTABOP_copy.  The
 * command line picks the role:
 *
 *   cmdline = "role=granter"      (offers pages)
 *   cmdline = "role=grantee"      (copies from and into them)
 *
 * Options: role=granter|grantee, wait-ms=<n> (how long to wait for one
 * step of the peer, default 20000), start-ms=<n> (how long to wait for the
 * peer to show up, default 60000), v2=0 to skip the grant table v2 phase.
 *
 * Peers meet as in evtchn-pingpong: the toolstack writes each domain's
 * peer id into /local/domain/<id>/data/peer.  The granter sets grant table
 * v1, places frame 0 in its own RAM (XENMAPSPACE_grant_table), fills page
 * A with a pattern and grants it read-only to the peer (ref RO), grants
 * page B writable (ref RW) and grants page A to domain 0 (ref OTHER, not
 * the peer's).  It allocates an unbound event channel for the peer and
 * publishes "<RO> <RW> <OTHER> <port>" in data/grant, readable by the peer.
 * The steps are then sequenced by events on that channel:
 *
 *   1. grantee: copy RO -> own page (okay, pattern matches); copy into RO
 *      (GNTST_general_error, which is what Xen gives for every grant that
 *      doesn't allow the access); copy into RW (okay); ref 0xFFFFFF
 *      (GNTST_bad_gntref); OTHER (GNTST_general_error);
 *      offset + len > 4096 (GNTST_bad_copy_arg); a frame of the peer named
 *      by GFN (GNTST_permission_denied: only DOMID_SELF may use a GFN).
 *   2. granter: page B holds what the grantee wrote; it revokes RO and RW.
 *   3. grantee: copies from RO and into RW are now denied.
 *   4. granter: GNTTABOP_set_version 2 (if it fails with -ENOSYS/-EINVAL,
 *      the v2 phase is skipped and data/v2 says so), re-places frame 0 and
 *      grants A (new pattern, read-only) and B (writable) again as v2
 *      entries, then publishes data/v2 = 1.
 *   5. grantee: the same copies work (and read-only is still enforced).
 *   6. granter: page B holds the grantee's v2 bytes.
 *
 * Output as timer-test's, ending "grant-test: <P> passed, <F> failed";
 * SHUTDOWN_poweroff when F == 0, otherwise SHUTDOWN_crash.
 */
#include "guest.h"

#define MS 1000000ull
#define REF_RO    10
#define REF_RW    11
#define REF_OTHER 12
#define BAD_REF   0xFFFFFFu

static uint8_t page_a[4096] __attribute__((aligned(4096)));
static uint8_t page_b[4096] __attribute__((aligned(4096)));
static uint8_t mine[4096] __attribute__((aligned(4096)));

static uint32_t self, peer, port;
static uint64_t wait_ns, start_ns;

static void check_rc(const char *name, long got, long want)
{
    check(name, got == want, "got %ld expected %ld", got, want);
}

static uint32_t gfn(const void *p)
{
    return (uint32_t)p >> 12;
}

static uint8_t pattern(unsigned int i, unsigned int seed)
{
    return (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static void fill(uint8_t *p, unsigned int seed)
{
    for (unsigned int i = 0; i < 4096; i++)
        p[i] = pattern(i, seed);
}

/* The first differing byte, or -1. */
static int mismatch(const uint8_t *p, unsigned int off, unsigned int len,
                    unsigned int seed)
{
    for (unsigned int i = off; i < off + len; i++)
        if (p[i] != pattern(i, seed))
            return i;
    return -1;
}

static unsigned long parse_u(const char **s, int *ok)
{
    unsigned long v = 0;
    const char *p = *s;

    while (*p == ' ')
        p++;
    *ok = *p >= '0' && *p <= '9';
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    *s = p;
    return v;
}

/* Reads a node, retrying while it is missing or not yet readable. */
static int read_node(const char *path, char *buf, size_t size, uint64_t timeout)
{
    uint64_t deadline = xen_now_ns() + timeout;
    int rc;

    for (;;) {
        rc = xs_read(path, buf, size);
        if (rc >= 0 || (rc != -XEN_ENOENT && rc != -XEN_EACCES) ||
            xen_now_ns() > deadline)
            return rc;
        xen_sleep_ns(10 * MS);
    }
}

static int publish(const char *path, const char *value)
{
    char owner[16], reader[16];
    const char *perms[2] = { owner, reader };
    int rc;

    snprintf(owner, sizeof(owner), "n%u", self);
    snprintf(reader, sizeof(reader), "r%u", peer);
    rc = xs_write(path, value);
    if (rc == 0)
        rc = xs_set_perms(path, perms, 2);
    return rc;
}

/* Signals the peer, then waits for its answer on the same channel. */
static int step(const char *name)
{
    long rc = evtchn_send(port);

    if (rc != 0) {
        check(name, 0, "got %ld from EVTCHNOP_send", rc);
        return 0;
    }
    return 1;
}

static int await(const char *name, uint64_t timeout)
{
    if (evtchn_wait(port, timeout))
        return 1;
    check(name, 0, "got no event from domain %u within %llu ns", peer, timeout);
    return 0;
}

/* A copy's status against what Xen gives. */
static void check_copy(const char *name, int16_t st, long rc, int16_t want)
{
    check(name, rc == 0 && st == want, "got rc %ld status %d (%s) expected %d (%s)",
          rc, st, gntst_name(st), want, gntst_name(want));
}

/* Xen answers GNTST_general_error for a grant that doesn't allow the access
 * (wrong domain, read-only for a write, revoked): _set_status_v1/v2. */
static void check_denied(const char *name, int16_t st, long rc)
{
    check(name, rc == 0 && st == GNTST_general_error,
          "got rc %ld status %d (%s) expected %d (GNTST_general_error, as Xen)",
          rc, st, gntst_name(st), GNTST_general_error);
}

/* ------------------------------------------------------------ granter */

static int granter_setup(void)
{
    char value[64];
    uint32_t v = 0, nr = 0, max = 0;
    int16_t qst = 1;
    long rc;

    rc = gnttab_set_version(1);
    check_rc("set-version-1", rc, 0);
    rc = gnttab_get_version(DOMID_SELF, &v);
    check("get-version-1", rc == 0 && v == 1, "got rc %ld version %u", rc, v);
    rc = gnttab_init(1);
    check_rc("map-grant-frame-0", rc, 0);
    if (rc != 0)
        return 0;
    rc = gnttab_query_size(&nr, &max, &qst);
    printf("INFO query_size: rc %ld status %d nr_frames %u max_nr_frames %u\n",
           rc, qst, nr, max);
    check("query-size", rc == 0 && qst == GNTST_okay && nr >= 1 && max >= nr,
          "got rc %ld status %d nr %u max %u", rc, qst, nr, max);

    fill(page_a, 1);
    memset(page_b, 0, sizeof(page_b));
    gnttab_grant(REF_RO, peer, gfn(page_a), 1);
    gnttab_grant(REF_RW, peer, gfn(page_b), 0);
    gnttab_grant(REF_OTHER, 0, gfn(page_a), 0);

    rc = evtchn_alloc_unbound(peer, &port);
    check("alloc-unbound", rc == 0 && port != 0, "got rc %ld port %u", rc, port);
    if (rc != 0)
        return 0;
    snprintf(value, sizeof(value), "%u %u %u %u", REF_RO, REF_RW, REF_OTHER, port);
    printf("INFO publishing data/grant = \"%s\" (page A gfn %#x, page B gfn %#x)\n",
           value, gfn(page_a), gfn(page_b));
    rc = publish("data/grant", value);
    check_rc("publish-grant", rc, 0);
    return rc == 0;
}

static void run_granter(int want_v2)
{
    uint16_t old;
    int bad;
    long rc;

    if (!granter_setup())
        return;

    /* The grantee binds (which marks its own port pending, not ours) and
     * sends once it has done step 1. */
    if (!await("grantee-step-1", start_ns))
        return;
    bad = mismatch(page_b, 100, 200, 2);
    check("grantee-wrote-rw-page", bad < 0, "byte %d is %#x expected %#x", bad,
          bad < 0 ? 0 : page_b[bad], bad < 0 ? 0 : pattern(bad, 2));
    check("rw-page-rest-untouched", page_b[99] == 0 && page_b[300] == 0,
          "got %#x %#x around the copy expected 0", page_b[99], page_b[300]);

    old = gnttab_revoke(REF_RO);
    printf("INFO revoked ref %u (flags were %#x)\n", REF_RO, old);
    old = gnttab_revoke(REF_RW);
    printf("INFO revoked ref %u (flags were %#x)\n", REF_RW, old);
    gnttab_revoke(REF_OTHER);
    check("revoked-not-in-use", (old & (GTF_reading | GTF_writing)) == 0,
          "got flags %#x (a copy must not keep the grant in use)", old);
    if (!step("granter-step-2") || !await("grantee-step-3", wait_ns))
        return;

    /* v2 */
    if (!want_v2) {
        publish("data/v2", "0");
        step("granter-step-4");
        return;
    }
    rc = gnttab_set_version(2);
    printf("INFO GNTTABOP_set_version(2): %ld\n", rc);
    if (rc == -XEN_ENOSYS || rc == -XEN_EINVAL) {
        skip("grant-v2", "GNTTABOP_set_version(2) is not supported");
        publish("data/v2", "0");
        step("granter-step-4");
        return;
    }
    check_rc("set-version-2", rc, 0);
    if (rc == 0) {
        uint32_t v = 0;

        rc = gnttab_get_version(DOMID_SELF, &v);
        check("get-version-2", rc == 0 && v == 2, "got rc %ld version %u", rc, v);
        rc = gnttab_init(2);
        check_rc("map-grant-frame-0-v2", rc, 0);
    }
    if (rc != 0) {
        publish("data/v2", "0");
        step("granter-step-4");
        return;
    }
    fill(page_a, 3);
    memset(page_b, 0, sizeof(page_b));
    gnttab_grant(REF_RO, peer, gfn(page_a), 1);
    gnttab_grant(REF_RW, peer, gfn(page_b), 0);
    check_rc("publish-v2", publish("data/v2", "1"), 0);
    if (!step("granter-step-4") || !await("grantee-step-5", wait_ns))
        return;
    bad = mismatch(page_b, 0, 4096, 4);
    check("grantee-wrote-rw-page-v2", bad < 0, "byte %d is %#x expected %#x", bad,
          bad < 0 ? 0 : page_b[bad], bad < 0 ? 0 : pattern(bad, 4));
    gnttab_revoke(REF_RO);
    gnttab_revoke(REF_RW);
}

/* ------------------------------------------------------------ grantee */

static void run_grantee(void)
{
    char path[64], buf[64];
    const char *p;
    uint32_t ro, rw, other, remote;
    int16_t st;
    long rc;
    int ok1, ok2, ok3, ok4, bad;

    snprintf(path, sizeof(path), "/local/domain/%u/data/grant", peer);
    rc = read_node(path, buf, sizeof(buf), start_ns);
    check("read-grant-refs", rc >= 0, "got %ld (%s)", rc, xs_errname(rc));
    if (rc < 0)
        return;
    p = buf;
    ro = parse_u(&p, &ok1);
    rw = parse_u(&p, &ok2);
    other = parse_u(&p, &ok3);
    remote = parse_u(&p, &ok4);
    check("parse-grant-refs", ok1 && ok2 && ok3 && ok4, "got \"%s\"", buf);
    if (!(ok1 && ok2 && ok3 && ok4))
        return;
    printf("INFO domain %u grants ro %u rw %u other %u, port %u\n", peer, ro, rw,
           other, remote);
    rc = evtchn_bind_interdomain(peer, remote, &port);
    check("bind-interdomain", rc == 0, "got %ld", rc);
    if (rc != 0)
        return;
    evtchn_clear(port);

    /* 1. */
    memset(mine, 0, sizeof(mine));
    st = gnttab_copy1(ro, peer, 0, gfn(mine), DOMID_SELF, 0, 4096,
                      GNTCOPY_source_gref, &rc);
    check_copy("copy-from-ro-grant", st, rc, GNTST_okay);
    bad = mismatch(mine, 0, 4096, 1);
    check("copied-pattern", bad < 0, "byte %d is %#x expected %#x", bad,
          bad < 0 ? 0 : mine[bad], bad < 0 ? 0 : pattern(bad, 1));
    memset(mine, 0, sizeof(mine));
    st = gnttab_copy1(ro, peer, 512, gfn(mine), DOMID_SELF, 1024, 100,
                      GNTCOPY_source_gref, &rc);
    check_copy("copy-part-with-offsets", st, rc, GNTST_okay);
    check("copied-part", mine[1024] == pattern(512, 1) && mine[1123] == pattern(611, 1) &&
          mine[1023] == 0 && mine[1124] == 0, "got %#x %#x %#x %#x", mine[1023],
          mine[1024], mine[1123], mine[1124]);

    fill(mine, 2);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 0, ro, peer, 0, 16,
                      GNTCOPY_dest_gref, &rc);
    check_denied("copy-into-ro-grant-denied", st, rc);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 100, rw, peer, 100, 200,
                      GNTCOPY_dest_gref, &rc);
    check_copy("copy-into-rw-grant", st, rc, GNTST_okay);
    st = gnttab_copy1(BAD_REF, peer, 0, gfn(mine), DOMID_SELF, 0, 16,
                      GNTCOPY_source_gref, &rc);
    check_copy("copy-bad-gntref", st, rc, GNTST_bad_gntref);
    st = gnttab_copy1(other, peer, 0, gfn(mine), DOMID_SELF, 0, 16,
                      GNTCOPY_source_gref, &rc);
    check_denied("copy-ref-granted-to-another-denied", st, rc);
    st = gnttab_copy1(ro, peer, 4000, gfn(mine), DOMID_SELF, 0, 200,
                      GNTCOPY_source_gref, &rc);
    check_copy("copy-crossing-page-end", st, rc, GNTST_bad_copy_arg);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 0, gfn(mine), DOMID_SELF, 3900, 300,
                      0, &rc);
    check_copy("copy-dest-crossing-page-end", st, rc, GNTST_bad_copy_arg);
    st = gnttab_copy1(gfn(mine), peer, 0, gfn(mine), DOMID_SELF, 0, 16, 0, &rc);
    check_copy("copy-foreign-gfn-denied", st, rc, GNTST_permission_denied);
    st = gnttab_copy1(ro, 0x7FE0, 0, gfn(mine), DOMID_SELF, 0, 16,
                      GNTCOPY_source_gref, &rc);
    check_copy("copy-no-such-domain", st, rc, GNTST_bad_domain);

    /* 3. */
    if (!step("grantee-step-1") || !await("granter-step-2", wait_ns))
        return;
    st = gnttab_copy1(ro, peer, 0, gfn(mine), DOMID_SELF, 0, 16,
                      GNTCOPY_source_gref, &rc);
    check_denied("copy-from-revoked-denied", st, rc);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 0, rw, peer, 0, 16,
                      GNTCOPY_dest_gref, &rc);
    check_denied("copy-into-revoked-denied", st, rc);

    /* 5. */
    if (!step("grantee-step-3") || !await("granter-step-4", wait_ns))
        return;
    snprintf(path, sizeof(path), "/local/domain/%u/data/v2", peer);
    rc = read_node(path, buf, sizeof(buf), wait_ns);
    check("read-v2", rc >= 0, "got %ld (%s)", rc, xs_errname(rc));
    if (rc < 0 || strcmp(buf, "1") != 0) {
        skip("grant-v2", "the granter did not switch to v2");
        return;
    }
    memset(mine, 0, sizeof(mine));
    st = gnttab_copy1(ro, peer, 0, gfn(mine), DOMID_SELF, 0, 4096,
                      GNTCOPY_source_gref, &rc);
    check_copy("v2-copy-from-ro-grant", st, rc, GNTST_okay);
    bad = mismatch(mine, 0, 4096, 3);
    check("v2-copied-pattern", bad < 0, "byte %d is %#x expected %#x", bad,
          bad < 0 ? 0 : mine[bad], bad < 0 ? 0 : pattern(bad, 3));
    fill(mine, 4);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 0, ro, peer, 0, 16,
                      GNTCOPY_dest_gref, &rc);
    check_denied("v2-copy-into-ro-grant-denied", st, rc);
    st = gnttab_copy1(gfn(mine), DOMID_SELF, 0, rw, peer, 0, 4096,
                      GNTCOPY_dest_gref, &rc);
    check_copy("v2-copy-into-rw-grant", st, rc, GNTST_okay);
    step("grantee-step-5");
}

int guest_main(const struct hvm_start_info *si)
{
    char role[16];
    long rc;
    int granter;

    cmdline_init(si);
    test_guest = "grant-test";
    if (cmdline_str("role", role, sizeof(role)) < 0)
        role[0] = '\0';
    wait_ns = cmdline_ull("wait-ms", 20000) * MS;
    start_ns = cmdline_ull("start-ms", 60000) * MS;
    printf("grant-test: starting role=%s\n", role);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    granter = strcmp(role, "granter") == 0;
    if (!granter && strcmp(role, "grantee") != 0)
        test_abort("role-option: got \"%s\" expected role=granter or role=grantee",
                   role);

    rc = evtchn_init();
    check_rc("shared-info-placed", rc, 0);
    if (rc != 0)
        return test_summary();
    self = xen_domid();
    check("cpuid-domid", self != DOMID_INVALID && self != 0, "got %u", self);
    {
        char buf[16];
        const char *p = buf;
        int ok = 0;

        rc = read_node("data/peer", buf, sizeof(buf), start_ns);
        if (rc >= 0)
            peer = parse_u(&p, &ok);
        check("read-data-peer", rc >= 0 && ok && peer != self,
              "got %ld (%s) \"%s\"", rc, xs_errname(rc), rc >= 0 ? buf : "");
        if (!(rc >= 0 && ok))
            return test_summary();
    }
    printf("INFO domain %u is the %s, peer domain %u\n", self, role, peer);

    if (granter)
        run_granter(cmdline_ull("v2", 1) != 0);
    else
        run_grantee();
    return test_summary();
}
