/*
 * XenStore client over the shared ring page (docs/misc/xenstore.txt and
 * xenstore-ring.txt describe the protocol).
 *
 * The guest takes no interrupts, so the client polls: it writes a request
 * into the req ring, signals the store event channel and then checks
 * rsp_prod, calling SCHEDOP_yield between checks, until the reply with its
 * req_id is complete.  Watch events that arrive meanwhile are queued for
 * xs_wait_watch().  One request is in flight at a time; the client is not
 * reentrant (use it from one vCPU).
 */
#include "guest.h"

#define RING_MASK(i) ((i) & (XENSTORE_RING_SIZE - 1))
#define HDR_SIZE     sizeof(struct xsd_sockmsg)
#define EVENT_SLOTS  8

/* Full barrier; x86 keeps loads and stores in order otherwise, so rmb/wmb
 * only have to stop the compiler. */
#define xs_mb()  asm volatile("lock; addl $0, 0(%%esp)" ::: "memory")
#define xs_rmb() barrier()
#define xs_wmb() barrier()

static volatile struct xenstore_domain_interface *ring;
static uint32_t store_port;
static int state;                    /* 0: not set up, 1: ready, < 0: -errno */
static uint32_t next_req_id = 1;
static uint32_t want_req_id;         /* 0: no request waiting for a reply */

/* The message being received: header, then payload (NUL-terminated). */
static struct xsd_sockmsg rx_hdr;
static char rx_body[XENSTORE_PAYLOAD_MAX + 1];
static uint32_t rx_got;              /* header + payload bytes so far */

/* The awaited reply, copied out of rx when it is complete. */
static struct xsd_sockmsg reply_hdr;
static char reply_body[XENSTORE_PAYLOAD_MAX + 1];
static int reply_ready;

/* The request payload being built. */
static char tx_body[XENSTORE_PAYLOAD_MAX];

/* Watch events received while waiting for something else. */
static struct {
    uint32_t len;
    char body[XENSTORE_PAYLOAD_MAX + 1];
} events[EVENT_SLOTS];
static unsigned int ev_head, ev_count;
static unsigned int ev_dropped, stray_replies, timeouts;

static const struct {
    const char *name;
    int err;
} errors[] = {
    { "EINVAL", XEN_EINVAL },   { "EACCES", XEN_EACCES },
    { "EEXIST", XEN_EEXIST },   { "EISDIR", XEN_EISDIR },
    { "ENOENT", XEN_ENOENT },   { "ENOMEM", XEN_ENOMEM },
    { "ENOSPC", XEN_ENOSPC },   { "EIO", XEN_EIO },
    { "ENOTEMPTY", XEN_ENOTEMPTY }, { "ENOSYS", XEN_ENOSYS },
    { "EROFS", XEN_EROFS },     { "EBUSY", XEN_EBUSY },
    { "EAGAIN", XEN_EAGAIN },   { "EISCONN", XEN_EISCONN },
    { "E2BIG", XEN_E2BIG },     { "EPERM", XEN_EPERM },
    { "ETIMEDOUT", XEN_ETIMEDOUT }, /* local only: no reply in time */
};

const char *xs_errname(int err)
{
    unsigned int i;

    if (err < 0)
        err = -err;
    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].err == err)
            return errors[i].name;
    return err ? "E?" : "OK";
}

/* An ERROR reply's payload ("EACCES\0") as -errno; unknown names are -EIO. */
static int error_from_reply(const char *s, uint32_t len)
{
    unsigned int i;
    size_t n = strnlen(s, len);

    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (strlen(errors[i].name) == n && memcmp(errors[i].name, s, n) == 0)
            return -errors[i].err;
    return -XEN_EIO;
}

unsigned int xs_dropped_events(void)
{
    return ev_dropped;
}

unsigned int xs_stray_replies(void)
{
    return stray_replies;
}

unsigned int xs_timeouts(void)
{
    return timeouts;
}

/* The connection is unusable from now on (stream out of sync or server
 * error); every later call returns err. */
static int fail(int err)
{
    state = err;
    want_req_id = 0;
    reply_ready = 0;
    return err;
}

static int ring_broken(void)
{
    if ((ring->server_features & XENSTORE_SERVER_FEATURE_ERROR) && ring->error)
        return 1;
    return ring->req_prod - ring->req_cons > XENSTORE_RING_SIZE ||
           ring->rsp_prod - ring->rsp_cons > XENSTORE_RING_SIZE;
}

int xs_init(void)
{
    uint64_t pfn = 0, port = 0;
    unsigned int polls;

    if (state)
        return state > 0 ? 0 : state;
    if (!xen_cpuid_base || hvm_get_param(HVM_PARAM_STORE_PFN, &pfn) != 0 ||
        hvm_get_param(HVM_PARAM_STORE_EVTCHN, &port) != 0 || pfn == 0 ||
        port == 0)
        return fail(-XEN_ENOENT);
    if (pfn >= (1ull << 20))           /* must be reachable without paging */
        return fail(-XEN_EINVAL);
    ring = (volatile struct xenstore_domain_interface *)((uint32_t)pfn << 12);
    store_port = (uint32_t)port;

    /* A reconnect in progress: wait until the server reports "connected". */
    for (polls = 0; (ring->server_features & XENSTORE_SERVER_FEATURE_RECONNECTION) &&
                    ring->connection != XENSTORE_CONNECTED; polls++) {
        if (polls >= XS_POLL_LIMIT)
            return fail(-XEN_ETIMEDOUT);
        sched_yield();
    }
    xs_mb();
    if (ring_broken())
        return fail(-XEN_EIO);
    state = 1;
    return 0;
}

static void queue_event(void)
{
    unsigned int slot;

    if (ev_count == EVENT_SLOTS) {
        ev_dropped++;
        return;
    }
    slot = (ev_head + ev_count) % EVENT_SLOTS;
    events[slot].len = rx_hdr.len;
    memcpy(events[slot].body, rx_body, rx_hdr.len + 1);
    ev_count++;
}

/* A whole message is in rx: queue it, keep it as the reply, or drop it. */
static void deliver(void)
{
    if (rx_hdr.type == XS_WATCH_EVENT) {
        queue_event();
    } else if (want_req_id && rx_hdr.req_id == want_req_id && !reply_ready) {
        reply_hdr = rx_hdr;
        memcpy(reply_body, rx_body, rx_hdr.len + 1);
        reply_ready = 1;
    } else {
        stray_replies++;        /* e.g. the late reply to a timed-out request */
    }
}

/*
 * Consumes everything the server has written to the rsp ring, then
 * advances rsp_cons and signals the server.  Returns 0 or -errno.
 */
static int pump(void)
{
    uint32_t cons, prod, start;

    if (state < 0)
        return state;
    if (ring_broken())
        return fail(-XEN_EIO);
    cons = start = ring->rsp_cons;
    prod = ring->rsp_prod;
    xs_rmb();                   /* the index before the data it covers */
    while (cons != prod) {
        char c = ring->rsp[RING_MASK(cons)];

        cons++;
        if (rx_got < HDR_SIZE) {
            ((char *)&rx_hdr)[rx_got++] = c;
            if (rx_got == HDR_SIZE && rx_hdr.len > XENSTORE_PAYLOAD_MAX)
                return fail(-XEN_EIO);
        } else {
            rx_body[rx_got++ - HDR_SIZE] = c;
        }
        if (rx_got >= HDR_SIZE && rx_got == HDR_SIZE + rx_hdr.len) {
            rx_body[rx_hdr.len] = '\0';
            rx_got = 0;
            deliver();
        }
    }
    if (cons != start) {
        xs_mb();                /* finish reading before freeing the space */
        ring->rsp_cons = cons;
        evtchn_send(store_port);
    }
    return 0;
}

/* Copies bytes into the req ring, waiting (bounded) for space as needed. */
static int ring_write(const char *data, size_t len)
{
    unsigned int polls = 0;

    while (len) {
        uint32_t cons = ring->req_cons, prod = ring->req_prod, space, n, i;
        int rc;

        xs_mb();                /* read req_cons before reusing the space */
        if (prod - cons > XENSTORE_RING_SIZE)
            return fail(-XEN_EIO);
        space = XENSTORE_RING_SIZE - (prod - cons);
        if (!space) {
            rc = pump();        /* the server may be waiting for rsp space */
            if (rc < 0)
                return rc;
            if (++polls > XS_POLL_LIMIT)
                return fail(-XEN_ETIMEDOUT);  /* part of a message is out */
            sched_yield();
            continue;
        }
        n = len < space ? len : space;
        for (i = 0; i < n; i++)
            ring->req[RING_MASK(prod + i)] = data[i];
        xs_wmb();               /* the data before the index that covers it */
        ring->req_prod = prod + n;
        evtchn_send(store_port);
        data += n;
        len -= n;
        polls = 0;
    }
    return 0;
}

int xs_request(uint32_t tx, uint32_t type, const void *payload, size_t len)
{
    struct xsd_sockmsg hdr;
    unsigned int polls;
    int rc;

    rc = xs_init();
    if (rc < 0)
        return rc;
    if (len > XENSTORE_PAYLOAD_MAX)     /* xenstored would drop the connection */
        return -XEN_E2BIG;
    if (payload != tx_body)
        memcpy(tx_body, payload, len);

    hdr.type = type;
    hdr.req_id = next_req_id++;
    if (next_req_id == 0)
        next_req_id = 1;
    hdr.tx_id = tx;
    hdr.len = len;
    want_req_id = hdr.req_id;
    reply_ready = 0;
    rc = ring_write((const char *)&hdr, sizeof(hdr));
    if (rc == 0)
        rc = ring_write(tx_body, len);
    if (rc < 0)
        return rc;

    for (polls = 0; ; polls++) {
        rc = pump();
        if (rc < 0)
            return rc;
        if (reply_ready)
            break;
        if (polls >= XS_POLL_LIMIT) {
            want_req_id = 0;    /* a late reply will be dropped */
            timeouts++;
            return -XEN_ETIMEDOUT;
        }
        sched_yield();
    }
    want_req_id = 0;
    reply_ready = 0;
    if (reply_hdr.type == XS_ERROR)
        return error_from_reply(reply_body, reply_hdr.len);
    if (reply_hdr.type != type)         /* matched by req_id alone */
        return -XEN_EIO;
    return reply_hdr.len;
}

const char *xs_reply(void)
{
    return reply_body;
}

/* ---- payload building: strings with or without their NUL ---- */

static int add(size_t *len, const char *s, int nul)
{
    size_t n;

    if (!s)
        return -XEN_EINVAL;
    n = strlen(s) + (nul ? 1 : 0);
    if (*len + n > sizeof(tx_body))
        return -XEN_E2BIG;
    memcpy(tx_body + *len, s, n);
    *len += n;
    return 0;
}

/* Sends "a\0" or "a\0b\0"; returns the reply length or -errno. */
static int send_strings(uint32_t tx, uint32_t type, const char *a, const char *b)
{
    size_t len = 0;
    int rc;

    if ((rc = add(&len, a, 1)) < 0 || (b && (rc = add(&len, b, 1)) < 0))
        return rc;
    return xs_request(tx, type, tx_body, len);
}

/* Copies the reply into buf as a C string; returns the full length. */
static int copy_string(int rc, char *buf, size_t size)
{
    size_t n;

    if (rc < 0 || !buf || !size)
        return rc;
    n = (size_t)rc < size - 1 ? (size_t)rc : size - 1;
    memcpy(buf, reply_body, n);
    buf[n] = '\0';
    return rc;
}

/* Copies a reply of NUL-terminated strings into buf, followed by an empty
 * string; returns how many strings there are. */
static int copy_list(int rc, char *buf, size_t size)
{
    int count = 0, i;

    if (rc < 0)
        return rc;
    if (rc > 0 && reply_body[rc - 1] != '\0')
        rc++;                   /* unterminated last string: reply_body has a NUL */
    if (!buf || (size_t)rc + 1 > size)
        return -XEN_E2BIG;
    memcpy(buf, reply_body, rc);
    buf[rc] = '\0';
    for (i = 0; i < rc; i++)
        count += buf[i] == '\0';
    return count;
}

static int ok_or_error(int rc)
{
    return rc < 0 ? rc : 0;
}

/* ---- operations ---- */

int xs_read_tx(uint32_t tx, const char *path, char *buf, size_t size)
{
    return copy_string(send_strings(tx, XS_READ, path, NULL), buf, size);
}

int xs_write_tx(uint32_t tx, const char *path, const char *value)
{
    size_t len = 0;
    int rc;

    if ((rc = add(&len, path, 1)) < 0 || (rc = add(&len, value, 0)) < 0)
        return rc;
    return ok_or_error(xs_request(tx, XS_WRITE, tx_body, len));
}

int xs_mkdir_tx(uint32_t tx, const char *path)
{
    return ok_or_error(send_strings(tx, XS_MKDIR, path, NULL));
}

int xs_rm_tx(uint32_t tx, const char *path)
{
    return ok_or_error(send_strings(tx, XS_RM, path, NULL));
}

int xs_directory_tx(uint32_t tx, const char *path, char *buf, size_t size)
{
    return copy_list(send_strings(tx, XS_DIRECTORY, path, NULL), buf, size);
}

int xs_get_perms_tx(uint32_t tx, const char *path, char *buf, size_t size)
{
    return copy_list(send_strings(tx, XS_GET_PERMS, path, NULL), buf, size);
}

int xs_set_perms_tx(uint32_t tx, const char *path, const char *const *perms,
                    unsigned int n)
{
    size_t len = 0;
    unsigned int i;
    int rc;

    if ((rc = add(&len, path, 1)) < 0)
        return rc;
    for (i = 0; i < n; i++)
        if ((rc = add(&len, perms[i], 1)) < 0)
            return rc;
    return ok_or_error(xs_request(tx, XS_SET_PERMS, tx_body, len));
}

int xs_watch(const char *path, const char *token)
{
    return ok_or_error(send_strings(0, XS_WATCH, path, token));
}

int xs_unwatch(const char *path, const char *token)
{
    return ok_or_error(send_strings(0, XS_UNWATCH, path, token));
}

int xs_transaction_start(uint32_t *tx)
{
    int rc = send_strings(0, XS_TRANSACTION_START, "", NULL);
    uint32_t id = 0;
    const char *p;

    if (rc < 0)
        return rc;
    for (p = reply_body; *p >= '0' && *p <= '9'; p++)
        id = id * 10 + (*p - '0');
    if (p == reply_body || *p || id == 0)
        return -XEN_EIO;
    *tx = id;
    return 0;
}

int xs_transaction_end(uint32_t tx, int commit)
{
    return ok_or_error(send_strings(tx, XS_TRANSACTION_END, commit ? "T" : "F",
                                    NULL));
}

int xs_get_domain_path(unsigned int domid, char *buf, size_t size)
{
    char id[12];

    snprintf(id, sizeof(id), "%u", domid);
    return copy_string(send_strings(0, XS_GET_DOMAIN_PATH, id, NULL), buf, size);
}

static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n;

    if (!dst || !size)
        return;
    n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int xs_wait_watch(char *path, size_t path_size, char *token, size_t token_size,
                  unsigned long max_polls)
{
    unsigned long polls;
    const char *body, *tok;
    uint32_t len;
    int rc;

    rc = xs_init();
    if (rc < 0)
        return rc;
    for (polls = 0; !ev_count; polls++) {
        rc = pump();
        if (rc < 0)
            return rc;
        if (ev_count)
            break;
        if (polls >= max_polls)
            return -XEN_ETIMEDOUT;
        sched_yield();
    }
    body = events[ev_head].body;
    len = events[ev_head].len;
    tok = body + strnlen(body, len);            /* "<path>\0<token>\0" */
    tok += tok < body + len;
    copy_field(path, path_size, body);
    copy_field(token, token_size, tok);
    ev_head = (ev_head + 1) % EVENT_SLOTS;
    ev_count--;
    return 0;
}

unsigned int xs_pending_events(void)
{
    return ev_count;
}
