/* The tiny runtime shared by the XenSharp test guests. */
#ifndef GUESTS_GUEST_H
#define GUESTS_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "xen.h"

/* Each guest provides this; its return value picks the shutdown reason
 * (0 -> SHUTDOWN_poweroff, anything else -> SHUTDOWN_crash). */
int guest_main(const struct hvm_start_info *si);

/* ---- CPU helpers ---- */
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a,
                         uint32_t *b, uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid"
                 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(subleaf));
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
    asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)val),
                 "d"((uint32_t)(val >> 32)) : "memory");
}

static inline void outb(uint16_t port, uint8_t val)
{
    asm volatile("outb %0, %1" :: "a"(val), "Nd"(port));
}

static inline void cpu_relax(void)
{
    asm volatile("pause" ::: "memory");
}

/* Compiler barrier; on x86 (TSO) it is also a store-store barrier. */
#define barrier() asm volatile("" ::: "memory")

/* ---- Xen interface (xen.c) ---- */
extern uint32_t xen_cpuid_base;    /* 0x40000x00, or 0 when Xen is absent */
extern uint8_t hypercall_page[4096];

/* Finds the Xen CPUID leaves and installs the hypercall page; 0 on success. */
int xen_init(void);

/* Raw hypercall number nr (< 128) through the hypercall page. */
long hypercall(unsigned int nr, unsigned long a1, unsigned long a2,
               unsigned long a3, unsigned long a4, unsigned long a5);

#define HC_ARG(x) ((unsigned long)(x))

static inline long xen_version(int cmd, void *arg)
{
    return hypercall(HC_xen_version, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long console_io(int cmd, unsigned int len, const void *buf)
{
    return hypercall(HC_console_io, cmd, len, HC_ARG(buf), 0, 0);
}
static inline long sched_op(int cmd, void *arg)
{
    return hypercall(HC_sched_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long event_channel_op(int cmd, void *arg)
{
    return hypercall(HC_event_channel_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long hvm_op(int op, void *arg)
{
    return hypercall(HC_hvm_op, op, HC_ARG(arg), 0, 0, 0);
}
static inline long memory_op(int cmd, void *arg)
{
    return hypercall(HC_memory_op, cmd, HC_ARG(arg), 0, 0, 0);
}
static inline long vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
    return hypercall(HC_vcpu_op, cmd, vcpu, HC_ARG(arg), 0, 0);
}

/* HVMOP_{get,set}_param on DOMID_SELF. */
long hvm_get_param(uint32_t index, uint64_t *value);
long hvm_set_param(uint32_t index, uint64_t value);
long evtchn_send(uint32_t port);
void sched_yield(void);
/* SCHEDOP_shutdown; halts if the hypercall returns (or Xen is absent). */
void __attribute__((noreturn)) shutdown(unsigned int reason);
void __attribute__((noreturn)) halt_forever(void);

/* ---- console (console.c) ---- */
#define CONSOLE_HYPERCALL (1u << 0) /* HYPERVISOR_console_io(CONSOLEIO_write) */
#define CONSOLE_RING      (1u << 1) /* PV console ring + event channel */
#define CONSOLE_DEBUGCON  (1u << 2) /* I/O port 0xE9 (fallback without Xen) */

/* Chooses where console output goes; returns the previous mask. */
unsigned int console_select(unsigned int mask);
/* Connects the PV console ring from HVM_PARAM_CONSOLE_{PFN,EVTCHN}. */
int console_ring_init(void);
void console_write(const char *buf, size_t len);
/* Input from the PV console ring: copies up to size bytes the backend put in
 * in[], advances in_cons and kicks the backend when it took any (the backend
 * may hold more).  Returns the count (0: nothing yet), -1 without a ring.
 * Does not wait: wait on console_ring_port() (evtchn_wait in evtchn.c), which the
 * backend notifies after it moved in_prod. */
int console_read(char *buf, size_t size);
/* The console ring's event channel, 0 without a ring. */
uint32_t console_ring_port(void);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- XenStore client (xenstore.c) ----
 *
 * Talks to xenstored over the ring at HVM_PARAM_STORE_PFN, signalling
 * HVM_PARAM_STORE_EVTCHN.  Without interrupts it polls rsp_prod, calling
 * SCHEDOP_yield between polls.  Not reentrant: use it from one vCPU.
 *
 * Every call returns a negative errno on failure: the errno named by an
 * XS_ERROR reply (-XEN_EACCES, -XEN_ENOENT, ...; unknown names give
 * -XEN_EIO), -XEN_ETIMEDOUT when no reply came within XS_POLL_LIMIT polls,
 * -XEN_E2BIG (without sending anything) when a request payload would
 * exceed XENSTORE_PAYLOAD_MAX, -XEN_ENOENT when the domain has no store,
 * and -XEN_EIO once the ring is unusable (bad indices, the server's error
 * field, a malformed reply).  Paths may be relative to the domain's home
 * (/local/domain/<domid>).  tx is a transaction id, XS_TX_NONE for none.
 */
#define XS_TX_NONE    0u
#define XS_POLL_LIMIT 200000u     /* polls per request before -ETIMEDOUT */

/* Connects to the ring (the other calls do it on first use); 0 or -errno. */
int xs_init(void);
/* Sends one raw request and waits for its reply; returns the reply payload
 * length (the payload, NUL-terminated, is at xs_reply()) or -errno. */
int xs_request(uint32_t tx, uint32_t type, const void *payload, size_t len);
const char *xs_reply(void);

/* Value of path into buf (NUL-terminated, truncated to size - 1 bytes);
 * returns the value's full length. */
int xs_read_tx(uint32_t tx, const char *path, char *buf, size_t size);
int xs_write_tx(uint32_t tx, const char *path, const char *value); /* 0 */
int xs_mkdir_tx(uint32_t tx, const char *path);                    /* 0 */
int xs_rm_tx(uint32_t tx, const char *path);                       /* 0 */
/* Child names (directory) or permission strings such as "b5", "r0"
 * (get_perms), stored in buf as consecutive NUL-terminated strings with an
 * empty string after the last; returns how many, or -XEN_E2BIG when buf is
 * too small. */
int xs_directory_tx(uint32_t tx, const char *path, char *buf, size_t size);
int xs_get_perms_tx(uint32_t tx, const char *path, char *buf, size_t size);
int xs_set_perms_tx(uint32_t tx, const char *path, const char *const *perms,
                    unsigned int n);                               /* 0 */

static inline int xs_read(const char *path, char *buf, size_t size)
{
    return xs_read_tx(XS_TX_NONE, path, buf, size);
}
static inline int xs_write(const char *path, const char *value)
{
    return xs_write_tx(XS_TX_NONE, path, value);
}
static inline int xs_mkdir(const char *path)
{
    return xs_mkdir_tx(XS_TX_NONE, path);
}
static inline int xs_rm(const char *path)
{
    return xs_rm_tx(XS_TX_NONE, path);
}
static inline int xs_directory(const char *path, char *buf, size_t size)
{
    return xs_directory_tx(XS_TX_NONE, path, buf, size);
}
static inline int xs_get_perms(const char *path, char *buf, size_t size)
{
    return xs_get_perms_tx(XS_TX_NONE, path, buf, size);
}
static inline int xs_set_perms(const char *path, const char *const *perms,
                               unsigned int n)
{
    return xs_set_perms_tx(XS_TX_NONE, path, perms, n);
}

int xs_watch(const char *path, const char *token);                 /* 0 */
int xs_unwatch(const char *path, const char *token);               /* 0 */
int xs_transaction_start(uint32_t *tx);                            /* 0 */
/* commit != 0 commits (-XEN_EAGAIN: conflict, retry), 0 discards. */
int xs_transaction_end(uint32_t tx, int commit);                   /* 0 */
/* "/local/domain/<domid>" into buf; returns its length. */
int xs_get_domain_path(unsigned int domid, char *buf, size_t size);
/* The next XS_WATCH_EVENT (events that came in while other replies were
 * awaited are queued, 8 at most): copies its path and token (truncated to
 * fit) and returns 0, or -XEN_ETIMEDOUT after max_polls empty polls. */
int xs_wait_watch(char *path, size_t path_size, char *token, size_t token_size,
                  unsigned long max_polls);
unsigned int xs_pending_events(void);  /* queued watch events */
unsigned int xs_dropped_events(void);  /* events lost to a full queue */
unsigned int xs_stray_replies(void);   /* replies nobody waited for */
unsigned int xs_timeouts(void);        /* requests that got -XEN_ETIMEDOUT */
/* "EACCES" for -XEN_EACCES (or 13), "OK" for 0, "E?" if unknown. */
const char *xs_errname(int err);

/* ---- string.c ---- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
char *strstr(const char *hay, const char *needle);

/* ---- results ---- */
extern const char *test_guest;  /* name for the summary line */
extern const char *test_suffix; /* appended to every check name ("/pae") */
extern unsigned int tests_passed, tests_failed;

void check(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void skip(const char *name, const char *why);
/* Prints "<guest>: P passed, F failed"; returns F != 0. */
int test_summary(void);
/* Prints a FAIL line and the summary, then SHUTDOWN_crash. */
void __attribute__((noreturn)) test_abort(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- command line (cmdline.c): space-separated key=value words ---- */
/* Copies hvm_start_info's cmdline (call it first: later code may reuse the
 * memory it was in). */
void cmdline_init(const struct hvm_start_info *si);
const char *cmdline(void);
/* The value of key= into buf (truncated to fit); its length, or -1 if absent. */
int cmdline_str(const char *key, char *buf, size_t size);
/* A decimal or 0x-hex value of key=, or dflt when absent or not a number. */
unsigned long long cmdline_ull(const char *key, unsigned long long dflt);

/* ---- event channels, pvclock, timers (evtchn.c) ----
 *
 * evtchn_init() places shared_info in a .bss page (XENMAPSPACE_shared_info)
 * and sets vCPU 0's evtchn_upcall_mask: the guests take no upcalls and see
 * events only in the 2-level pending bitmap, waiting with SCHEDOP_poll.
 * The evtchn_* calls return 0 or -errno from Xen.
 */
extern volatile struct shared_info *xen_shared_info;
long evtchn_init(void);
/* The domid from CPUID leaf base+4, or DOMID_INVALID. */
uint32_t xen_domid(void);
/* System time (ns) from vCPU 0's pvclock; 0 before evtchn_init(). */
uint64_t xen_now_ns(void);
/* The pvclock's scaling of a TSC delta: ((delta << shift) * mul) >> 32. */
uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift);
/* Sleeps with SCHEDOP_poll (no ports) until ns have passed. */
void xen_sleep_ns(uint64_t ns);
long evtchn_alloc_unbound(uint16_t remote_dom, uint32_t *port);
long evtchn_bind_interdomain(uint16_t remote_dom, uint32_t remote_port,
                             uint32_t *local_port);
long evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port);
long evtchn_close(uint32_t port);
long evtchn_status(uint16_t dom, uint32_t port, struct evtchn_status *st);
int evtchn_is_pending(uint32_t port);
int evtchn_test_and_clear(uint32_t port);   /* was it pending? */
void evtchn_clear(uint32_t port);
/* SCHEDOP_poll on one port; timeout is absolute system time, 0 for none. */
long evtchn_poll(uint32_t port, uint64_t timeout_abs_ns);
/* Waits until port is pending, then clears it: 1, or 0 after timeout_ns. */
int evtchn_wait(uint32_t port, uint64_t timeout_ns);
long vcpu_set_periodic_timer(unsigned int vcpu, uint64_t period_ns);
long vcpu_stop_periodic_timer(unsigned int vcpu);

/* ---- grant tables (gnttab.c) ---- */
static inline long gnttab_op(int cmd, void *uop, unsigned int count)
{
    return hypercall(HC_grant_table_op, cmd, HC_ARG(uop), count, 0, 0);
}
long gnttab_set_version(uint32_t version);
long gnttab_get_version(uint16_t dom, uint32_t *version);
long gnttab_query_size(uint32_t *nr_frames, uint32_t *max_frames, int16_t *status);
/* XENMAPSPACE_grant_table frame idx at the page's GFN. */
long gnttab_map_frame(uint32_t idx, void *page);
/* Sets the version (if it differs) and places frame 0 in a .bss page. */
long gnttab_init(uint32_t version);
unsigned int gnttab_version(void);
unsigned int gnttab_entries(void);          /* refs in frame 0 */
/* Grants domid access to gfn (GTF_permit_access, GTF_readonly if asked). */
void gnttab_grant(uint32_t ref, uint16_t domid, uint32_t gfn, int readonly);
/* Clears the entry's flags; returns the old flags. */
uint16_t gnttab_revoke(uint32_t ref);
/* One GNTTABOP_copy; returns its status (the hypercall's result in *rc). */
int16_t gnttab_copy1(uint32_t src, uint16_t src_dom, uint16_t src_off,
                     uint32_t dst, uint16_t dst_dom, uint16_t dst_off,
                     uint16_t len, uint16_t flags, long *rc);
const char *gntst_name(int status);         /* "GNTST_okay" */

/* ---- FIFO event channels (fifo.c) ----
 *
 * The FIFO ABI of event_channel.h for vCPU 0, consumed the way Linux's
 * events_fifo.c does (no upcalls: the guest calls fifo_consume() itself).
 * The event array is a list of guest pages (fifo_expand_array() appends
 * one); fifo_word() is NULL for ports beyond it.
 */
#define EVTCHN_FIFO_PRIORITY_MAX     0
#define EVTCHN_FIFO_PRIORITY_DEFAULT 7
#define EVTCHN_FIFO_PRIORITY_MIN     15
#define EVTCHN_FIFO_MAX_QUEUES       16
#define EVTCHN_FIFO_PENDING  31
#define EVTCHN_FIFO_MASKED   30
#define EVTCHN_FIFO_LINKED   29
#define EVTCHN_FIFO_BUSY     28
#define EVTCHN_FIFO_LINK_BITS 17
#define EVTCHN_FIFO_LINK_MASK ((1u << EVTCHN_FIFO_LINK_BITS) - 1)
#define EVTCHN_FIFO_NR_CHANNELS (1u << EVTCHN_FIFO_LINK_BITS)
#define EVTCHN_FIFO_WORDS_PER_PAGE 1024u
#define FIFO_BIT(b) (1u << EVTCHN_FIFO_##b)

struct evtchn_fifo_control_block {
    uint32_t ready;
    uint32_t _rsvd;
    uint32_t head[EVTCHN_FIFO_MAX_QUEUES];
};

struct evtchn_init_control {
    uint64_t control_gfn;
    uint32_t offset;
    uint32_t vcpu;
    uint8_t link_bits;           /* OUT */
    uint8_t _pad[7];
};

struct evtchn_expand_array {
    uint64_t array_gfn;
};

struct evtchn_set_priority {
    uint32_t port;
    uint32_t priority;
};

XEN_ABI_SIZE(struct evtchn_fifo_control_block, 72);
XEN_ABI_SIZE(struct evtchn_init_control, 24);
XEN_ABI_OFF(struct evtchn_init_control, link_bits, 16);

/* One consumed event: the port and the queue (priority) it came from. */
struct fifo_event {
    uint32_t port;
    uint32_t priority;
};

extern volatile struct evtchn_fifo_control_block *fifo_control;
/* EVTCHNOP_init_control for vcpu with the block at offset in page; on
 * success the consumer uses it (its local heads are reset). */
long fifo_init_control(void *page, uint32_t offset, uint32_t vcpu,
                       uint8_t *link_bits);
/* EVTCHNOP_expand_array with a page-aligned page; on success it becomes the
 * next page of the event array.  The page is not initialised here. */
long fifo_expand_array(void *page);
unsigned int fifo_array_pages(void);
volatile uint32_t *fifo_word(uint32_t port);
long fifo_set_priority(uint32_t port, uint32_t priority);
long evtchn_unmask_op(uint32_t port);       /* EVTCHNOP_unmask */
long evtchn_bind_ipi(uint32_t vcpu, uint32_t *port);
long evtchn_reset_self(void);               /* EVTCHNOP_reset(DOMID_SELF) */
void fifo_mask(uint32_t port);
/* Linux's evtchn_fifo_unmask: clears MASKED unless the event is PENDING,
 * in which case EVTCHNOP_unmask lets the hypervisor clear it and link it. */
void fifo_unmask(uint32_t port);
/* Linux's __evtchn_fifo_handle_events: exchanges ready with 0 and walks the
 * queues, highest priority first, one event at a time (consume_one_event:
 * clear LINKED and LINK, follow LINK, handle PENDING && !MASKED events by
 * clearing PENDING).  Handled events go to out[] (up to max; more are
 * counted but dropped).  Stops after limit steps.  Returns the number
 * handled. */
unsigned int fifo_consume(struct fifo_event *out, unsigned int max,
                          unsigned int limit);
/* Forgets the local queue heads and the event array (after EVTCHNOP_reset). */
void fifo_forget(void);

#endif
