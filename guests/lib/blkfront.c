/*
 * Minimal blkfront: see blkfront.h.  The xenbus side reads and writes
 * nodes with lib/xenstore.c, polling the backend's state every millisecond
 * (no watches needed); the ring side is io/ring.h's front ring with
 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY and RING_FINAL_CHECK_FOR_RESPONSES.
 */
#include "guest.h"
#include "blkfront.h"

XEN_ABI_SIZE(struct blkif_request, 108);
XEN_ABI_SIZE(struct blkif_response, 12);
XEN_ABI_OFF(struct blkif_request, id, 4);
XEN_ABI_OFF(struct blkif_request, sector_number, 12);
XEN_ABI_OFF(struct blkif_request, seg, 20);
XEN_ABI_OFF(struct blkif_sring, ring, 64);

#define MS 1000000ull

static uint8_t ring_page[4096] __attribute__((aligned(4096)));

static uint64_t parse_u64(const char *s, int *ok)
{
    uint64_t v = 0;

    *ok = *s != '\0';
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            *ok = 0;
            return 0;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* An absolute node as a number; dflt when missing or not a number. */
static uint64_t read_u64(const char *path, uint64_t dflt)
{
    char buf[32];
    int ok;
    uint64_t v;

    if (xs_read(path, buf, sizeof(buf)) < 0)
        return dflt;
    v = parse_u64(buf, &ok);
    return ok ? v : dflt;
}

static int write_u64(const char *path, uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return xs_write(path, buf);
}

static int node(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);

    return n > 0 && (size_t)n < size ? 0 : -XEN_E2BIG;
}

int blkfront_backend_state(struct blkfront *bf)
{
    char path[128];
    char buf[16];
    int ok, rc;
    uint64_t v;

    if ((rc = node(path, sizeof(path), bf->be, "state")) < 0)
        return rc;
    if ((rc = xs_read(path, buf, sizeof(buf))) < 0)
        return rc;
    v = parse_u64(buf, &ok);
    return ok ? (int)v : -XEN_EIO;
}

/* Waits until the backend's state is want; -XEN_EIO if it closes first. */
static int wait_backend(struct blkfront *bf, int want)
{
    uint64_t deadline = xen_now_ns() + bf->timeout_ns;

    for (;;) {
        int st = blkfront_backend_state(bf);

        if (st == want)
            return 0;
        if (want < XENBUS_STATE_CLOSING &&
            (st == XENBUS_STATE_CLOSING || st == XENBUS_STATE_CLOSED))
            return -XEN_EIO;
        if (xen_now_ns() >= deadline)
            return -XEN_ETIMEDOUT;
        xen_sleep_ns(1 * MS);
    }
}

static int set_state(struct blkfront *bf, int state)
{
    char path[64];
    int rc = node(path, sizeof(path), bf->fe, "state");

    return rc < 0 ? rc : write_u64(path, (uint64_t)state);
}

int blkfront_init(struct blkfront *bf, unsigned int index, uint32_t ring_ref,
                  uint64_t timeout_ns)
{
    char list[256], path[128], buf[96];
    const char *p = list;
    int n, rc, ok;
    long lrc;

    memset(bf, 0, sizeof(*bf));
    bf->timeout_ns = timeout_ns;
    n = xs_directory("device/vbd", list, sizeof(list));
    if (n < 0)
        return n;
    if ((unsigned int)n <= index)
        return -XEN_ENOENT;
    for (unsigned int i = 0; i < index; i++)
        p += strlen(p) + 1;
    bf->devid = (unsigned int)parse_u64(p, &ok);
    if (!ok)
        return -XEN_EIO;
    snprintf(bf->fe, sizeof(bf->fe), "device/vbd/%u", bf->devid);

    if ((rc = node(path, sizeof(path), bf->fe, "backend")) < 0 ||
        (rc = xs_read(path, bf->be, sizeof(bf->be))) < 0)
        return rc;
    if (node(path, sizeof(path), bf->fe, "backend-id") < 0)
        return -XEN_E2BIG;
    bf->backend_id = (uint16_t)read_u64(path, 0);

    if ((rc = wait_backend(bf, XENBUS_STATE_INITWAIT)) < 0)
        return rc;
    node(path, sizeof(path), bf->be, "sectors");
    bf->sectors = read_u64(path, 0);
    node(path, sizeof(path), bf->be, "sector-size");
    bf->sector_size = (unsigned int)read_u64(path, 512);
    node(path, sizeof(path), bf->be, "feature-flush-cache");
    bf->feature_flush = read_u64(path, 0) == 1;
    node(path, sizeof(path), bf->be, "feature-barrier");
    bf->feature_barrier = read_u64(path, 0) == 1;
    node(path, sizeof(path), bf->be, "mode");
    bf->read_only = xs_read(path, buf, sizeof(buf)) >= 0 && buf[0] == 'r';

    /* SHARED_RING_INIT + FRONT_RING_INIT, then grant the page. */
    memset(ring_page, 0, sizeof(ring_page));
    bf->sring = (volatile struct blkif_sring *)ring_page;
    bf->sring->req_event = 1;
    bf->sring->rsp_event = 1;
    bf->ring_size = 32;     /* (4096 - 64) / 108 = 37, rounded down to 2^n */
    bf->ring_ref = ring_ref;
    gnttab_grant(ring_ref, bf->backend_id, (uint32_t)ring_page >> 12, 0);

    if ((lrc = evtchn_alloc_unbound(bf->backend_id, &bf->port)) != 0)
        return (int)lrc;

    node(path, sizeof(path), bf->fe, "ring-ref");
    if ((rc = write_u64(path, ring_ref)) < 0)
        return rc;
    node(path, sizeof(path), bf->fe, "event-channel");
    if ((rc = write_u64(path, bf->port)) < 0)
        return rc;
    node(path, sizeof(path), bf->fe, "protocol");
    if ((rc = xs_write(path, "x86_32-abi")) < 0)
        return rc;
    if ((rc = set_state(bf, XENBUS_STATE_INITIALISED)) < 0)
        return rc;
    if ((rc = wait_backend(bf, XENBUS_STATE_CONNECTED)) < 0)
        return rc;
    /* The backend marked the port pending when it bound it. */
    evtchn_clear(bf->port);
    return set_state(bf, XENBUS_STATE_CONNECTED);
}

/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY */
static void push(struct blkfront *bf)
{
    uint32_t old = bf->sring->req_prod;
    uint32_t new = bf->req_prod_pvt;

    barrier();                      /* the request before req_prod */
    bf->sring->req_prod = new;
    __sync_synchronize();           /* req_prod before reading req_event */
    if ((uint32_t)(new - bf->sring->req_event) < (uint32_t)(new - old))
        evtchn_send(bf->port);
}

/* Waits for the response to id (one request is outstanding at a time). */
static int wait_response(struct blkfront *bf, uint64_t id)
{
    uint64_t deadline = xen_now_ns() + bf->timeout_ns;

    for (;;) {
        if (bf->sring->rsp_prod != bf->rsp_cons) {
            volatile struct blkif_response *r;
            int16_t status;
            uint64_t rid;

            __sync_synchronize();   /* rsp_prod before the response */
            r = &bf->sring->ring[bf->rsp_cons & (bf->ring_size - 1)].rsp;
            rid = r->id;
            status = r->status;
            bf->rsp_cons++;
            return rid == id ? status : -XEN_EIO;
        }
        /* RING_FINAL_CHECK_FOR_RESPONSES: ask for a notification, recheck. */
        bf->sring->rsp_event = bf->rsp_cons + 1;
        __sync_synchronize();
        if (bf->sring->rsp_prod != bf->rsp_cons)
            continue;
        if (xen_now_ns() >= deadline)
            return -XEN_ETIMEDOUT;
        evtchn_wait(bf->port, 10 * MS);
    }
}

int blkfront_submit(struct blkfront *bf, uint8_t op, uint64_t sector,
                    const struct blkif_request_segment *segs, unsigned int n)
{
    uint64_t id = ++bf->next_id;
    int rc = blkfront_queue(bf, op, sector, segs, n, id);

    if (rc != 0)
        return rc;
    push(bf);
    return wait_response(bf, id);
}

int blkfront_rw(struct blkfront *bf, int write, uint64_t sector, void *page,
                unsigned int nsect, uint32_t gref)
{
    struct blkif_request_segment seg = {
        .gref = gref, .first_sect = 0, .last_sect = (uint8_t)(nsect - 1),
    };
    int rc;

    if (nsect < 1 || nsect > 8 || ((uint32_t)page & 4095))
        return -XEN_EINVAL;
    /* The backend writes into the page for a read, only reads it for a write. */
    gnttab_grant(gref, bf->backend_id, (uint32_t)page >> 12, write);
    rc = blkfront_submit(bf, write ? BLKIF_OP_WRITE : BLKIF_OP_READ, sector, &seg, 1);
    gnttab_revoke(gref);
    return rc;
}

int blkfront_flush(struct blkfront *bf)
{
    return blkfront_submit(bf, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0);
}

int blkfront_queue(struct blkfront *bf, uint8_t op, uint64_t sector,
                   const struct blkif_request_segment *segs, unsigned int n,
                   uint64_t id)
{
    volatile struct blkif_request *req;

    if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return -XEN_EINVAL;
    if (blkfront_in_flight(bf) >= bf->ring_size)
        return -XEN_EAGAIN;
    req = &bf->sring->ring[bf->req_prod_pvt & (bf->ring_size - 1)].req;
    req->operation = op;
    req->nr_segments = (uint8_t)n;
    req->handle = (uint16_t)bf->devid;
    req->id = id;
    req->sector_number = sector;
    for (unsigned int i = 0; i < n; i++) {
        req->seg[i].gref = segs[i].gref;
        req->seg[i].first_sect = segs[i].first_sect;
        req->seg[i].last_sect = segs[i].last_sect;
    }
    bf->req_prod_pvt++;
    return 0;
}

void blkfront_kick(struct blkfront *bf)
{
    if (bf->sring->req_prod != bf->req_prod_pvt)
        push(bf);
}

unsigned int blkfront_in_flight(const struct blkfront *bf)
{
    return bf->req_prod_pvt - bf->rsp_cons;
}

int blkfront_next_response(struct blkfront *bf, uint64_t *id, int *status)
{
    uint64_t deadline = 0;

    for (;;) {
        if (bf->sring->rsp_prod != bf->rsp_cons) {
            volatile struct blkif_response *r;

            __sync_synchronize();   /* rsp_prod before the response */
            r = &bf->sring->ring[bf->rsp_cons & (bf->ring_size - 1)].rsp;
            *id = r->id;
            *status = r->status;
            bf->rsp_cons++;
            return 0;
        }
        /* RING_FINAL_CHECK_FOR_RESPONSES: ask for a notification, recheck. */
        bf->sring->rsp_event = bf->rsp_cons + 1;
        __sync_synchronize();
        if (bf->sring->rsp_prod != bf->rsp_cons)
            continue;
        if (deadline == 0)
            deadline = xen_now_ns() + bf->timeout_ns;
        else if (xen_now_ns() >= deadline)
            return -XEN_ETIMEDOUT;
        evtchn_wait(bf->port, 10 * MS);
    }
}

int blkfront_close(struct blkfront *bf)
{
    int rc;

    if ((rc = set_state(bf, XENBUS_STATE_CLOSING)) < 0)
        return rc;
    {
        uint64_t deadline = xen_now_ns() + bf->timeout_ns;
        int st;

        while ((st = blkfront_backend_state(bf)) != XENBUS_STATE_CLOSING &&
               st != XENBUS_STATE_CLOSED) {
            if (xen_now_ns() >= deadline)
                return -XEN_ETIMEDOUT;
            xen_sleep_ns(1 * MS);
        }
    }
    if ((rc = set_state(bf, XENBUS_STATE_CLOSED)) < 0)
        return rc;
    if ((rc = wait_backend(bf, XENBUS_STATE_CLOSED)) < 0)
        return rc;
    gnttab_revoke(bf->ring_ref);
    evtchn_close(bf->port);
    return 0;
}
