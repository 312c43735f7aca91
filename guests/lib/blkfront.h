/*
 * A minimal Xen PV block frontend (blkfront) for the test guests: the
 * xenbus handshake through XenStore, one single-page shared ring granted to
 * the backend, one event channel offered to it, and synchronous requests
 * (one at a time: issue, kick if the backend asked, wait for the response).
 * Ring layout and request structures follow io/ring.h and io/blkif.h in the
 * i386 ("x86_32-abi") layout, which this 32-bit guest writes to the
 * frontend's protocol node.  Interrupts stay off: responses are awaited with
 * SCHEDOP_poll on the port (lib/evtchn.c), so evtchn_init() must have run.
 * Grant table v1 must be set up (gnttab_init(1)).
 */
#ifndef GUESTS_BLKFRONT_H
#define GUESTS_BLKFRONT_H

#include <stdint.h>

#define BLKIF_OP_READ             0
#define BLKIF_OP_WRITE            1
#define BLKIF_OP_WRITE_BARRIER    2
#define BLKIF_OP_FLUSH_DISKCACHE  3
#define BLKIF_OP_DISCARD          5
#define BLKIF_MAX_SEGMENTS_PER_REQUEST 11

#define BLKIF_RSP_EOPNOTSUPP  -2
#define BLKIF_RSP_ERROR       -1
#define BLKIF_RSP_OKAY         0

#define XENBUS_STATE_INITIALISING 1
#define XENBUS_STATE_INITWAIT     2
#define XENBUS_STATE_INITIALISED  3
#define XENBUS_STATE_CONNECTED    4
#define XENBUS_STATE_CLOSING      5
#define XENBUS_STATE_CLOSED       6

struct blkif_request_segment {
    uint32_t gref;
    uint8_t first_sect, last_sect;
    uint16_t _pad;
};

struct blkif_request {
    uint8_t operation;
    uint8_t nr_segments;
    uint16_t handle;
    uint64_t id;                 /* i386: 4-byte aligned, so at offset 4 */
    uint64_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blkif_response {
    uint64_t id;
    uint8_t operation;
    uint8_t _pad;
    int16_t status;
};

union blkif_sring_entry {
    struct blkif_request req;
    struct blkif_response rsp;
};

struct blkif_sring {
    uint32_t req_prod, req_event;
    uint32_t rsp_prod, rsp_event;
    uint8_t pad[48];
    union blkif_sring_entry ring[];
};

/* One connected vbd. */
struct blkfront {
    unsigned int devid;          /* virtual-device, also the xenbus device id */
    uint16_t backend_id;
    char fe[48];                 /* device/vbd/<devid> (relative to our home) */
    char be[96];                 /* the backend's directory */
    uint32_t port;
    uint32_t ring_ref;
    uint64_t sectors;            /* in 512-byte units */
    unsigned int sector_size;
    int read_only;               /* the backend's mode is "r" */
    int feature_flush;
    int feature_barrier;
    unsigned int ring_size;
    uint32_t req_prod_pvt, rsp_cons;
    uint64_t next_id;
    uint64_t timeout_ns;         /* per wait (backend state, response) */
    volatile struct blkif_sring *sring;
};

/* Connects to the index-th device under device/vbd, using grant ref
 * ring_ref for the ring page: waits for the backend's InitWait, reads its
 * features and size, publishes ring-ref, event-channel and protocol, goes
 * Initialised and waits for Connected, then goes Connected.  0 or -errno
 * (-XEN_ENOENT: no such device; -XEN_ETIMEDOUT: the backend did not
 * answer; -XEN_EIO: the backend closed or sent nonsense). */
int blkfront_init(struct blkfront *bf, unsigned int index, uint32_t ring_ref,
                  uint64_t timeout_ns);

/* One request with up to 11 segments on page-aligned buffers already
 * granted to the backend (segs[i].gref); returns the response status
 * (BLKIF_RSP_*) or -XEN_ETIMEDOUT / -XEN_EIO. */
int blkfront_submit(struct blkfront *bf, uint8_t op, uint64_t sector,
                    const struct blkif_request_segment *segs, unsigned int n);

/* Reads or writes nsect (1..8) sectors at sector through one page-aligned
 * buffer, which is granted to the backend as gref for the request (writable
 * for reads) and revoked afterwards. */
int blkfront_rw(struct blkfront *bf, int write, uint64_t sector, void *page,
                unsigned int nsect, uint32_t gref);

int blkfront_flush(struct blkfront *bf);

/* ---- Several requests in flight ----
 * blkfront_queue() places one request (id chosen by the caller, echoed in
 * its response) on the ring without telling the backend: -XEN_EAGAIN when
 * all ring_size entries await responses.  blkfront_kick() publishes the
 * queued requests and notifies the backend if it asked to be
 * (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).  blkfront_next_response() takes
 * the next response in ring order, waiting up to timeout_ns for it:
 * 0 with *id and *status (BLKIF_RSP_*) set, or -XEN_ETIMEDOUT.
 * Do not mix with blkfront_submit()/blkfront_rw()/blkfront_flush() while
 * requests queued this way are in flight. */
int blkfront_queue(struct blkfront *bf, uint8_t op, uint64_t sector,
                   const struct blkif_request_segment *segs, unsigned int n,
                   uint64_t id);
void blkfront_kick(struct blkfront *bf);
/* Requests queued but not yet answered (taken by blkfront_next_response). */
unsigned int blkfront_in_flight(const struct blkfront *bf);
int blkfront_next_response(struct blkfront *bf, uint64_t *id, int *status);

/* Closing, then Closed once the backend has closed; 0 or -errno. */
int blkfront_close(struct blkfront *bf);

/* The backend's xenbus state (a number), or -errno. */
int blkfront_backend_state(struct blkfront *bf);

#endif
