/* Console output (console_io hypercall, PV console ring, port 0xE9) and
 * input (the PV console ring's in[]). */
#include "guest.h"

static unsigned int console_mask = CONSOLE_DEBUGCON;

static volatile struct xencons_interface *ring;
static uint32_t ring_port;
static int ring_stalled;          /* backend stopped consuming: don't wait */

unsigned int console_select(unsigned int mask)
{
    unsigned int old = console_mask;

    console_mask = mask;
    return old;
}

int console_ring_init(void)
{
    uint64_t pfn, port;

    if (hvm_get_param(HVM_PARAM_CONSOLE_PFN, &pfn) != 0 ||
        hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &port) != 0)
        return -1;
    if (pfn == 0 || pfn >= (1ull << 20))     /* must be below 4 GiB */
        return -1;
    ring = (volatile struct xencons_interface *)((uint32_t)pfn << 12);
    ring_port = (uint32_t)port;
    return 0;
}

static void ring_write(const char *buf, size_t len)
{
    const uint32_t size = sizeof(ring->out);
    uint32_t prod = ring->out_prod;
    unsigned int waits = 0;

    while (len) {
        uint32_t cons = ring->out_cons;

        barrier();
        if (prod - cons >= size) {
            /* Full: publish what we have, kick the backend and wait a
             * little; give up (dropping output) if it makes no progress. */
            if (ring_stalled || ++waits > 16) {
                ring_stalled = 1;
                break;
            }
            barrier();
            ring->out_prod = prod;
            evtchn_send(ring_port);
            sched_yield();
            continue;
        }
        ring->out[prod & (size - 1)] = *buf++;
        prod++;
        len--;
        waits = 0;
        ring_stalled = 0;
    }
    barrier();                    /* data before the producer index */
    ring->out_prod = prod;
    evtchn_send(ring_port);
}

uint32_t console_ring_port(void)
{
    return ring ? ring_port : 0;
}

int console_read(char *buf, size_t size)
{
    const uint32_t ring_size = sizeof(ring->in);
    uint32_t cons, prod;
    size_t n = 0;

    if (!ring)
        return -1;
    cons = ring->in_cons;
    prod = ring->in_prod;
    barrier();                    /* the producer index before the data */
    if (prod - cons > ring_size)  /* a broken backend: resynchronise */
        cons = prod;
    while (cons != prod && n < size)
        buf[n++] = ring->in[cons++ & (ring_size - 1)];
    barrier();                    /* the data before the consumer index */
    if (ring->in_cons != cons) {
        ring->in_cons = cons;
        evtchn_send(ring_port);   /* room again: the backend may have more */
    }
    return (int)n;
}

void console_write(const char *buf, size_t len)
{
    if (console_mask & CONSOLE_HYPERCALL)
        console_io(CONSOLEIO_write, len, buf);
    if ((console_mask & CONSOLE_RING) && ring)
        ring_write(buf, len);
    if (console_mask & CONSOLE_DEBUGCON)
        for (size_t i = 0; i < len; i++)
            outb(0xE9, buf[i]);
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

/* Divides *v by a small base using only 32-bit divisions (no libgcc). */
static unsigned int divmod(uint64_t *v, unsigned int base)
{
    uint32_t hi = *v >> 32, lo = (uint32_t)*v, r, q1, q0;

    if (!hi) {
        *v = lo / base;
        return lo % base;
    }
    r = hi % base;
    hi /= base;
    q1 = ((r << 16) | (lo >> 16)) / base;
    r = ((r << 16) | (lo >> 16)) % base;
    q0 = ((r << 16) | (lo & 0xffff)) / base;
    r = ((r << 16) | (lo & 0xffff)) % base;
    *v = ((uint64_t)hi << 32) | (q1 << 16) | q0;
    return r;
}

/* prefix is "-" or "0x" or ""; width counts it, zero padding follows it. */
static void put_num(struct out *o, uint64_t v, unsigned int base,
                    const char *prefix, int width, char pad, int left, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;

    do
        tmp[n++] = digits[divmod(&v, base)];
    while (v);
    width -= n + strlen(prefix);
    while (!left && pad == ' ' && width-- > 0)
        put(o, ' ');
    while (*prefix)
        put(o, *prefix++);
    while (!left && pad == '0' && width-- > 0)
        put(o, '0');
    while (n)
        put(o, tmp[--n]);
    while (left && width-- > 0)
        put(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for (; *fmt; fmt++) {
        int left = 0, alt = 0, width = 0, lng = 0;
        char pad = ' ';

        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        for (; *fmt == '-' || *fmt == '0' || *fmt == '#'; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '#')
                alt = 1;
            else
                pad = '0';
        }
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            width = width * 10 + (*fmt - '0');
        for (; *fmt == 'l'; fmt++)
            lng++;
        if (left)
            pad = ' ';

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng >= 2 ? va_arg(ap, long long)
                      : lng ? va_arg(ap, long) : va_arg(ap, int);
            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10,
                    v < 0 ? "-" : "", width, pad, left, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng >= 2 ? va_arg(ap, unsigned long long)
                       : lng ? va_arg(ap, unsigned long)
                       : va_arg(ap, unsigned int);
            put_num(&o, v, *fmt == 'u' ? 10 : 16,
                    alt && v && *fmt != 'u' ? "0x" : "", width, pad, left,
                    *fmt == 'X');
            break;
        }
        case 'p':
            put_num(&o, (uint32_t)va_arg(ap, void *), 16, "0x", 10, '0', 0, 0);
            break;
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int n;

            if (!s)
                s = "(null)";
            n = strlen(s);
            while (!left && width-- > n)
                put(&o, ' ');
            while (*s)
                put(&o, *s++);
            while (left && width-- > n)
                put(&o, ' ');
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Formats into one buffer so each call is a single console write. */
int printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    console_write(buf, strlen(buf));
    return n;
}
