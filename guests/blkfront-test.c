/*
 * A PV block device from inside the guest, through lib/blkfront.c: the
 * xenbus handshake with the backend, then a write of a pattern to a sector,
 * a flush, a read back and a comparison, and requests the backend must
 * refuse.  Options (xl.cfg cmdline, space-separated key=value):
 *
 *   pattern=<text>   what to write at the start of the sector (the rest of
 *                    the sector is zeros); default "XenSharp-blkfront"
 *   sector=<n>       the sector to write (default 3)
 *   ro=1             the disk is expected read-only: the write must be
 *                    refused (BLKIF_RSP_ERROR) and the sector must not then
 *                    hold the pattern
 *   vbd=<n>          which device under device/vbd (default 0)
 *   wait-ms=<n>      how long to wait for the backend (default 20000)
 *
 * Checks: shared-info-placed, grant-table-v1, blkfront-connect (then an
 * INFO line with the device, size and mode), mode-matches, write-pattern
 * (or write-refused), flush, read-back, pattern-matches (or
 * pattern-absent), read-past-end-refused, read-straddling-end-refused,
 * bad-grant-refused, too-many-segments-refused, still-works-after-errors,
 * blkfront-close.  Output as timer-test's, ending
 * "blkfront-test: <P> passed, <F> failed"; SHUTDOWN_poweroff when F == 0.
 */
#include "guest.h"
#include "blkfront.h"

#define MS 1000000ull
#define RING_REF   20
#define DATA_REF   21
#define BAD_REF    400     /* never granted */

static uint8_t out_page[4096] __attribute__((aligned(4096)));
static uint8_t in_page[4096] __attribute__((aligned(4096)));

static const char *status_name(int st)
{
    switch (st) {
    case BLKIF_RSP_OKAY: return "BLKIF_RSP_OKAY";
    case BLKIF_RSP_ERROR: return "BLKIF_RSP_ERROR";
    case BLKIF_RSP_EOPNOTSUPP: return "BLKIF_RSP_EOPNOTSUPP";
    default: return xs_errname(st);
    }
}

static void check_status(const char *name, int got, int want)
{
    check(name, got == want, "got %d (%s) expected %d (%s)", got, status_name(got),
          want, status_name(want));
}

int guest_main(const struct hvm_start_info *si)
{
    struct blkfront bf;
    char pattern[256];
    uint64_t sector, wait_ns;
    unsigned int vbd;
    int ro, rc, len;

    cmdline_init(si);
    test_guest = "blkfront-test";
    len = cmdline_str("pattern", pattern, sizeof(pattern));
    if (len < 0) {
        memcpy(pattern, "XenSharp-blkfront", sizeof("XenSharp-blkfront"));
        len = (int)strlen(pattern);
    }
    sector = cmdline_ull("sector", 3);
    ro = cmdline_ull("ro", 0) != 0;
    vbd = (unsigned int)cmdline_ull("vbd", 0);
    wait_ns = cmdline_ull("wait-ms", 20000) * MS;
    printf("blkfront-test: starting sector=%llu ro=%d\n", (unsigned long long)sector, ro);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");

    rc = (int)evtchn_init();
    check("shared-info-placed", rc == 0, "got %d", rc);
    rc = (int)gnttab_init(1);
    check("grant-table-v1", rc == 0, "got %d", rc);
    if (tests_failed)
        return test_summary();

    rc = blkfront_init(&bf, vbd, RING_REF, wait_ns);
    check("blkfront-connect", rc == 0, "got %d (%s)", rc, xs_errname(rc));
    if (rc != 0)
        return test_summary();
    printf("INFO vbd=%u sectors=%llu sector-size=%u mode=%s flush=%d barrier=%d port=%u\n",
           bf.devid, (unsigned long long)bf.sectors, bf.sector_size,
           bf.read_only ? "r" : "w", bf.feature_flush, bf.feature_barrier, bf.port);
    check("mode-matches", bf.read_only == ro, "got read_only=%d expected %d", bf.read_only, ro);
    check("sector-in-disk", sector < bf.sectors, "sector %llu, disk has %llu",
          (unsigned long long)sector, (unsigned long long)bf.sectors);

    memset(out_page, 0, sizeof(out_page));
    memcpy(out_page, pattern, (size_t)len);
    rc = blkfront_rw(&bf, 1, sector, out_page, 1, DATA_REF);
    check_status(ro ? "write-refused" : "write-pattern", rc, ro ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);

    rc = blkfront_flush(&bf);
    check_status("flush", rc, bf.feature_flush ? BLKIF_RSP_OKAY : BLKIF_RSP_EOPNOTSUPP);

    memset(in_page, 0xA5, sizeof(in_page));
    rc = blkfront_rw(&bf, 0, sector, in_page, 1, DATA_REF);
    check_status("read-back", rc, BLKIF_RSP_OKAY);
    if (ro)
        check("pattern-absent", memcmp(in_page, out_page, 512) != 0,
              "the refused write reached the disk");
    else
        check("pattern-matches", memcmp(in_page, out_page, 512) == 0,
              "read back \"%.16s\"", (const char *)in_page);
    check("read-rest-untouched", in_page[512] == 0xA5 && in_page[4095] == 0xA5,
          "bytes past the sector were written");

    rc = blkfront_rw(&bf, 0, bf.sectors, in_page, 1, DATA_REF);
    check_status("read-past-end-refused", rc, BLKIF_RSP_ERROR);
    rc = blkfront_rw(&bf, 0, bf.sectors - 1, in_page, 2, DATA_REF);
    check_status("read-straddling-end-refused", rc, BLKIF_RSP_ERROR);
    {
        struct blkif_request_segment bad = { .gref = BAD_REF, .first_sect = 0, .last_sect = 0 };

        rc = blkfront_submit(&bf, BLKIF_OP_READ, 0, &bad, 1);
        check_status("bad-grant-refused", rc, BLKIF_RSP_ERROR);
    }
    {
        struct blkif_request_segment seg = { .gref = DATA_REF, .first_sect = 3, .last_sect = 2 };

        gnttab_grant(DATA_REF, bf.backend_id, (uint32_t)in_page >> 12, 0);
        rc = blkfront_submit(&bf, BLKIF_OP_READ, 0, &seg, 1);
        gnttab_revoke(DATA_REF);
        check_status("bad-sector-range-refused", rc, BLKIF_RSP_ERROR);
    }
    rc = blkfront_rw(&bf, 0, sector, in_page, 1, DATA_REF);
    check_status("still-works-after-errors", rc, BLKIF_RSP_OKAY);

    rc = blkfront_close(&bf);
    check("blkfront-close", rc == 0, "got %d (%s)", rc, xs_errname(rc));
    return test_summary();
}
