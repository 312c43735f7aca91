/* Descriptor tables, trap dispatch and result bookkeeping (see trap32.h). */
#include "trap32.h"

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
struct tss32 tss __attribute__((aligned(128)));
static uint64_t idt[256] __attribute__((aligned(16)));
static trap_handler_t handlers[256];

static struct trap_expect {
    int armed;
    unsigned int vector;
    uint32_t eip, resume;
    void (*fix)(struct trap_frame *f);
} expect;

volatile struct trap_seen trap_seen;

_Static_assert(sizeof(struct tss32) == 104, "32-bit TSS size");
_Static_assert(sizeof(struct trap_frame) == 68, "trap frame size");

uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned int access,
                  unsigned int flags)
{
    return (limit & 0xffff) |
           ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)(access & 0xff) << 40) |
           ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)(flags & 0xf) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

void idt_set_gate(unsigned int v, unsigned int dpl, int present)
{
    uint32_t off = (uint32_t)(trap_stubs + 16 * (v & 0xff));
    unsigned int type = 0x0e | (dpl & 3) << 5 | (present ? 0x80 : 0);

    idt[v & 0xff] = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
                    ((uint64_t)type << 40) | ((uint64_t)(off >> 16) << 48);
}

void trap_set_handler(unsigned int v, trap_handler_t h)
{
    handlers[v & 0xff] = h;
}

struct __attribute__((packed)) table_reg {
    uint16_t limit;
    uint32_t base;
};

void trap_init(void)
{
    struct table_reg gdtr = { sizeof(gdt) - 1, (uint32_t)gdt };
    struct table_reg idtr = { sizeof(idt) - 1, (uint32_t)idt };
    unsigned int v;

    gdt[0] = 0;
    gdt[SEL_KCODE >> 3] = seg_desc(0, 0xfffff, DESC_CODE32_K, DESC_FLAGS_32);
    gdt[SEL_KDATA >> 3] = seg_desc(0, 0xfffff, DESC_DATA_K, DESC_FLAGS_32);
    gdt[SEL_UCODE >> 3] = seg_desc(0, 0xfffff, DESC_CODE32_U, DESC_FLAGS_32);
    gdt[SEL_UDATA >> 3] = seg_desc(0, 0xfffff, DESC_DATA_U, DESC_FLAGS_32);
    tss.ss0 = SEL_KDATA;
    tss.esp0 = (uint32_t)trap_stack_top;
    tss.iomap = sizeof(tss);              /* no I/O permission bitmap */
    gdt[SEL_TSS >> 3] = seg_desc((uint32_t)&tss, sizeof(tss) - 1, DESC_TSS32, 0);

    for (v = 0; v < 256; v++)
        idt_set_gate(v, 0, 1);

    /* Without Xen (QEMU -kernel) a legacy 8259 may deliver timer IRQs
     * whenever IF=1 (ring 3, upcall waits): mask both PICs. */
    if (!xen_cpuid_base) {
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }

    asm volatile("lgdt %0\n\t"
                 "ljmp %1, $1f\n"
                 "1:\n\t"
                 "mov %2, %%ds\n\t"
                 "mov %2, %%es\n\t"
                 "mov %2, %%ss\n\t"
                 "mov %3, %%fs\n\t"
                 "mov %3, %%gs\n\t"
                 "lidt %4\n\t"
                 "ltr %w5"
                 :: "m"(gdtr), "i"(SEL_KCODE), "r"(SEL_KDATA), "r"(0),
                    "m"(idtr), "r"(SEL_TSS)
                 : "memory");
}

void expect_trap(unsigned int vector, const void *eip, const void *resume,
                 void (*fix)(struct trap_frame *f))
{
    memset((void *)&trap_seen, 0, sizeof(trap_seen));
    expect.vector = vector;
    expect.eip = (uint32_t)eip;
    expect.resume = (uint32_t)resume;
    expect.fix = fix;
    barrier();
    expect.armed = 1;
}

void disarm_trap(void)
{
    expect.armed = 0;
    barrier();
}

void trap_record(volatile struct trap_seen *t, const struct trap_frame *f)
{
    t->count++;
    t->vector = f->vector;
    t->error = f->error;
    t->eip = f->eip;
    t->cs = f->cs;
    t->eflags = f->eflags;
    t->esp = (f->cs & 3) ? f->esp : 0;
    t->ss = (f->cs & 3) ? f->ss : 0;
    t->cr2 = f->vector == VEC_PF ? read_cr2() : 0;
    t->frame = (uint32_t)&f->error;
}

void trap_default_handler(struct trap_frame *f)
{
    if (expect.armed && f->vector == expect.vector) {
        expect.armed = 0;
        trap_record(&trap_seen, f);
        if (expect.fix)
            expect.fix(f);
        if (expect.resume)
            f->eip = expect.resume;
        return;
    }
    test_abort("unexpected-exception: vector %u error %#x at %04x:%08x "
               "eflags %#x cr2 %#x%s", f->vector, f->error, f->cs, f->eip,
               f->eflags, f->vector == VEC_PF ? read_cr2() : 0,
               expect.armed ? " (while expecting another vector)" : "");
}

/* ---- the host's #UD for INT n / IRET at CPL 3 (see trap32.h) ---- */

struct host_ud host_ud;
static const struct host_ud_site *host_ud_sites;

void host_ud_watch(const struct host_ud_site *sites)
{
    memset(&host_ud, 0, sizeof(host_ud));
    host_ud_sites = sites;
}

void host_ud_watch_end(void)
{
    host_ud_sites = NULL;
}

static uint32_t seg_base(uint32_t sel)
{
    uint64_t d;

    if ((sel & 4) || (sel >> 3) >= GDT_ENTRIES)
        return 0;
    d = gdt[sel >> 3];
    return ((uint32_t)(d >> 16) & 0xffffff) | ((uint32_t)(d >> 56) << 24);
}

/* Names the instruction at the #UD if it is one the host refuses at CPL 3. */
static int host_ud_insn(const struct trap_frame *f, char *buf, size_t size)
{
    const uint8_t *p = (const uint8_t *)(seg_base(f->cs) + f->eip);

    switch (p[0]) {
    case 0xcc:
        snprintf(buf, size, "int3");
        return 1;
    case 0xcd:
        snprintf(buf, size, "int $0x%x", p[1]);
        return 1;
    case 0xce:
        snprintf(buf, size, "into");
        return 1;
    case 0xcf:
        snprintf(buf, size, "iret");
        return 1;
    }
    return 0;
}

/* Returns only if f is not such a #UD at a watched site. */
static void host_ud_skip(struct trap_frame *f)
{
    const struct host_ud_site *s = host_ud_sites;
    char insn[sizeof(host_ud.insn)], why[160];

    if (f->vector != VEC_UD || (f->cs & 3) != 3 || !s)
        return;
    while (s->insn && (uint32_t)s->insn != f->eip)
        s++;
    if (!s->insn || !host_ud_insn(f, insn, sizeof(insn)))
        return;
    host_ud.count++;
    host_ud.eip = f->eip;
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
        printf("INFO the host's KVM raised #UD for %s at CPL3 at %04x:%08x "
               "instead of exiting to the hypervisor; back to the kernel\n",
               insn, f->cs, f->eip);
    }
    resume_kernel(HOST_UD_RESUMED);
}

int host_ud_passed(const char *name, const void *insn)
{
    char where[48], why[192];

    if (!host_ud.count || host_ud.eip > (uint32_t)insn)
        return 1;
    if (host_ud.check && !strcmp(name, host_ud.check))
        return 0;
    if (host_ud.check)
        snprintf(where, sizeof(where), "%s%s", host_ud.check, test_suffix);
    else
        snprintf(where, sizeof(where), "%04x:%08x", host_ud.cs, host_ud.eip);
    snprintf(why, sizeof(why), "not run: the ring-3 code stopped at %s (the "
             "host's KVM raised #UD for %s at CPL3)", where, host_ud.insn);
    skip(name, why);
    return 0;
}

void __attribute__((used)) trap_dispatch(struct trap_frame *f);

void trap_dispatch(struct trap_frame *f)
{
    trap_handler_t h = handlers[f->vector & 0xff];

    host_ud_skip(f);
    if (h)
        h(f);
    else
        trap_default_handler(f);
}

int check_trap(const char *name, unsigned int vector, uint32_t error,
               const void *eip, uint32_t cs)
{
    expect.armed = 0;
    return check_trap_rec(name, &trap_seen, vector, error, eip, cs);
}

int check_trap_rec(const char *name, const volatile struct trap_seen *t,
                   unsigned int vector, uint32_t error, const void *eip,
                   uint32_t cs)
{
    int ok;

    if (t->count == 0) {
        check(name, 0, "got no exception expected vector %u error %#x at "
              "%04x:%08x", vector, error, cs, (uint32_t)eip);
        return 0;
    }
    ok = t->count == 1 && t->vector == vector && t->error == error &&
         t->eip == (uint32_t)eip && t->cs == cs;
    check(name, ok, "got %u x vector %u error %#x at %04x:%08x expected "
          "vector %u error %#x at %04x:%08x", t->count, t->vector, t->error,
          t->cs, t->eip, vector, error, cs, (uint32_t)eip);
    return ok;
}

/* ---- results: see results.c ---- */

void check_eq(const char *name, uint32_t got, uint32_t want)
{
    check(name, got == want, "got %#x expected %#x", got, want);
}

