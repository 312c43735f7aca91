/*
 * Exceptions, INT n, IRETQ, IST, ring 3, SYSCALL, CMPXCHG16B and
 * event-channel upcalls in 64-bit long mode.  trap64-entry.S enters at the
 * PVH 32-bit entry point, identity-maps 4 GiB (2 MiB pages) and switches
 * to long mode; everything here is 64-bit code with its own small runtime
 * (the shared lib/ is 32-bit only): hypercalls use the 64-bit convention
 * (rdi, rsi, rdx, r10, r8) through the same hypercall page.  Output, as
 * in the other guests:
 *
 *   PASS <name>
 *   FAIL <name>: got <X> expected <Y>
 *   SKIP <name>: <reason>
 *   INFO <text>
 *   trap64-test: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.  An unexpected
 * exception prints "FAIL unexpected-exception: ...", the summary, and
 * crashes, except the #UD a host's KVM may raise for INT n, IRETQ or
 * SYSCALL at CPL 3: that SKIPs the ring-3 checks (host_ud_skip()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "xen.h"

#define SEL_KCODE  0x08         /* keep in sync with trap64-entry.S */
#define SEL_KDATA  0x10
#define SEL_UCODE32 0x1b
#define SEL_UDATA  0x23
#define SEL_UCODE  0x2b
#define SEL_TSS    0x30
#define SYS_RETURN 1
#define SYS_EXIT   2
#define USER_RETVAL    0x600dcafe12345678ul
#define SYSCALL_RETVAL 0x5ca11ab1e0000001ul
#define UPCALL_VECTOR  0xf3

#define VEC_BP 3
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14
#define IDT_ERRCODE(v) (((uint64_t)(v) << 3) | 2)

#define RFLAGS_CF 0x001ul
#define RFLAGS_IF 0x200ul

#define MSR_EFER   0xc0000080u
#define MSR_STAR   0xc0000081u
#define MSR_LSTAR  0xc0000082u
#define MSR_FMASK  0xc0000084u
#define EFER_SCE   0x1ul

#define UNMAPPED_VA    0x100001000ul   /* above the 4 GiB identity map */
#define NONCANONICAL_VA 0x0000800000000000ul

#define WAIT_LONG  2000000000ul        /* TSC cycles to wait for an event */

/* ------------------------------------------------------------ asm side */

struct frame64 {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;  /* always pushed in long mode */
};

extern const uint8_t trap64_stubs[];
extern uint8_t trap64_stack_top[], ist1_stack_top[];
extern uint64_t gdt64[];
uint64_t run_user64(const void *rip, void *rsp);
void __attribute__((noreturn)) resume_kernel64(uint64_t value);
void syscall_entry(void);
uint64_t k64_int80(uint64_t rax);
void k64_int81(void), k64_int3(void), k64_ud2(void);
uint64_t k64_read(uint64_t addr);
void k64_write(uint64_t addr, uint64_t value);
int k64_cmpxchg16b(void *p, uint64_t cmp[2], const uint64_t newv[2]);
uint64_t try_iretq(const uint64_t frame[5]);
extern const uint8_t k64_int80_next[], k64_int81_next[], k64_int3_next[];
extern const uint8_t k64_ud2_insn[], k64_ud2_next[], k64_read_insn[];
extern const uint8_t k64_read_next[], k64_write_insn[], k64_write_next[];
extern const uint8_t k64_cx16_insn[], k64_cx16_next[];
extern const uint8_t try_iretq_insn[], try_iretq_landing[], try_iretq_resume[];
extern const uint8_t user64_prog[], user64_ud2_insn[], user64_ud2_next[];
extern const uint8_t user64_cli_insn[], user64_cli_next[];
extern const uint8_t user64_int81_insn[], user64_int81_next[];
extern const uint8_t user64_int80_insn[], user64_int80_next[];
extern const uint8_t user64_syscall_insn[], user64_syscall_next[];
extern const uint8_t user64_prog_exit_insn[], user64_upcall_prog[];
extern const uint8_t user64_upcall_exit_insn[], user64_exit[];
extern const uint8_t user64_exit_insn[];
extern uint64_t k64_int_rsp, k64_int_rflags, k64_int_rflags_after;
extern uint64_t iretq_rsp, landing_rsp, landing_ss, landing_rflags;

/* Read by ring-3 code. */
uint32_t syscall_enabled;
volatile uint32_t upcall_user_hits;

static uint8_t user_stack[8192] __attribute__((aligned(16)));
#define USER_STACK_TOP ((uint64_t)(user_stack + sizeof(user_stack)))

/* ------------------------------------------------------- CPU helpers */

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
                         uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(sub));
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                 : "memory");
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;

    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t read_cr(int n)
{
    uint64_t v = 0;

    switch (n) {
    case 0: asm volatile("mov %%cr0, %0" : "=r"(v)); break;
    case 2: asm volatile("mov %%cr2, %0" : "=r"(v)); break;
    case 3: asm volatile("mov %%cr3, %0" : "=r"(v)); break;
    case 4: asm volatile("mov %%cr4, %0" : "=r"(v)); break;
    }
    return v;
}
static inline uint64_t read_rflags(void)
{
    uint64_t v;

    asm volatile("pushfq; popq %0" : "=r"(v));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void outb(uint16_t port, uint8_t v)
{
    asm volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}
#define barrier() asm volatile("" ::: "memory")
#define cpu_relax() asm volatile("pause" ::: "memory")

/* The string routines are lib/string.c, built for 64-bit (see the Makefile). */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* ------------------------------------------------- Xen, 64-bit ABI */

static uint32_t xen_base;
static uint8_t hypercall_page[4096] __attribute__((aligned(4096)));

/* 64-bit convention: rdi, rsi, rdx, r10, r8; result in rax. */
static long hypercall(unsigned int nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t r10 asm("r10") = 0, r8 asm("r8") = 0;
    const uint8_t *entry = hypercall_page + (nr & 127) * 32;
    long ret;

    asm volatile("call *%[entry]"
                 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : [entry] "r"(entry)
                 : "memory", "rcx", "r9", "r11");
    return ret;
}

#define EVTCHNOP_bind_ipi 7
#define EVTCHNOP_unmask   9

struct evtchn_bind_ipi {
    uint32_t vcpu;
    uint32_t port;
};

struct xen_add_to_physmap64 {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint64_t idx;
    uint64_t gpfn;
};

struct vcpu_info64 {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad[6];
    uint64_t evtchn_pending_sel;
    uint64_t arch[2];           /* cr2, pad */
    uint8_t time[32];
};

struct shared_info64 {
    struct vcpu_info64 vcpu_info[32];
    uint64_t evtchn_pending[64];
    uint64_t evtchn_mask[64];
    uint32_t wc_version;
};

_Static_assert(sizeof(struct xen_add_to_physmap64) == 24, "add_to_physmap");
_Static_assert(sizeof(struct vcpu_info64) == 64, "vcpu_info");
_Static_assert(__builtin_offsetof(struct shared_info64, evtchn_pending) == 2048,
               "evtchn_pending");
_Static_assert(__builtin_offsetof(struct shared_info64, evtchn_mask) == 2560,
               "evtchn_mask");
_Static_assert(__builtin_offsetof(struct shared_info64, wc_version) == 3072,
               "wc_version");

static long hvm_param(int op, uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index,
                               .value = *value };
    long rc = hypercall(HC_hvm_op, op, (uint64_t)&p, 0);

    *value = p.value;
    return rc;
}

static long evtchn_op(int cmd, void *arg)
{
    return hypercall(HC_event_channel_op, cmd, (uint64_t)arg, 0);
}

static long evtchn_send(uint32_t port)
{
    struct evtchn_send s = { .port = port };

    return evtchn_op(EVTCHNOP_send, &s);
}

static void __attribute__((noreturn)) shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };

    if (xen_base)
        hypercall(HC_sched_op, SCHEDOP_shutdown, (uint64_t)&s, 0);
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

/* ------------------------------------------------------------ console */

static volatile struct xencons_interface *ring;
static uint32_t ring_port;

static void console_init(void)
{
    uint32_t leaf, a, b, c, d;
    uint64_t pfn = 0, port = 0;

    for (leaf = 0x40000000; leaf < 0x40010000; leaf += 0x100) {
        cpuid(leaf, 0, &a, &b, &c, &d);
        if (b == XEN_CPUID_SIG_EBX && c == XEN_CPUID_SIG_ECX &&
            d == XEN_CPUID_SIG_EDX && a >= leaf + 2) {
            xen_base = leaf;
            break;
        }
    }
    if (!xen_base)
        return;
    cpuid(xen_base + 2, 0, &a, &b, &c, &d);
    wrmsr(b, (uint64_t)hypercall_page);
    if (hvm_param(HVMOP_get_param, HVM_PARAM_CONSOLE_PFN, &pfn) == 0 &&
        hvm_param(HVMOP_get_param, HVM_PARAM_CONSOLE_EVTCHN, &port) == 0 &&
        pfn && pfn < (1ul << 20)) {    /* inside the 4 GiB identity map */
        ring = (volatile struct xencons_interface *)(pfn << 12);
        ring_port = port;
    }
}

static void ring_write(const char *s, size_t n)
{
    uint32_t prod = ring->out_prod, waits = 0;

    while (n) {
        if (prod - ring->out_cons >= sizeof(ring->out)) {
            if (++waits > 16)
                break;          /* backend stalled: drop the rest */
            barrier();
            ring->out_prod = prod;
            evtchn_send(ring_port);
            hypercall(HC_sched_op, SCHEDOP_yield, 0, 0);
            continue;
        }
        ring->out[prod++ & (sizeof(ring->out) - 1)] = *s++;
        n--;
        waits = 0;
    }
    barrier();
    ring->out_prod = prod;
    evtchn_send(ring_port);
}

static void console_write(const char *s, size_t n)
{
    size_t i;

    if (!xen_base) {
        for (i = 0; i < n; i++)
            outb(0xe9, s[i]);
        return;
    }
    hypercall(HC_console_io, CONSOLEIO_write, n, (uint64_t)s);
    if (ring)
        ring_write(s, n);
}

/* A small vsnprintf: %d %i %u %x %X %p %c %s %%, l/ll, width, '0' '-' '#'. */
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

static void put_num(struct out *o, uint64_t v, unsigned int base, int neg,
                    int alt, int width, char pad, int left, int upper)
{
    const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0, pre = neg ? 1 : alt ? 2 : 0;

    do {
        tmp[n++] = dig[v % base];
        v /= base;
    } while (v);
    width -= n + pre;
    while (!left && pad == ' ' && width-- > 0)
        put(o, ' ');
    if (neg)
        put(o, '-');
    if (alt) {
        put(o, '0');
        put(o, 'x');
    }
    while (!left && pad == '0' && width-- > 0)
        put(o, '0');
    while (n)
        put(o, tmp[--n]);
    while (left && width-- > 0)
        put(o, ' ');
}

static int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for (; *fmt; fmt++) {
        int left = 0, alt = 0, width = 0, lng = 0;
        char pad = ' ';

        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        for (fmt++; *fmt == '-' || *fmt == '0' || *fmt == '#'; fmt++) {
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
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);

            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, 0,
                    width, pad, left, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);

            put_num(&o, v, *fmt == 'u' ? 10 : 16, 0, alt && v && *fmt != 'u',
                    width, pad, left, *fmt == 'X');
            break;
        }
        case 'p':
            put_num(&o, (uint64_t)va_arg(ap, void *), 16, 0, 1, 0, ' ', 0, 0);
            break;
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);

            for (s = s ? s : "(null)"; *s; s++)
                put(&o, *s);
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
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

static int __attribute__((format(printf, 3, 4)))
snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static int __attribute__((format(printf, 1, 2))) printf(const char *fmt, ...)
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

/* ------------------------------------------------------------ results */

static unsigned int passed, failed;

static void __attribute__((format(printf, 3, 4)))
check(const char *name, int ok, const char *fmt, ...)
{
    char why[320];
    va_list ap;

    if (ok) {
        passed++;
        printf("PASS %s\n", name);
        return;
    }
    failed++;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    printf("FAIL %s: %s\n", name, why);
}

static void check_eq(const char *name, uint64_t got, uint64_t want)
{
    check(name, got == want, "got %#lx expected %#lx", got, want);
}

static void skip(const char *name, const char *why)
{
    printf("SKIP %s: %s\n", name, why);
}

static int summary(void)
{
    printf("trap64-test: %u passed, %u failed\n", passed, failed);
    return failed != 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
test_abort(const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    failed++;
    printf("FAIL %s\n", why);
    summary();
    shutdown(SHUTDOWN_crash);
}

/* --------------------------------------------------- descriptor tables */

struct __attribute__((packed)) tss64 {
    uint32_t rsvd0;
    uint64_t rsp[3];
    uint64_t rsvd1;
    uint64_t ist[7];
    uint64_t rsvd2;
    uint16_t rsvd3, iomap;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS size");

struct __attribute__((packed)) table_reg {
    uint16_t limit;
    uint64_t base;
};

static struct tss64 tss __attribute__((aligned(128)));
static uint64_t idt[512] __attribute__((aligned(16)));
typedef void (*handler_t)(struct frame64 *f);
static handler_t handlers[256];

static void idt_set(unsigned int v, unsigned int dpl, unsigned int ist)
{
    uint64_t off = (uint64_t)(trap64_stubs + 16 * v);

    idt[2 * v] = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
                 ((uint64_t)(ist & 7) << 32) |
                 ((uint64_t)(0x8e | (dpl & 3) << 5) << 40) |
                 (((off >> 16) & 0xffff) << 48);
    idt[2 * v + 1] = off >> 32;
}

static void tables_init(void)
{
    uint64_t base = (uint64_t)&tss;
    struct table_reg idtr = { sizeof(idt) - 1, (uint64_t)idt };
    unsigned int v;

    tss.rsp[0] = (uint64_t)trap64_stack_top;
    tss.ist[0] = (uint64_t)ist1_stack_top;
    tss.iomap = sizeof(tss);
    gdt64[SEL_TSS >> 3] = (sizeof(tss) - 1) | ((base & 0xffffff) << 16) |
                          (0x89ul << 40) | (((base >> 24) & 0xff) << 56);
    gdt64[(SEL_TSS >> 3) + 1] = base >> 32;
    for (v = 0; v < 256; v++)
        idt_set(v, 0, 0);
    if (!xen_base) {            /* QEMU -kernel: mask the legacy 8259s */
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
    idt_set(0x80, 3, 0);
    idt_set(0x81, 0, 1);        /* IST1, DPL 0 */
    asm volatile("lidt %0\n\tltr %w1" :: "m"(idtr), "r"(SEL_TSS) : "memory");
}

/* ------------------------------------------------------ trap dispatch */

struct seen {
    uint64_t count, vector, error, rip, cs, rflags, rsp, ss, cr2, frame;
};

static struct {
    int armed;
    uint64_t vector, resume;
} expect;
static volatile struct seen seen;

static void record(volatile struct seen *t, const struct frame64 *f)
{
    t->count++;
    t->vector = f->vector;
    t->error = f->error;
    t->rip = f->rip;
    t->cs = f->cs;
    t->rflags = f->rflags;
    t->rsp = f->rsp;
    t->ss = f->ss;
    t->cr2 = f->vector == VEC_PF ? read_cr(2) : 0;
    t->frame = (uint64_t)f;
}

static void expect_trap(unsigned int vector, const void *resume)
{
    memset((void *)&seen, 0, sizeof(seen));
    expect.vector = vector;
    expect.resume = (uint64_t)resume;
    barrier();
    expect.armed = 1;
}

static void default_handler(struct frame64 *f)
{
    if (expect.armed && f->vector == expect.vector) {
        expect.armed = 0;
        record(&seen, f);
        if (expect.resume)
            f->rip = expect.resume;
        return;
    }
    test_abort("unexpected-exception: vector %lu error %#lx at %04lx:%016lx "
               "rflags %#lx cr2 %#lx", f->vector, f->error, f->cs, f->rip,
               f->rflags, f->vector == VEC_PF ? read_cr(2) : 0);
}

/*
 * A limit of this host, not of the hypervisor: at CPL 3 its KVM doesn't
 * exit to the hypervisor for INT n, INT3, IRET/IRETQ (and maybe SYSCALL)
 * but injects #UD at the instruction (docs/ARCHITECTURE.md), so the
 * hypervisor can't complete it.  Before running ring-3 code the test lists,
 * with host_ud_watch(), those ring-3 instructions and the check each one
 * belongs to.  trap64_dispatch() takes a #UD from CPL 3 at a listed RIP
 * whose bytes are one of them (CD xx, CC, CF, 48 CF, 0F 05; CE is no INTO
 * in 64-bit mode, where its #UD is architectural) before any handler: it
 * records it in host_ud, prints "SKIP <check>: the host's KVM raised #UD
 * for <insn> at CPL3 instead of exiting to the hypervisor (see docs)" (an
 * INFO line when check is NULL: the caller reports the outcome), disarms
 * expect_trap() and returns to the kernel the way a ring-3 SYS_EXIT does,
 * with resume_kernel64(HOST_UD_RESUMED), skipping the rest of the ring-3
 * code.  Every other exception is handled as before.
 */
#define HOST_UD_RESUMED 0x4f5dul

struct host_ud_site {
    const void *insn;
    const char *check;
};

static struct {
    unsigned int count;
    uint64_t rip, cs;
    const char *check;
    char insn[16];              /* "int $0x80", "iretq", "syscall", ... */
    struct frame64 f;           /* the ring-3 registers at the #UD */
} host_ud;
static const struct host_ud_site *host_ud_sites;

/* Watch sites from now on and clear host_ud; _end() stops watching and
 * keeps host_ud for host_ud_passed(). */
static void host_ud_watch(const struct host_ud_site *sites)
{
    memset(&host_ud, 0, sizeof(host_ud));
    host_ud_sites = sites;
}

static void host_ud_watch_end(void)
{
    host_ud_sites = NULL;
}

/* Names the instruction at the #UD if it is one the host refuses at CPL 3. */
static int host_ud_insn(const struct frame64 *f, char *buf, size_t size)
{
    const uint8_t *p = (const uint8_t *)f->rip;

    if (p[0] == 0xcc)
        snprintf(buf, size, "int3");
    else if (p[0] == 0xcd)
        snprintf(buf, size, "int $0x%x", p[1]);
    else if (p[0] == 0xcf)
        snprintf(buf, size, "iret");
    else if (p[0] == 0x48 && p[1] == 0xcf)
        snprintf(buf, size, "iretq");
    else if (p[0] == 0x0f && p[1] == 0x05)
        snprintf(buf, size, "syscall");
    else
        return 0;
    return 1;
}

/* Returns only if f is not such a #UD at a watched site. */
static void host_ud_skip(struct frame64 *f)
{
    const struct host_ud_site *s = host_ud_sites;
    char insn[sizeof(host_ud.insn)], why[160];

    if (f->vector != VEC_UD || (f->cs & 3) != 3 || !s)
        return;
    while (s->insn && (uint64_t)s->insn != f->rip)
        s++;
    if (!s->insn || !host_ud_insn(f, insn, sizeof(insn)))
        return;
    host_ud.count++;
    host_ud.rip = f->rip;
    host_ud.cs = f->cs;
    host_ud.check = s->check;
    memcpy(host_ud.insn, insn, sizeof(insn));
    memcpy(&host_ud.f, f, sizeof(*f));
    expect.armed = 0;
    if (s->check) {
        snprintf(why, sizeof(why), "the host's KVM raised #UD for %s at "
                 "CPL3 instead of exiting to the hypervisor (see docs)", insn);
        skip(s->check, why);
    } else {
        printf("INFO the host's KVM raised #UD for %s at CPL3 at %04lx:%lx "
               "instead of exiting to the hypervisor; back to the kernel\n",
               insn, f->cs, f->rip);
    }
    resume_kernel64(HOST_UD_RESUMED);
}

/*
 * For a check that needs the ring-3 code to have got past insn (the ring-3
 * programs are straight-line code): 1 if no host #UD stopped it at or
 * before insn.  Otherwise 0, after a "SKIP <name>: not run: ..." line
 * (none when name is the check the #UD itself skipped).
 */
static int host_ud_passed(const char *name, const void *insn)
{
    char where[48], why[192];

    if (!host_ud.count || host_ud.rip > (uint64_t)insn)
        return 1;
    if (host_ud.check && !strcmp(name, host_ud.check))
        return 0;
    if (host_ud.check)
        snprintf(where, sizeof(where), "%s", host_ud.check);
    else
        snprintf(where, sizeof(where), "%04lx:%lx", host_ud.cs, host_ud.rip);
    snprintf(why, sizeof(why), "not run: the ring-3 code stopped at %s (the "
             "host's KVM raised #UD for %s at CPL3)", where, host_ud.insn);
    skip(name, why);
    return 0;
}

void __attribute__((used)) trap64_dispatch(struct frame64 *f);

void trap64_dispatch(struct frame64 *f)
{
    handler_t h = handlers[f->vector & 0xff];

    host_ud_skip(f);
    if (h)
        h(f);
    else
        default_handler(f);
}

static int check_seen(const char *name, const volatile struct seen *t,
                      uint64_t vector, uint64_t error, const void *rip,
                      uint64_t cs)
{
    int ok = t->count == 1 && t->vector == vector && t->error == error &&
             t->rip == (uint64_t)rip && t->cs == cs;

    expect.armed = 0;
    check(name, ok, "got %lu x vector %lu error %#lx at %04lx:%lx expected "
          "vector %lu error %#lx at %04lx:%lx", t->count, t->vector, t->error,
          t->cs, t->rip, vector, error, cs, (uint64_t)rip);
    return ok;
}

/* ------------------------------------------------------- kernel traps */

static volatile struct {
    uint64_t count, rip, cs, rflags, rsp, ss, frame, handler_rflags;
} k80, k81;

static volatile struct {
    uint64_t count;
    struct frame64 f;
} sys_return, sys_exit;

static void int80_handler(struct frame64 *f)
{
    if ((f->cs & 3) == 0) {
        k80.count++;
        k80.rip = f->rip;
        k80.cs = f->cs;
        k80.rflags = f->rflags;
        k80.rsp = f->rsp;
        k80.ss = f->ss;
        k80.frame = (uint64_t)&f->rip;
        k80.handler_rflags = read_rflags();
        f->rax = ~f->rax;
        return;
    }
    if (f->rax == SYS_RETURN) {
        sys_return.count++;
        memcpy((void *)&sys_return.f, f, sizeof(*f));
        f->rax = USER_RETVAL;
        return;
    }
    sys_exit.count++;
    memcpy((void *)&sys_exit.f, f, sizeof(*f));
    resume_kernel64(f->rax == SYS_EXIT ? 2 : 0xbad);
}

static void int81_handler(struct frame64 *f)
{
    k81.count++;
    k81.rip = f->rip;
    k81.cs = f->cs;
    k81.rsp = f->rsp;
    k81.ss = f->ss;
    k81.frame = (uint64_t)(f + 1);
}

static void test_kernel_traps(void)
{
    uint64_t n = k80.count, r, want_frame;

    r = k64_int80(0x123456789abcdef0ul);
    check("int80", k80.count == n + 1 && r == ~0x123456789abcdef0ul &&
          k80.rip == (uint64_t)k64_int80_next && k80.cs == SEL_KCODE,
          "got %lu calls, rax %#lx, return to %04lx:%lx expected 1, %#lx, "
          "%04x:%lx", k80.count - n, r, k80.cs, k80.rip,
          ~0x123456789abcdef0ul, SEL_KCODE, (uint64_t)k64_int80_next);
    /* Long mode: RSP aligned down to 16, then SS, RSP, RFLAGS, CS, RIP. */
    want_frame = (k64_int_rsp & ~15ul) - 40;
    check("int80-frame", k80.frame == want_frame && k80.rsp == k64_int_rsp &&
          k80.ss == SEL_KDATA && k80.rflags == k64_int_rflags &&
          !(k80.handler_rflags & RFLAGS_IF),
          "got frame %#lx, ss:rsp %04lx:%lx, rflags %#lx, handler IF %u "
          "expected %#lx, %04x:%lx, %#lx, IF 0", k80.frame, k80.ss, k80.rsp,
          k80.rflags, !!(k80.handler_rflags & RFLAGS_IF), want_frame,
          SEL_KDATA, k64_int_rsp, k64_int_rflags);
    check_eq("int80-rflags-after-iretq", k64_int_rflags_after, k64_int_rflags);

    n = k81.count;
    k64_int81();
    check("int-ist-stack", k81.count == n + 1 &&
          k81.frame == (uint64_t)ist1_stack_top &&
          k81.rip == (uint64_t)k64_int81_next && k81.rsp == k64_int_rsp,
          "got %lu calls, frame end %#lx, rip %#lx, rsp %#lx expected 1, "
          "%#lx (IST1), %#lx, %#lx", k81.count - n, k81.frame, k81.rip,
          k81.rsp, (uint64_t)ist1_stack_top, (uint64_t)k64_int81_next,
          k64_int_rsp);

    expect_trap(VEC_BP, NULL);
    k64_int3();
    check_seen("int3", &seen, VEC_BP, 0, k64_int3_next, SEL_KCODE);

    expect_trap(VEC_UD, k64_ud2_next);
    k64_ud2();
    check_seen("ud2", &seen, VEC_UD, 0, k64_ud2_insn, SEL_KCODE);

    expect_trap(VEC_PF, k64_write_next);
    k64_write(UNMAPPED_VA + 8, 1);
    check_seen("pf-not-present-write", &seen, VEC_PF, 0x2, k64_write_insn,
               SEL_KCODE);
    check_eq("pf-not-present-write-cr2", seen.cr2, UNMAPPED_VA + 8);

    expect_trap(VEC_PF, k64_read_next);
    r = k64_read(UNMAPPED_VA + 0x10);
    check_seen("pf-not-present-read", &seen, VEC_PF, 0x0, k64_read_insn,
               SEL_KCODE);
    check_eq("pf-not-present-read-cr2", seen.cr2, UNMAPPED_VA + 0x10);

    expect_trap(VEC_GP, k64_read_next);
    r = k64_read(NONCANONICAL_VA);
    check_seen("gp-noncanonical-address", &seen, VEC_GP, 0, k64_read_insn,
               SEL_KCODE);
}

/* ------------------------------------------------------------- IRETQ */

static uint8_t landing_stack[256] __attribute__((aligned(16)));

/* An IRETQ that must fault but reaches ring 3 fails its check: a host #UD
 * at user64_exit's int $0x80 skips nothing. */
static const struct host_ud_site iretq_sites[] = {
    { user64_exit_insn, NULL },
    { NULL, NULL },
};

static void test_iretq(void)
{
    const uint64_t lstk = (uint64_t)(landing_stack + sizeof(landing_stack));
    uint64_t frame[5] = { (uint64_t)try_iretq_landing, SEL_KCODE,
                          0x2 | RFLAGS_CF, lstk, SEL_KDATA };
    uint64_t r;

    r = try_iretq(frame);
    check("iretq-same-level", r == 1 && landing_rsp == lstk &&
          landing_ss == SEL_KDATA && (landing_rflags & 0xfff) == (0x2 | RFLAGS_CF),
          "got result %lu, ss:rsp %04lx:%lx, rflags %#lx expected 1, "
          "%04x:%lx, %#lx", r, landing_ss, landing_rsp, landing_rflags,
          SEL_KDATA, lstk, 0x2 | RFLAGS_CF);

    /* A null SS is fine when returning to 64-bit CPL 0. */
    frame[4] = 0;
    r = try_iretq(frame);
    check("iretq-null-ss-ring0", r == 1 && landing_rsp == lstk &&
          landing_ss == 0, "got result %lu, ss:rsp %04lx:%lx expected 1, "
          "0000:%lx", r, landing_ss, landing_rsp, lstk);

    frame[0] = NONCANONICAL_VA;
    frame[4] = SEL_KDATA;
    expect_trap(VEC_GP, try_iretq_resume);
    r = try_iretq(frame);
    check("iretq-noncanonical-rip", r == 0 && seen.count == 1 &&
          seen.vector == VEC_GP && seen.error == 0 &&
          seen.rip == (uint64_t)try_iretq_insn &&
          seen.rsp == iretq_rsp,
          "got result %lu, %lu x vector %lu error %#lx at %lx, rsp %#lx "
          "expected a fault: vector 13 error 0 at %lx, rsp %#lx", r,
          seen.count, seen.vector, seen.error, seen.rip, seen.rsp,
          (uint64_t)try_iretq_insn, iretq_rsp);

    /* To ring 3 a null SS is not allowed. */
    frame[0] = (uint64_t)user64_exit;
    frame[1] = SEL_UCODE;
    frame[2] = 0x202;
    frame[3] = USER_STACK_TOP;
    frame[4] = 0;
    host_ud_watch(iretq_sites);
    expect_trap(VEC_GP, try_iretq_resume);
    r = try_iretq(frame);
    host_ud_watch_end();
    check("iretq-ring3-null-ss", r == 0 && seen.count == 1 &&
          seen.vector == VEC_GP && seen.error == 0 &&
          seen.rip == (uint64_t)try_iretq_insn,
          "got result %lu, %lu x vector %lu error %#lx at %lx expected a "
          "fault: vector 13 error 0 at %lx", r, seen.count, seen.vector,
          seen.error, seen.rip, (uint64_t)try_iretq_insn);
    expect.armed = 0;
}

/* ------------------------------------------------------------- ring 3 */

static volatile struct seen user_seen[8];
static volatile unsigned int user_seen_n;

/* Where this host's KVM may raise #UD instead of exiting (host_ud_skip). */
static const struct host_ud_site user64_prog_sites[] = {
    { user64_int81_insn, "user-int-dpl0-gate-gp" },
    { user64_int80_insn, "user-int80" },
    { user64_syscall_insn, "syscall" },
    { user64_prog_exit_insn, "user-exit-to-kernel" },
    { NULL, NULL },
};
static const struct host_ud_site user64_upcall_sites[] = {
    { user64_upcall_exit_insn, "upcall-in-ring3" },
    { NULL, NULL },
};

static const struct {
    const uint8_t *insn, *next;
} user_fixups[] = {
    { user64_ud2_insn, user64_ud2_next },
    { user64_cli_insn, user64_cli_next },
    { user64_int81_insn, user64_int81_next },
};

static void user_fault_handler(struct frame64 *f)
{
    unsigned int i, n = sizeof(user_fixups) / sizeof(user_fixups[0]);

    if (!(f->cs & 3)) {
        default_handler(f);
        return;
    }
    if (user_seen_n < 8)
        record(&user_seen[user_seen_n++], f);
    for (i = 0; i < n && f->rip != (uint64_t)user_fixups[i].insn; i++)
        ;
    if (i == n)
        test_abort("unexpected-exception: vector %lu error %#lx at "
                   "%04lx:%lx (ring 3)", f->vector, f->error, f->cs, f->rip);
    f->rip = (uint64_t)user_fixups[i].next;
}

static void check_user_fault(const char *name, unsigned int i, uint64_t vector,
                             uint64_t error, const void *rip)
{
    volatile struct seen *t = &user_seen[i];
    /* The frame ends at TSS.RSP0. */
    uint64_t want_frame = (uint64_t)trap64_stack_top - sizeof(struct frame64);

    if (i >= user_seen_n) {
        check(name, 0, "got no exception expected vector %lu error %#lx at "
              "%04x:%lx", vector, error, SEL_UCODE, (uint64_t)rip);
        return;
    }
    check(name, t->vector == vector && t->error == error &&
          t->rip == (uint64_t)rip && t->cs == SEL_UCODE &&
          t->ss == SEL_UDATA && t->rsp == USER_STACK_TOP &&
          (t->rflags & RFLAGS_IF) && t->frame == want_frame,
          "got vector %lu error %#lx at %04lx:%lx, stack %04lx:%lx, rflags "
          "%#lx, frame %#lx expected vector %lu error %#lx at %04x:%lx, stack "
          "%04x:%lx, IF, frame %#lx", t->vector, t->error, t->cs, t->rip,
          t->ss, t->rsp, t->rflags, t->frame, vector, error, SEL_UCODE,
          (uint64_t)rip, SEL_UDATA, USER_STACK_TOP, want_frame);
}

static volatile struct {
    uint64_t count, nr, rip, rflags, rsp, cs, ss, handler_rflags;
} sc;

uint64_t __attribute__((used)) syscall_c(uint64_t nr, uint64_t rip,
                                         uint64_t rflags, uint64_t rsp);

uint64_t syscall_c(uint64_t nr, uint64_t rip, uint64_t rflags, uint64_t rsp)
{
    uint64_t cs, ss;

    asm volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
    sc.count++;
    sc.nr = nr;
    sc.rip = rip;
    sc.rflags = rflags;
    sc.rsp = rsp;
    sc.cs = cs;
    sc.ss = ss;
    sc.handler_rflags = read_rflags();
    return SYSCALL_RETVAL;
}

static void test_user(void)
{
    volatile struct frame64 *f;
    uint32_t a, b, c, d;
    unsigned int i = 0;
    uint64_t r;

    cpuid(0x80000001, 0, &a, &b, &c, &d);
    syscall_enabled = (d >> 11) & 1;
    if (syscall_enabled) {
        wrmsr(MSR_STAR, ((uint64_t)(SEL_UCODE32 & ~3) << 48) |
                        ((uint64_t)SEL_KCODE << 32));
        wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
        wrmsr(MSR_FMASK, 0x700);                  /* IF, TF, DF */
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    }

    memset((void *)&sys_return, 0, sizeof(sys_return));
    memset((void *)&sys_exit, 0, sizeof(sys_exit));
    memset((void *)&sc, 0, sizeof(sc));
    user_seen_n = 0;
    handlers[VEC_UD] = handlers[VEC_GP] = user_fault_handler;
    host_ud_watch(user64_prog_sites);
    r = run_user64(user64_prog, (void *)USER_STACK_TOP);
    host_ud_watch_end();
    handlers[VEC_UD] = handlers[VEC_GP] = NULL;

    /* A host #UD (host_ud_skip) skips the rest of the ring-3 program and
     * the checks that need it. */
    check_user_fault("user-ud2", i++, VEC_UD, 0, user64_ud2_insn);
    check_user_fault("user-cli-gp", i++, VEC_GP, 0, user64_cli_insn);
    if (host_ud_passed("user-int-dpl0-gate-gp", user64_int81_insn))
        check_user_fault("user-int-dpl0-gate-gp", i, VEC_GP,
                         IDT_ERRCODE(0x81), user64_int81_insn);
    i++;
    if (host_ud_passed("user-fault-count", user64_int81_insn))
        check_eq("user-fault-count", user_seen_n, i);

    f = &sys_return.f;
    if (host_ud_passed("user-int80", user64_int80_insn))
        check("user-int80", sys_return.count == 1 && f->cs == SEL_UCODE &&
              f->rip == (uint64_t)user64_int80_next && f->ss == SEL_UDATA &&
              f->rsp == USER_STACK_TOP && (f->rflags & RFLAGS_IF),
              "got %lu calls from %04lx:%lx, stack %04lx:%lx, rflags %#lx "
              "expected 1 from %04x:%lx, stack %04x:%lx, IF",
              sys_return.count, f->cs, f->rip, f->ss, f->rsp, f->rflags,
              SEL_UCODE, (uint64_t)user64_int80_next, SEL_UDATA,
              USER_STACK_TOP);

    f = &sys_exit.f;
    if (host_ud_passed("user-iretq-to-ring3", user64_prog_exit_insn))
        check("user-iretq-to-ring3", sys_exit.count == 1 &&
              f->r12 == USER_RETVAL && f->rbx == SEL_UCODE &&
              f->rdx == SEL_UDATA && (f->r14 & RFLAGS_IF) &&
              f->rbp == USER_STACK_TOP && f->rsp == USER_STACK_TOP,
              "got %lu exits, rax %#lx, cs %#lx, ss %#lx, rflags %#lx, rsp "
              "%#lx/%#lx expected 1, %#lx, %#x, %#x, IF, %#lx",
              sys_exit.count, f->r12, f->rbx, f->rdx, f->r14, f->rbp, f->rsp,
              USER_RETVAL, SEL_UCODE, SEL_UDATA, USER_STACK_TOP);
    if (host_ud_passed("user-exit-to-kernel", user64_prog_exit_insn))
        check("user-exit-to-kernel", r == 2 && !(read_rflags() & RFLAGS_IF),
              "got %#lx, IF %u expected 2, IF 0", r,
              !!(read_rflags() & RFLAGS_IF));

    if (!syscall_enabled) {
        skip("syscall", "CPUID.80000001:EDX.SYSCALL is clear");
        return;
    }
    if (host_ud_passed("syscall", user64_syscall_insn))
        check("syscall", sc.count == 1 && sc.nr == SYS_RETURN &&
              sc.rip == (uint64_t)user64_syscall_next &&
              sc.cs == SEL_KCODE && sc.ss == SEL_KDATA &&
              sc.rsp == USER_STACK_TOP && (sc.rflags & RFLAGS_IF) &&
              !(sc.handler_rflags & RFLAGS_IF),
              "got %lu calls, rax %lu, rcx %#lx, r11 %#lx, cs %#lx, ss %#lx, "
              "rsp %#lx, handler rflags %#lx expected 1, 1, %#lx, IF, %#x, "
              "%#x, %#lx, IF clear", sc.count, sc.nr, sc.rip, sc.rflags,
              sc.cs, sc.ss, sc.rsp, sc.handler_rflags,
              (uint64_t)user64_syscall_next, SEL_KCODE, SEL_KDATA,
              USER_STACK_TOP);
    if (host_ud_passed("sysret-to-ring3", user64_prog_exit_insn))
        check_eq("sysret-to-ring3", f->r13, SYSCALL_RETVAL);
}

/* --------------------------------------------------------- CMPXCHG16B */

static void test_cmpxchg16b(void)
{
    static volatile uint64_t buf[4] __attribute__((aligned(16)));
    const uint64_t a[2] = { 0x1111111122222222ul, 0x3333333344444444ul };
    const uint64_t b[2] = { 0x5555555566666666ul, 0x7777777788888888ul };
    uint64_t cmp[2];
    uint32_t ea, eb, ec, ed;
    int z;

    cpuid(1, 0, &ea, &eb, &ec, &ed);
    if (!(ec & (1u << 13))) {
        skip("cmpxchg16b", "CPUID.1:ECX.CX16 is clear");
        return;
    }
    buf[0] = a[0];
    buf[1] = a[1];
    cmp[0] = a[0];
    cmp[1] = a[1];
    z = k64_cmpxchg16b((void *)buf, cmp, b);
    check("cmpxchg16b-success", z == 1 && buf[0] == b[0] && buf[1] == b[1] &&
          cmp[0] == a[0] && cmp[1] == a[1],
          "got ZF %d, memory %#lx:%#lx, rdx:rax %#lx:%#lx expected ZF 1, "
          "%#lx:%#lx, %#lx:%#lx", z, buf[1], buf[0], cmp[1], cmp[0], b[1],
          b[0], a[1], a[0]);

    cmp[0] = a[0];              /* stale */
    cmp[1] = a[1];
    z = k64_cmpxchg16b((void *)buf, cmp, a);
    check("cmpxchg16b-failure", z == 0 && buf[0] == b[0] && buf[1] == b[1] &&
          cmp[0] == b[0] && cmp[1] == b[1],
          "got ZF %d, memory %#lx:%#lx, rdx:rax %#lx:%#lx expected ZF 0, "
          "%#lx:%#lx, %#lx:%#lx", z, buf[1], buf[0], cmp[1], cmp[0], b[1],
          b[0], b[1], b[0]);

    /* Misaligned: #GP(0), memory untouched. */
    buf[2] = 0;
    cmp[0] = b[1];
    cmp[1] = 0;
    expect_trap(VEC_GP, k64_cx16_next);
    k64_cmpxchg16b((void *)&buf[1], cmp, a);
    check_seen("cmpxchg16b-misaligned-gp", &seen, VEC_GP, 0, k64_cx16_insn,
               SEL_KCODE);
    check("cmpxchg16b-misaligned-unchanged", buf[1] == b[1] && buf[2] == 0,
          "got %#lx:%#lx expected %#lx:0", buf[2], buf[1], b[1]);
}

/* ------------------------------------------------------ event channels */

static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
static struct shared_info64 *const sh = (struct shared_info64 *)shinfo_page;
static uint32_t ipi_port;
static volatile uint32_t ipi_hits, other_hits;
static volatile uint64_t upcall_cs, upcall_rflags, upcall_handler_rflags;

static void upcall_handler(struct frame64 *f)
{
    struct vcpu_info64 *v = &sh->vcpu_info[0];
    uint64_t sel, bits;
    unsigned int w, b;

    upcall_cs = f->cs;
    upcall_rflags = f->rflags;
    upcall_handler_rflags = read_rflags();
    v->evtchn_upcall_pending = 0;
    barrier();
    sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        w = __builtin_ctzll(sel);
        sel &= sel - 1;
        bits = sh->evtchn_pending[w] & ~sh->evtchn_mask[w];
        __atomic_fetch_and(&sh->evtchn_pending[w], ~bits, __ATOMIC_SEQ_CST);
        while (bits) {
            b = __builtin_ctzll(bits);
            bits &= bits - 1;
            if (w * 64 + b == ipi_port) {
                ipi_hits++;
                if (f->cs & 3)
                    upcall_user_hits++;
            } else {
                other_hits++;
            }
        }
    }
}

static void wait_hits(uint32_t target)
{
    uint64_t t0 = rdtsc();

    asm volatile("sti" ::: "memory");
    while (ipi_hits < target && rdtsc() - t0 < WAIT_LONG)
        cpu_relax();
    asm volatile("cli" ::: "memory");
}

static void test_upcalls(void)
{
    struct xen_add_to_physmap64 xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint64_t)shinfo_page >> 12,
    };
    struct evtchn_bind_ipi bind = { 0, 0 };
    uint64_t cb = (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | UPCALL_VECTOR;
    struct vcpu_info64 *v = &sh->vcpu_info[0];
    uint32_t h, u, i;
    uint64_t r, w, bit;
    long rc;

    if (!xen_base) {
        skip("upcall", "Xen not present");
        return;
    }
    handlers[UPCALL_VECTOR] = upcall_handler;
    rc = hypercall(HC_memory_op, XENMEM_add_to_physmap, (uint64_t)&xatp, 0);
    check_eq("shared-info-map", rc, 0);
    if (rc)
        return;
    v->evtchn_upcall_mask = 0;
    rc = hvm_param(HVMOP_set_param, HVM_PARAM_CALLBACK_IRQ, &cb);
    check_eq("callback-irq-vector", rc, 0);
    rc = evtchn_op(EVTCHNOP_bind_ipi, &bind);
    check("evtchn-bind-ipi", rc == 0 && bind.port > 0 && bind.port < 4096,
          "got rc %ld port %u expected rc 0 and a port in 1..4095", rc,
          bind.port);
    if (rc || !bind.port || bind.port >= 4096)
        return;
    ipi_port = bind.port;
    w = ipi_port / 64;
    bit = 1ul << (ipi_port % 64);
    rc = evtchn_op(EVTCHNOP_unmask, &bind.port);
    check_eq("evtchn-unmask", rc, 0);
    printf("INFO ipi port %u, upcall vector %#x, 64-bit shared_info\n",
           ipi_port, UPCALL_VECTOR);

    h = ipi_hits;
    asm volatile("sti" ::: "memory");
    rc = evtchn_send(ipi_port);
    wait_hits(h + 1);
    check("upcall-send", rc == 0 && ipi_hits == h + 1,
          "got rc %ld, %u upcalls expected rc 0, 1 upcall", rc, ipi_hits - h);
    check("upcall-frame", upcall_cs == SEL_KCODE &&
          (upcall_rflags & RFLAGS_IF) && !(upcall_handler_rflags & RFLAGS_IF),
          "got cs %#lx, rflags %#lx, handler rflags %#lx expected cs %#x, IF "
          "set, handler IF clear", upcall_cs, upcall_rflags,
          upcall_handler_rflags, SEL_KCODE);
    check("upcall-pending-cleared", !(sh->evtchn_pending[w] & bit),
          "got evtchn_pending[%lu] %#lx expected bit %#lx clear", w,
          sh->evtchn_pending[w], bit);

    h = ipi_hits;
    rc = evtchn_send(ipi_port);
    for (i = 0; i < 1000; i++)
        cpu_relax();
    check("upcall-held-while-cli", rc == 0 && ipi_hits == h &&
          (sh->evtchn_pending[w] & bit) && (v->evtchn_pending_sel & (1ul << w)) &&
          v->evtchn_upcall_pending,
          "got rc %ld, %u upcalls, pending %#lx, sel %#lx, upcall_pending %u "
          "expected rc 0, none, bit %#lx, bit %#lx, 1", rc, ipi_hits - h,
          sh->evtchn_pending[w], v->evtchn_pending_sel,
          v->evtchn_upcall_pending, bit, 1ul << w);
    if (v->evtchn_upcall_pending) {
        asm volatile("sti; hlt; cli" ::: "memory");
        check("upcall-wakes-hlt", ipi_hits == h + 1, "got %u upcalls "
              "expected 1", ipi_hits - h);
    } else {
        check("upcall-wakes-hlt", 0, "got evtchn_upcall_pending 0 expected 1 "
              "(not halting)");
    }

    h = ipi_hits;
    u = upcall_user_hits;
    rc = evtchn_send(ipi_port);
    host_ud_watch(user64_upcall_sites);
    r = run_user64(user64_upcall_prog, (void *)USER_STACK_TOP);
    host_ud_watch_end();
    if (!host_ud_passed("upcall-in-ring3", user64_upcall_exit_insn)) {
        /* SKIPped: what the ring 3 part saw before its exit #UD. */
        printf("INFO upcall-in-ring3: before the #UD: send rc %ld, %u "
               "upcall(s), %u from ring 3, last from cs %#lx\n", rc,
               ipi_hits - h, upcall_user_hits - u, upcall_cs);
        return;
    }
    check("upcall-in-ring3", rc == 0 && r == 2 && ipi_hits == h + 1 &&
          upcall_user_hits == u + 1 && upcall_cs == SEL_UCODE,
          "got rc %ld, exit %#lx, %u upcalls (%u from ring 3), cs %#lx "
          "expected rc 0, exit 2, 1 upcall from ring 3, cs %#x", rc, r,
          ipi_hits - h, upcall_user_hits - u, upcall_cs, SEL_UCODE);
}

/* ----------------------------------------------------------------- main */

void __attribute__((used, noreturn)) c_start64(uint32_t start_info);

void c_start64(uint32_t start_info)
{
    uint16_t cs;

    console_init();
    printf("trap64-test: starting\n");
    asm volatile("mov %%cs, %0" : "=r"(cs));
    printf("INFO long mode: cs %#x efer %#lx cr0 %#lx cr4 %#lx cr3 %#lx "
           "start_info %#x\n", cs, rdmsr(MSR_EFER), read_cr(0), read_cr(4),
           read_cr(3), start_info);
    check("long-mode-active", cs == SEL_KCODE && (rdmsr(MSR_EFER) & 0x400),
          "got cs %#x efer %#lx expected cs %#x, EFER.LMA", cs,
          rdmsr(MSR_EFER), SEL_KCODE);

    tables_init();
    handlers[0x80] = int80_handler;
    handlers[0x81] = int81_handler;

    test_kernel_traps();
    test_iretq();
    test_user();
    test_cmpxchg16b();
    test_upcalls();

    shutdown(summary() ? SHUTDOWN_crash : SHUTDOWN_poweroff);
}
