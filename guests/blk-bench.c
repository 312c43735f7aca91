/*
 * Sequential throughput of a PV block device, measured from inside the
 * guest (bench/XenSharp.Bench: blk_seq_read, blk_seq_write).  Connects to
 * its vbd through lib/blkfront.c, then makes `passes` sequential passes over
 * the whole disk, each request 11 segments x 4 KiB (44 KiB; the last one of a
 * pass may be shorter), keeping up to `qd` requests in flight on the ring.
 * Every data page is granted to the backend once, before the first pass
 * (writable for reads); the backend maps the grants per request.
 *
 * Each pass is timed with the guest's pvclock (xen_now_ns: vCPU 0's
 * vcpu_time_info scaled from the TSC) from the first request queued to the
 * last response taken; a write pass ends with a FLUSH_DISKCACHE (when the
 * backend offers it), inside the timing, like dd's conv=fdatasync.  One line
 * per pass:
 *
 *   INFO blkbench op=<read|write> qd=<n> pass=<p> bytes=<b> ns=<t> errors=<e>
 *
 * Data: for a write every 4 KiB page carries, in its first 8 bytes, its byte
 * offset in the disk (the rest is zeros), so the host can check the image
 * afterwards; for a read the guest checks that the first 8 bytes of every
 * page it got are the page's byte offset (the host prepares the image so)
 * and counts mismatches and failed requests in errors.
 *
 * Options (xl.cfg cmdline, space-separated key=value):
 *   op=read|write   (default read)
 *   qd=<1..32>      requests in flight (default 1)
 *   passes=<n>      (default 4)
 *   verify=0        skip the read check
 *   wait-ms=<n>     how long to wait for the backend / a response (default 20000)
 *
 * Ends with "blk-bench: done errors=<e>"; SHUTDOWN_poweroff when e == 0.
 */
#include "guest.h"
#include "blkfront.h"

#define MS 1000000ull
#define RING_REF   20
#define DATA_REF0  32
#define MAX_QD     32
#define SEGS       BLKIF_MAX_SEGMENTS_PER_REQUEST
#define PAGE       4096u
#define SECT_PER_PAGE 8u
#define SECT_PER_REQ  (SEGS * SECT_PER_PAGE)

static uint8_t bufs[MAX_QD][SEGS][PAGE] __attribute__((aligned(4096)));

struct slot {
    uint64_t sector;
    unsigned int nsect;
};

static struct slot slots[MAX_QD];

/* Puts the request for [sector, sector + nsect) into slot s. */
static int queue(struct blkfront *bf, int write, unsigned int s, uint64_t sector,
                 unsigned int nsect)
{
    struct blkif_request_segment segs[SEGS];
    unsigned int n = (nsect + SECT_PER_PAGE - 1) / SECT_PER_PAGE;

    for (unsigned int i = 0; i < n; i++) {
        unsigned int left = nsect - i * SECT_PER_PAGE;

        segs[i].gref = DATA_REF0 + s * SEGS + i;
        segs[i].first_sect = 0;
        segs[i].last_sect = (uint8_t)((left < SECT_PER_PAGE ? left : SECT_PER_PAGE) - 1);
        segs[i]._pad = 0;
        if (write)
            *(volatile uint64_t *)bufs[s][i] = (sector + i * SECT_PER_PAGE) * 512;
    }
    slots[s].sector = sector;
    slots[s].nsect = nsect;
    return blkfront_queue(bf, write ? BLKIF_OP_WRITE : BLKIF_OP_READ, sector, segs, n, s + 1);
}

/* Pages of slot s whose first 8 bytes are not their disk offset. */
static unsigned int check_read(unsigned int s)
{
    unsigned int n = (slots[s].nsect + SECT_PER_PAGE - 1) / SECT_PER_PAGE, bad = 0;

    for (unsigned int i = 0; i < n; i++)
        if (*(volatile uint64_t *)bufs[s][i] != (slots[s].sector + i * SECT_PER_PAGE) * 512)
            bad++;
    return bad;
}

/* One pass over the disk; errors counted into *errors, elapsed ns returned (0: gave up). */
static uint64_t pass(struct blkfront *bf, int write, unsigned int qd, int verify,
                     unsigned int *errors)
{
    uint64_t next = 0, total = bf->sectors, start, end;
    unsigned int s;
    int rc, status;
    uint64_t id;

    start = xen_now_ns();
    for (s = 0; s < qd && next < total; s++) {
        unsigned int nsect = total - next < SECT_PER_REQ ? (unsigned int)(total - next) : SECT_PER_REQ;

        if ((rc = queue(bf, write, s, next, nsect)) != 0) {
            printf("blk-bench: queue: %d\n", rc);
            (*errors)++;
            return 0;
        }
        next += nsect;
    }
    blkfront_kick(bf);
    while (blkfront_in_flight(bf) > 0) {
        if ((rc = blkfront_next_response(bf, &id, &status)) != 0) {
            printf("blk-bench: no response (%d), %u in flight\n", rc, blkfront_in_flight(bf));
            (*errors)++;
            return 0;
        }
        if (id < 1 || id > qd) {
            printf("blk-bench: response with unknown id %llu\n", (unsigned long long)id);
            (*errors)++;
            return 0;
        }
        s = (unsigned int)(id - 1);
        if (status != BLKIF_RSP_OKAY) {
            if (*errors < 10)
                printf("blk-bench: sector %llu: status %d\n",
                       (unsigned long long)slots[s].sector, status);
            (*errors)++;
        } else if (!write && verify) {
            *errors += check_read(s);
        }
        if (next < total) {
            unsigned int nsect = total - next < SECT_PER_REQ ? (unsigned int)(total - next) : SECT_PER_REQ;

            if ((rc = queue(bf, write, s, next, nsect)) != 0) {
                printf("blk-bench: queue: %d\n", rc);
                (*errors)++;
                return 0;
            }
            next += nsect;
            blkfront_kick(bf);
        }
    }
    if (write && bf->feature_flush) {
        /* Nothing is in flight now, so the synchronous call may be used. */
        rc = blkfront_flush(bf);
        if (rc != BLKIF_RSP_OKAY) {
            printf("blk-bench: flush: %d\n", rc);
            (*errors)++;
        }
    }
    end = xen_now_ns();
    return end - start;
}

int guest_main(const struct hvm_start_info *si)
{
    struct blkfront bf;
    char opname[8];
    unsigned int qd, passes, errors = 0;
    int write, verify, rc;
    uint64_t wait_ns;

    cmdline_init(si);
    test_guest = "blk-bench";
    if (cmdline_str("op", opname, sizeof(opname)) < 0)
        memcpy(opname, "read", 5);
    write = strcmp(opname, "write") == 0;
    qd = (unsigned int)cmdline_ull("qd", 1);
    passes = (unsigned int)cmdline_ull("passes", 4);
    verify = cmdline_ull("verify", 1) != 0;
    wait_ns = cmdline_ull("wait-ms", 20000) * MS;
    if (qd < 1 || qd > MAX_QD)
        test_abort("qd=%u (1..%u)", qd, MAX_QD);
    if (!write && strcmp(opname, "read") != 0)
        test_abort("op=%s (read or write)", opname);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    if ((rc = (int)evtchn_init()) != 0)
        test_abort("evtchn_init: %d", rc);
    if ((rc = (int)gnttab_init(1)) != 0)
        test_abort("gnttab_init: %d", rc);
    if (gnttab_entries() < DATA_REF0 + MAX_QD * SEGS)
        test_abort("only %u grant entries", gnttab_entries());
    if ((rc = blkfront_init(&bf, 0, RING_REF, wait_ns)) != 0)
        test_abort("blkfront_init: %d (%s)", rc, xs_errname(rc));
    if (qd > bf.ring_size)
        test_abort("qd=%u but the ring has %u entries", qd, bf.ring_size);
    if (write && bf.read_only)
        test_abort("op=write on a read-only disk");
    printf("blk-bench: op=%s qd=%u passes=%u sectors=%llu segments=%u flush=%d\n",
           write ? "write" : "read", qd, passes, (unsigned long long)bf.sectors, SEGS,
           bf.feature_flush);

    for (unsigned int s = 0; s < qd; s++)
        for (unsigned int i = 0; i < SEGS; i++)
            gnttab_grant(DATA_REF0 + s * SEGS + i, bf.backend_id,
                         (uint32_t)bufs[s][i] >> 12, write);

    for (unsigned int p = 0; p < passes; p++) {
        unsigned int before = errors;
        uint64_t ns = pass(&bf, write, qd, verify, &errors);

        if (ns == 0)
            break;
        printf("INFO blkbench op=%s qd=%u pass=%u bytes=%llu ns=%llu errors=%u\n",
               write ? "write" : "read", qd, p, (unsigned long long)(bf.sectors * 512),
               (unsigned long long)ns, errors - before);
    }

    for (unsigned int s = 0; s < qd; s++)
        for (unsigned int i = 0; i < SEGS; i++)
            gnttab_revoke(DATA_REF0 + s * SEGS + i);
    rc = blkfront_close(&bf);
    if (rc != 0) {
        printf("blk-bench: close: %d (%s)\n", rc, xs_errname(rc));
        errors++;
    }
    printf("blk-bench: done errors=%u\n", errors);
    return errors != 0;
}
