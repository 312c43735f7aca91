/*
 * The local APIC XenSharp emulates (no in-kernel irqchip: every access is an
 * MMIO or MSR exit to user space), seen from a 32-bit PVH guest with a real
 * IDT (lib/trap32): CPUID and IA32_APIC_BASE; in xAPIC mode (MMIO at
 * 0xFEE00000) the version/ID/SVR registers, a self-IPI through the ICR with
 * ISR/IRR/EOI, TPR blocking, the one-shot and periodic LVT timer and its
 * mask; then x2APIC mode (MSRs 0x800-0x8FF): ID, LDR, self-IPI through the
 * SELF IPI and ICR MSRs with EOI by MSR, and the TSC-deadline timer (MSR
 * 0x6E0).  Output, one line per check, as hypercall-test:
 *
 *   PASS <name> / FAIL <name>: ... / INFO <text>
 *   apic-test: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.  Every wait for an
 * interrupt is "sti; hlt; cli" in a loop bounded by system time, with a Xen
 * singleshot timer (VIRQ_TIMER, upcalls masked) re-armed as a watchdog so
 * that hlt returns even if the APIC never delivers.
 */
#include "trap32.h"

#define MS 1000000ull

#define APIC_PHYS      0xfee00000u
#define MSR_APIC_BASE  0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC(reg) (0x800u + ((reg) >> 4))

#define APIC_BASE_BSP  (1u << 8)
#define APIC_BASE_EXTD (1u << 10)
#define APIC_BASE_EN   (1u << 11)

/* Register offsets (xAPIC MMIO; x2APIC MSR = 0x800 + offset / 16). */
#define APIC_ID     0x020
#define APIC_VER    0x030
#define APIC_TPR    0x080
#define APIC_PPR    0x0a0
#define APIC_EOI    0x0b0
#define APIC_LDR    0x0d0
#define APIC_SVR    0x0f0
#define APIC_ISR    0x100
#define APIC_IRR    0x200
#define APIC_ICR    0x300
#define APIC_LVTT   0x320
#define APIC_TMICT  0x380
#define APIC_TMCCT  0x390
#define APIC_TDCR   0x3e0
#define APIC_SELF_IPI 0x3f0     /* x2APIC only */

#define SVR_ENABLE     (1u << 8)
#define LVT_MASKED     (1u << 16)
#define LVTT_PERIODIC  (1u << 17)
#define LVTT_DEADLINE  (2u << 17)
#define ICR_SELF       (1u << 18) /* destination shorthand 01 */
#define TDCR_DIV16     0x3

#define VEC_IPI      0x40
#define VEC_TIMER    0x41
#define VEC_SPURIOUS 0xff

static int x2mode;
static uint32_t virq_port;

/* What the interrupt handlers saw. */
static volatile uint32_t ipi_hits, timer_hits, spurious_hits, other_hits;
static volatile uint32_t isr_in_handler;   /* the vector's ISR bit, inside */
static volatile uint32_t last_vector;
static volatile uint64_t timer_tsc;        /* TSC when the timer handler ran */

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;

    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t apic_read(uint32_t reg)
{
    if (x2mode)
        return (uint32_t)rdmsr(MSR_X2APIC(reg));
    return *(volatile uint32_t *)(APIC_PHYS + reg);
}

static void apic_write(uint32_t reg, uint32_t val)
{
    if (x2mode)
        wrmsr(MSR_X2APIC(reg), val);
    else
        *(volatile uint32_t *)(APIC_PHYS + reg) = val;
}

/* Bit v of the 256-bit ISR or IRR bank at base. */
static int apic_bank_bit(uint32_t base, unsigned int v)
{
    return (apic_read(base + (v / 32) * 0x10) >> (v % 32)) & 1;
}

static void apic_irq(struct trap_frame *f)
{
    unsigned int v = f->vector;

    last_vector = v;
    if (v == VEC_SPURIOUS) {            /* no EOI for the spurious vector */
        spurious_hits++;
        return;
    }
    if (v == VEC_TIMER) {
        timer_tsc = rdtsc();
        timer_hits++;
    } else if (v == VEC_IPI) {
        isr_in_handler = apic_bank_bit(APIC_ISR, v);
        ipi_hits++;
    } else {
        other_hits++;
    }
    apic_write(APIC_EOI, 0);
}

/* ---- the watchdog: VIRQ_TIMER from a singleshot timer ---- */

static void ack_virq(void)
{
    evtchn_clear(virq_port);
    xen_shared_info->vcpu_info[0].evtchn_pending_sel = 0;
    xen_shared_info->vcpu_info[0].evtchn_upcall_pending = 0;
}

static void set_watchdog(uint64_t abs_ns)
{
    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = abs_ns, .flags = 0 };

    vcpu_op(VCPUOP_set_singleshot_timer, 0, &t);
}

/*
 * Waits with "sti; hlt; cli" until *counter >= want or timeout_ns of system
 * time have passed; returns how many times hlt returned.  Interrupts are off
 * again on return.
 */
static unsigned int wait_irq(volatile uint32_t *counter, uint32_t want, uint64_t timeout_ns)
{
    uint64_t deadline = xen_now_ns() + timeout_ns;
    unsigned int wakes = 0;

    while (*counter < want && xen_now_ns() < deadline) {
        set_watchdog(deadline);
        asm volatile("sti; hlt; cli" ::: "memory");
        ack_virq();
        wakes++;
    }
    vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
    ack_virq();
    return wakes;
}

/*
 * Lets in whatever vector v the APIC already has in IRR or ISR: an exit with
 * IF=1 (SCHEDOP_yield between sti and cli), so that the hypervisor injects
 * at once, until neither bit is set (at most 8 rounds).  A short sti window
 * alone is not enough on every host: the KVM_EXIT_IRQ_WINDOW_OPEN exit the
 * hypervisor asks for may come only later (see irq_window_probe()).
 */
static void let_in(unsigned int v)
{
    unsigned int i;

    for (i = 0; i < 8; i++) {
        asm volatile("sti" ::: "memory");
        sched_yield();
        asm volatile("cli" ::: "memory");
        if (!apic_bank_bit(APIC_IRR, v) && !apic_bank_bit(APIC_ISR, v))
            break;
    }
}

/*
 * Not a check: whether a self-IPI sent with IF=0 is taken within a short
 * "sti; nop; nop; cli" window.  On hardware it is; under a hypervisor that
 * injects through KVM_INTERRUPT it depends on how soon KVM reports the open
 * interrupt window.  The IPI is let in afterwards either way.
 */
static void irq_window_probe(void)
{
    uint32_t hits;

    ipi_hits = 0;
    apic_write(APIC_ICR, ICR_SELF | VEC_IPI);
    asm volatile("sti; nop; nop; cli" ::: "memory");
    hits = ipi_hits;
    let_in(VEC_IPI);
    printf("INFO a self-IPI sent with IF=0 was %s in a 2-instruction sti window (%u later)\n",
           hits ? "taken" : "not taken", ipi_hits - hits);
}

/* RDMSR of an x2APIC register outside x2APIC mode must #GP. */
__attribute__((noinline, noclone)) static void check_x2apic_msr_gp(void)
{
    extern const uint8_t x2msr_gp_insn[], x2msr_gp_next[];
    uint32_t lo = 0, hi = 0;

    expect_trap(VEC_GP, x2msr_gp_insn, x2msr_gp_next, NULL);
    asm volatile(".globl x2msr_gp_insn\nx2msr_gp_insn:\n\t"
                 "rdmsr\n\t"
                 ".globl x2msr_gp_next\nx2msr_gp_next:"
                 : "+a"(lo), "+d"(hi) : "c"(MSR_X2APIC(APIC_ID)) : "memory");
    check_trap("x2apic-msr-gp-in-xapic-mode", VEC_GP, 0, x2msr_gp_insn, SEL_KCODE);
}

/* ---- xAPIC ---- */

static void xapic_self_ipi(void)
{
    unsigned int wakes;

    ipi_hits = isr_in_handler = 0;
    last_vector = 0;
    apic_write(APIC_ICR, ICR_SELF | VEC_IPI);   /* fixed, edge, self */
    wakes = wait_irq(&ipi_hits, 1, 2000 * MS);
    printf("INFO xAPIC self-IPI: %u handler runs after %u hlt wake-ups\n", ipi_hits, wakes);
    let_in(VEC_IPI);
    check("xapic-self-ipi-once", ipi_hits == 1, "got %u handler runs expected 1", ipi_hits);
    check("xapic-self-ipi-vector", last_vector == VEC_IPI, "got vector %#x expected %#x",
          last_vector, VEC_IPI);
    check("xapic-isr-set-in-handler", isr_in_handler == 1, "got ISR bit %u expected 1", isr_in_handler);
    check("xapic-isr-clear-after-eoi", !apic_bank_bit(APIC_ISR, VEC_IPI), "got ISR bit set expected clear");
    check("xapic-irr-clear", !apic_bank_bit(APIC_IRR, VEC_IPI), "got IRR bit set expected clear");
}

static void xapic_tpr(void)
{
    uint32_t tpr, ppr;

    ipi_hits = 0;
    apic_write(APIC_TPR, 0x50);
    tpr = apic_read(APIC_TPR);
    ppr = apic_read(APIC_PPR);
    check("tpr-readback", tpr == 0x50, "got %#x expected 0x50", tpr);
    check("ppr-follows-tpr", (ppr & 0xf0) == 0x50, "got PPR %#x expected class 5", ppr);
    apic_write(APIC_ICR, ICR_SELF | VEC_IPI);
    let_in(VEC_IPI);
    check("tpr-blocks-lower-class", ipi_hits == 0, "got %u handler runs expected 0 with TPR 0x50", ipi_hits);
    check("tpr-blocked-vector-in-irr", apic_bank_bit(APIC_IRR, VEC_IPI), "got IRR bit clear expected set");
    apic_write(APIC_TPR, 0);
    wait_irq(&ipi_hits, 1, 2000 * MS);
    let_in(VEC_IPI);
    check("tpr-lowered-delivers", ipi_hits == 1, "got %u handler runs expected 1 after TPR 0", ipi_hits);
    check("tpr-lowered-irr-isr-clear",
          !apic_bank_bit(APIC_IRR, VEC_IPI) && !apic_bank_bit(APIC_ISR, VEC_IPI),
          "got IRR %d ISR %d expected both clear",
          apic_bank_bit(APIC_IRR, VEC_IPI), apic_bank_bit(APIC_ISR, VEC_IPI));
}

static void xapic_oneshot(void)
{
    uint32_t lvt, tdcr, tmict, cur0, cur1;
    unsigned int wakes;

    timer_hits = 0;
    apic_write(APIC_TDCR, TDCR_DIV16);
    apic_write(APIC_LVTT, VEC_TIMER);           /* one-shot, unmasked */
    lvt = apic_read(APIC_LVTT);
    tdcr = apic_read(APIC_TDCR);
    check("lvt-timer-readback", lvt == VEC_TIMER, "got %#x expected %#x", lvt, VEC_TIMER);
    check("timer-divide-readback", tdcr == TDCR_DIV16, "got %#x expected %#x", tdcr, TDCR_DIV16);
    apic_write(APIC_TMICT, 312500);             /* 5 ms at XenSharp's 1 GHz bus */
    tmict = apic_read(APIC_TMICT);
    cur0 = apic_read(APIC_TMCCT);
    check("timer-initial-count-readback", tmict == 312500, "got %u expected 312500", tmict);
    check("timer-counting", cur0 > 0 && cur0 <= 312500, "got current count %u expected 1..312500", cur0);
    wakes = wait_irq(&timer_hits, 1, 2000 * MS);
    cur1 = apic_read(APIC_TMCCT);
    printf("INFO one-shot: current count %u after arming, %u after %u hlt wake-ups\n", cur0, cur1, wakes);
    check("oneshot-fired", timer_hits >= 1, "got no timer interrupt within 2 s");
    check("oneshot-count-zero", cur1 == 0, "got current count %u expected 0", cur1);
    wait_irq(&timer_hits, 2, 30 * MS);          /* a one-shot must not fire again */
    check("oneshot-fired-once", timer_hits == 1, "got %u timer interrupts expected 1", timer_hits);
}

static void xapic_periodic(void)
{
    uint32_t before, cur, lvt;
    unsigned int wakes;
    uint64_t t0, t1;

    timer_hits = 0;
    apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC);
    t0 = xen_now_ns();
    apic_write(APIC_TMICT, 62500);              /* 1 ms at a 1 GHz bus */
    wakes = wait_irq(&timer_hits, 5, 2000 * MS);
    t1 = xen_now_ns();
    cur = apic_read(APIC_TMCCT);
    printf("INFO periodic: %u interrupts in %u us, %u hlt wake-ups\n", timer_hits,
           (uint32_t)(t1 - t0) / 1000, wakes);
    check("periodic-fires-repeatedly", timer_hits >= 5, "got %u interrupts expected >= 5 within 2 s",
          timer_hits);
    check("periodic-count-reloads", cur > 0 && cur <= 62500, "got current count %u expected 1..62500", cur);

    apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC | LVT_MASKED);
    lvt = apic_read(APIC_LVTT);
    check("lvt-timer-mask-readback", lvt == (VEC_TIMER | LVTT_PERIODIC | LVT_MASKED),
          "got %#x expected %#x", lvt, VEC_TIMER | LVTT_PERIODIC | LVT_MASKED);
    before = timer_hits;
    let_in(VEC_TIMER);          /* ticks raised before the mask may still come in */
    printf("INFO masking the periodic timer: %u interrupts at the mask, %u after letting pending ones in\n",
           before, timer_hits);
    before = timer_hits;
    wait_irq(&timer_hits, before + 1, 30 * MS);
    check("masked-timer-silent", timer_hits == before, "got %u interrupts in 30 ms expected none",
          timer_hits - before);
    apic_write(APIC_TMICT, 0);                  /* stop it */
}

/* ---- x2APIC ---- */

static void x2apic_ipis(void)
{
    uint64_t icr;

    ipi_hits = isr_in_handler = 0;
    last_vector = 0;
    wrmsr(MSR_X2APIC(APIC_SELF_IPI), VEC_IPI);
    wait_irq(&ipi_hits, 1, 2000 * MS);
    let_in(VEC_IPI);
    check("x2apic-self-ipi-msr-once", ipi_hits == 1, "got %u handler runs expected 1", ipi_hits);
    check("x2apic-self-ipi-vector", last_vector == VEC_IPI, "got vector %#x expected %#x",
          last_vector, VEC_IPI);
    check("x2apic-isr-set-in-handler", isr_in_handler == 1, "got ISR bit %u expected 1", isr_in_handler);
    check("x2apic-isr-clear-after-eoi-msr", !apic_bank_bit(APIC_ISR, VEC_IPI),
          "got ISR bit set expected clear");

    ipi_hits = 0;
    wrmsr(MSR_X2APIC(APIC_ICR), ICR_SELF | VEC_IPI);
    icr = rdmsr(MSR_X2APIC(APIC_ICR));
    wait_irq(&ipi_hits, 1, 2000 * MS);
    let_in(VEC_IPI);
    check("x2apic-icr-readback", (icr & 0xfffff) == (ICR_SELF | VEC_IPI), "got %#llx expected %#x",
          icr, ICR_SELF | VEC_IPI);
    check("x2apic-icr-self-ipi-once", ipi_hits == 1, "got %u handler runs expected 1", ipi_hits);
}

static void x2apic_tsc_deadline(void)
{
    uint64_t deadline, readback, after;
    uint32_t lvt;
    unsigned int wakes;

    timer_hits = 0;
    apic_write(APIC_LVTT, VEC_TIMER | LVTT_DEADLINE);
    lvt = apic_read(APIC_LVTT);
    check("lvt-timer-deadline-mode", lvt == (VEC_TIMER | LVTT_DEADLINE), "got %#x expected %#x",
          lvt, VEC_TIMER | LVTT_DEADLINE);
    deadline = rdtsc() + 20000000;              /* a few ms of TSC */
    wrmsr(MSR_TSC_DEADLINE, deadline);
    readback = rdmsr(MSR_TSC_DEADLINE);
    wakes = wait_irq(&timer_hits, 1, 2000 * MS);
    after = rdmsr(MSR_TSC_DEADLINE);
    printf("INFO TSC deadline %llu: handler at %llu (%lld ticks late) after %u hlt wake-ups\n",
           deadline, timer_tsc, (long long)(timer_tsc - deadline), wakes);
    check("tsc-deadline-readback", readback == deadline || (readback == 0 && timer_hits),
          "got %llu expected %llu", readback, deadline);
    check("tsc-deadline-fired", timer_hits == 1, "got %u timer interrupts expected 1", timer_hits);
    check("tsc-deadline-not-early", timer_hits == 0 || timer_tsc >= deadline,
          "got the interrupt at TSC %llu, before the deadline %llu", timer_tsc, deadline);
    check("tsc-deadline-clears", after == 0, "got %llu expected 0 once fired", after);

    /* A deadline already past fires at once. */
    timer_hits = 0;
    wrmsr(MSR_TSC_DEADLINE, 1);
    wait_irq(&timer_hits, 1, 2000 * MS);
    check("tsc-deadline-past-fires", timer_hits == 1, "got %u timer interrupts expected 1", timer_hits);

    wrmsr(MSR_TSC_DEADLINE, 0);
    apic_write(APIC_LVTT, VEC_TIMER | LVT_MASKED);
}

int guest_main(const struct hvm_start_info *si)
{
    uint32_t a, b, c, d, ver, id, svr;
    uint64_t base;
    long rc;

    (void)si;
    test_guest = "apic-test";
    printf("apic-test: starting\n");
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    trap_init();
    trap_set_handler(VEC_IPI, apic_irq);
    trap_set_handler(VEC_TIMER, apic_irq);
    trap_set_handler(VEC_SPURIOUS, apic_irq);

    rc = evtchn_init();
    if (rc == 0)
        rc = evtchn_bind_virq(VIRQ_TIMER, 0, &virq_port);
    if (rc != 0)
        test_abort("watchdog-setup: shared_info/VIRQ_TIMER: got %ld expected 0", rc);
    ack_virq();

    /* CPUID and IA32_APIC_BASE. */
    cpuid(1, 0, &a, &b, &c, &d);
    check("cpuid-apic", d & (1u << 9), "got EDX %#x expected bit 9 (APIC)", d);
    check("cpuid-x2apic", c & (1u << 21), "got ECX %#x expected bit 21 (x2APIC)", c);
    check("cpuid-tsc-deadline", c & (1u << 24), "got ECX %#x expected bit 24 (TSC deadline)", c);
    base = rdmsr(MSR_APIC_BASE);
    printf("INFO IA32_APIC_BASE %#llx\n", base);
    check("apic-base-enabled", base & APIC_BASE_EN, "got %#llx expected EN (bit 11)", base);
    check("apic-base-bsp", base & APIC_BASE_BSP, "got %#llx expected BSP (bit 8)", base);
    check("apic-base-xapic-mode", !(base & APIC_BASE_EXTD), "got %#llx expected EXTD (bit 10) clear", base);
    check("apic-base-address", (base & ~0xfffull) == APIC_PHYS, "got %#llx expected base 0xfee00000",
          base & ~0xfffull);

    /* xAPIC registers. */
    ver = apic_read(APIC_VER);
    id = apic_read(APIC_ID);
    printf("INFO xAPIC version %#x id %#x\n", ver, id);
    check("xapic-version", (ver & 0xff) == 0x14, "got %#x expected low byte 0x14", ver);
    check("xapic-max-lvt", ((ver >> 16) & 0xff) >= 5, "got max LVT %u expected >= 5", (ver >> 16) & 0xff);
    check("xapic-id", (id >> 24) == (b >> 24) && (id >> 24) == 0,
          "got id %#x (CPUID initial APIC id %u) expected 0", id >> 24, b >> 24);
    check_x2apic_msr_gp();
    apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
    svr = apic_read(APIC_SVR);
    check("svr-software-enable", svr == (SVR_ENABLE | VEC_SPURIOUS), "got %#x expected %#x",
          svr, SVR_ENABLE | VEC_SPURIOUS);
    apic_write(APIC_TPR, 0);

    irq_window_probe();
    xapic_self_ipi();
    xapic_tpr();
    xapic_oneshot();
    xapic_periodic();

    /* x2APIC mode. */
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
    base = rdmsr(MSR_APIC_BASE);
    check("x2apic-enable", (base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD),
          "got IA32_APIC_BASE %#llx expected EN and EXTD", base);
    if (!(base & APIC_BASE_EXTD)) {
        printf("INFO not in x2APIC mode: x2APIC checks not run\n");
    } else {
        x2mode = 1;
        id = (uint32_t)rdmsr(MSR_X2APIC(APIC_ID));
        ver = (uint32_t)rdmsr(MSR_X2APIC(APIC_VER));
        a = (uint32_t)rdmsr(MSR_X2APIC(APIC_LDR));
        svr = (uint32_t)rdmsr(MSR_X2APIC(APIC_SVR));
        check("x2apic-id", id == 0, "got %#x expected 0 for vCPU 0", id);
        check("x2apic-version", (ver & 0xff) == 0x14, "got %#x expected low byte 0x14", ver);
        check("x2apic-ldr", a == 1, "got %#x expected 0x1 (cluster 0, bit 0)", a);
        check("x2apic-svr-kept", svr == (SVR_ENABLE | VEC_SPURIOUS), "got %#x expected %#x",
              svr, SVR_ENABLE | VEC_SPURIOUS);
        x2apic_ipis();
        x2apic_tsc_deadline();
    }

    check("no-stray-interrupts", spurious_hits == 0 && other_hits == 0,
          "got %u spurious and %u other interrupts expected none", spurious_hits, other_hits);
    return test_summary();
}
