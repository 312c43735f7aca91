/*
 * Exceptions, software interrupts, IRET, ring 3 and event-channel upcalls
 * in 32-bit protected mode, run three times: paging off, 32-bit paging
 * (4 MiB pages) and PAE paging (2 MiB pages), each an identity map of
 * 4 GiB.  Output, one line per check (names end in /nopaging, /paging32
 * or /pae):
 *
 *   PASS <name>
 *   FAIL <name>: got <X> expected <Y>
 *   SKIP <name>: <reason>
 *   INFO <text>
 *   trap-test: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.  An exception nobody
 * expected prints "FAIL unexpected-exception: ..." and the summary and
 * crashes, except the #UD a host's KVM may raise for INT n or IRET at
 * CPL 3: that SKIPs the ring-3 checks (trap32.h).
 */
#include "trap32.h"

#define SYS_RETURN    1         /* keep in sync with trap-test-asm.S */
#define SYS_EXIT      2
#define USER_RETVAL   0x600dcafeu
#define UPCALL_VECTOR 0xf3

/* A 4 MiB (2 MiB for PAE) region mapped with 4 KiB pages for #PF tests. */
#define TEST_VA      0x40000000u
#define PF_MAP_IDX   5          /* not present; the #PF handler maps it */
#define PF_SUPER_IDX 6          /* present, supervisor only */
#define PF_READ_IDX  7          /* not present, never mapped */
#define PF_RO_IDX    8          /* present, read-only */
#define TEST_PAGE(i) (TEST_VA + (i) * 4096u)

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PTE_U  0x004u
#define PTE_PS 0x080u
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)

#define WAIT_LONG  2000000000ull /* TSC cycles to wait for an event */
#define WAIT_SHORT 20000000ull   /* ... to make sure none arrives */

/* trap-test-asm.S */
uint32_t k_int80(uint32_t eax);
void k_int3(void), k_ud2(void), k_load_ds(uint32_t sel), k_int82(void);
void k_pf_write(uint32_t addr, uint32_t value);
uint32_t k_pf_read(uint32_t addr);
extern const uint8_t k_int80_next[], k_int3_next[], k_ud2_insn[], k_ud2_next[];
extern const uint8_t k_load_ds_insn[], k_load_ds_next[], k_int82_insn[];
extern const uint8_t k_int82_next[], k_pf_write_insn[], k_pf_write_next[];
extern const uint8_t k_pf_read_insn[], k_pf_read_next[];
extern uint32_t k_int80_esp, k_int80_eflags, k_int80_eflags_after;
extern const uint8_t user_prog[], user_ud2_insn[], user_ud2_next[];
extern const uint8_t user_cli_insn[], user_cli_next[], user_int81_insn[];
extern const uint8_t user_int81_next[], user_pf_insn[], user_pf_next[];
extern const uint8_t user_int80_insn[], user_int80_next[], user_exit_insn[];
extern const uint8_t user_upcall_prog[], user_upcall_exit_insn[];

/* Read by the ring-3 code. */
uint32_t user_pf_addr;
volatile uint32_t upcall_user_hits;

static uint8_t user_stack[4096] __attribute__((aligned(16)));
#define USER_STACK_TOP ((uint32_t)(user_stack + sizeof(user_stack)))

/* ---------------------------------------------------------------- modes */

enum mode { MODE_FLAT, MODE_PSE, MODE_PAE };
static enum mode mode;

static uint32_t pd32[1024] __attribute__((aligned(4096)));
static uint32_t pt32[1024] __attribute__((aligned(4096)));
static uint64_t pdpt[4] __attribute__((aligned(4096)));
static uint64_t pae_pd[4][512] __attribute__((aligned(4096)));
static uint64_t pae_pt[512] __attribute__((aligned(4096)));
static uint8_t pf_pages[3][4096] __attribute__((aligned(4096)));

static void set_test_pte(unsigned int idx, uint32_t val)
{
    if (mode == MODE_PAE)
        pae_pt[idx] = val;
    else
        pt32[idx] = val;
    asm volatile("invlpg (%0)" :: "r"(TEST_PAGE(idx)) : "memory");
}

/*
 * Turns paging on; returns 0 when the CPU refuses (a #GP at the MOV to CR0: this host's
 * KVM does so for paging in 32-bit protected mode), leaving paging off.
 */
__attribute__((noinline, noclone)) static int paging_on(enum mode m)
{
    extern char paging_cr0_insn[], paging_cr0_next[];
    uint32_t cr3, cr4 = read_cr4() & ~(CR4_PSE | CR4_PAE);
    unsigned int i, k;

    mode = m;
    if (m == MODE_PSE) {
        for (i = 0; i < 1024; i++)
            pd32[i] = (i << 22) | PTE_PS | PTE_U | PTE_W | PTE_P;
        pd32[TEST_VA >> 22] = (uint32_t)pt32 | PTE_U | PTE_W | PTE_P;
        memset(pt32, 0, sizeof(pt32));
        cr3 = (uint32_t)pd32;
        cr4 |= CR4_PSE;
    } else {
        for (k = 0; k < 4; k++) {
            pdpt[k] = (uint32_t)pae_pd[k] | PTE_P;   /* R/W, U/S reserved */
            for (i = 0; i < 512; i++)
                pae_pd[k][i] = ((uint64_t)(k * 512 + i) << 21) |
                               PTE_PS | PTE_U | PTE_W | PTE_P;
        }
        pae_pd[TEST_VA >> 30][(TEST_VA >> 21) & 511] =
            (uint32_t)pae_pt | PTE_U | PTE_W | PTE_P;
        memset(pae_pt, 0, sizeof(pae_pt));
        cr3 = (uint32_t)pdpt;
        cr4 |= CR4_PAE;
    }
    set_test_pte(PF_SUPER_IDX, (uint32_t)pf_pages[1] | PTE_W | PTE_P);
    set_test_pte(PF_RO_IDX, (uint32_t)pf_pages[2] | PTE_U | PTE_P);
    expect_trap(VEC_GP, paging_cr0_insn, paging_cr0_next, NULL);
    asm volatile("mov %0, %%cr4\n\t"
                 "mov %1, %%cr3\n\t"
                 ".globl paging_cr0_insn\npaging_cr0_insn:\n\t"
                 "mov %2, %%cr0\n\t"
                 ".globl paging_cr0_next\npaging_cr0_next:\n\t"
                 "jmp 1f\n1:"
                 :: "r"(cr4), "r"(cr3), "r"(read_cr0() | CR0_PG | CR0_WP)
                 : "memory");
    if (trap_seen.count) {
        asm volatile("mov %0, %%cr4" :: "r"(read_cr4() & ~(CR4_PSE | CR4_PAE)) : "memory");
        return 0;
    }
    disarm_trap();
    return 1;
}

static void paging_off(void)
{
    asm volatile("mov %0, %%cr0\n\t"
                 "jmp 1f\n1:\n\t"
                 "mov %1, %%cr4"
                 :: "r"(read_cr0() & ~(CR0_PG | CR0_WP)),
                    "r"(read_cr4() & ~(CR4_PSE | CR4_PAE))
                 : "memory");
    mode = MODE_FLAT;
}

/* ------------------------------------------------- kernel-mode traps */

static volatile struct {
    uint32_t count, eip, cs, eflags, handler_eflags, frame;
} k80;

struct sysrec {
    uint32_t count;
    struct trap_frame f;
    uint32_t frame_end;         /* address just past the frame */
};
static volatile struct sysrec sys_return, sys_exit;

static void record_sys(volatile struct sysrec *r, struct trap_frame *f)
{
    r->count++;
    memcpy((void *)&r->f, f, sizeof(*f));
    r->frame_end = (uint32_t)(f + 1);
}

static void int80_handler(struct trap_frame *f)
{
    if ((f->cs & 3) == 0) {
        k80.count++;
        k80.eip = f->eip;
        k80.cs = f->cs;
        k80.eflags = f->eflags;
        k80.handler_eflags = read_eflags();
        k80.frame = (uint32_t)&f->eip;
        f->eax = ~f->eax;
        return;
    }
    if (f->eax == SYS_RETURN) {
        record_sys(&sys_return, f);
        f->eax = USER_RETVAL;
        return;
    }
    record_sys(&sys_exit, f);
    resume_kernel(f->eax == SYS_EXIT ? 1 : 0xbad);
}

static void test_kernel_traps(void)
{
    uint32_t before = k80.count, r;

    r = k_int80(0x1234abcd);
    check("int80", k80.count == before + 1 && r == ~0x1234abcdu &&
          k80.eip == (uint32_t)k_int80_next && k80.cs == SEL_KCODE,
          "got %u calls, eax %#x, return to %04x:%08x expected 1 call, eax "
          "%#x, return to %04x:%08x", k80.count - before, r, k80.cs, k80.eip,
          ~0x1234abcdu, SEL_KCODE, (uint32_t)k_int80_next);
    check("int80-frame", k80.frame == k_int80_esp - 12 &&
          k80.eflags == k_int80_eflags && !(k80.handler_eflags & EFLAGS_IF),
          "got frame at %#x, eflags %#x, handler IF %u expected frame at %#x, "
          "eflags %#x, IF 0", k80.frame, k80.eflags,
          !!(k80.handler_eflags & EFLAGS_IF), k_int80_esp - 12, k_int80_eflags);
    check_eq("int80-eflags-after-iret", k_int80_eflags_after, k_int80_eflags);

    expect_trap(VEC_BP, k_int3_next, NULL, NULL);
    k_int3();
    check_trap("int3", VEC_BP, 0, k_int3_next, SEL_KCODE);

    expect_trap(VEC_UD, k_ud2_insn, k_ud2_next, NULL);
    k_ud2();
    check_trap("ud2", VEC_UD, 0, k_ud2_insn, SEL_KCODE);

    /* GDT selector past the limit: error code = selector without RPL. */
    expect_trap(VEC_GP, k_load_ds_insn, k_load_ds_next, NULL);
    k_load_ds(0x1233);
    check_trap("gp-selector-past-gdt-limit", VEC_GP, 0x1230, k_load_ds_insn,
               SEL_KCODE);
    /* TI=1 with a null LDTR. */
    expect_trap(VEC_GP, k_load_ds_insn, k_load_ds_next, NULL);
    k_load_ds(0x1234);
    check_trap("gp-ldt-selector-null-ldtr", VEC_GP, 0x1234, k_load_ds_insn,
               SEL_KCODE);
    /* A system descriptor (the TSS) in DS. */
    expect_trap(VEC_GP, k_load_ds_insn, k_load_ds_next, NULL);
    k_load_ds(SEL_TSS);
    check_trap("gp-system-selector", VEC_GP, SEL_TSS, k_load_ds_insn, SEL_KCODE);
    /* A not-present data segment. */
    expect_trap(VEC_NP, k_load_ds_insn, k_load_ds_next, NULL);
    k_load_ds(GDT_FIRST_FREE << 3);
    check_trap("np-data-selector", VEC_NP, GDT_FIRST_FREE << 3, k_load_ds_insn,
               SEL_KCODE);

    expect_trap(VEC_NP, k_int82_insn, k_int82_next, NULL);
    k_int82();
    check_trap("int-gate-not-present", VEC_NP, IDT_ERRCODE(0x82), k_int82_insn,
               SEL_KCODE);
}

/* ------------------------------------------------------------ page faults */

static void pf_map_fix(struct trap_frame *f)
{
    (void)f;
    set_test_pte(PF_MAP_IDX, (uint32_t)pf_pages[0] | PTE_U | PTE_W | PTE_P);
}

static void test_page_faults(void)
{
    volatile uint32_t *p0 = (volatile uint32_t *)pf_pages[0];
    volatile uint32_t *p2 = (volatile uint32_t *)pf_pages[2];
    uint32_t r;

    /* Not present, write: the handler maps the page; the write is retried. */
    *p0 = 0;
    expect_trap(VEC_PF, k_pf_write_insn, NULL, pf_map_fix);
    k_pf_write(TEST_PAGE(PF_MAP_IDX) + 0x10, 0xfeedf00d);
    check_trap("pf-not-present-write", VEC_PF, 0x2, k_pf_write_insn, SEL_KCODE);
    check_eq("pf-not-present-write-cr2", trap_seen.cr2,
             TEST_PAGE(PF_MAP_IDX) + 0x10);
    check_eq("pf-write-retried", p0[4], 0xfeedf00d);

    /* Not present, read: the handler skips the instruction. */
    expect_trap(VEC_PF, k_pf_read_insn, k_pf_read_next, NULL);
    r = k_pf_read(TEST_PAGE(PF_READ_IDX) + 0xffc);
    check_trap("pf-not-present-read", VEC_PF, 0x0, k_pf_read_insn, SEL_KCODE);
    check_eq("pf-not-present-read-cr2", trap_seen.cr2,
             TEST_PAGE(PF_READ_IDX) + 0xffc);
    check_eq("pf-read-skipped", r, 0);

    /* Present, read-only, CR0.WP=1: a supervisor write faults. */
    *p2 = 0x5a5a5a5a;
    expect_trap(VEC_PF, k_pf_write_insn, k_pf_write_next, NULL);
    k_pf_write(TEST_PAGE(PF_RO_IDX) + 8, 1);
    check_trap("pf-write-protect", VEC_PF, 0x3, k_pf_write_insn, SEL_KCODE);
    check_eq("pf-write-protect-cr2", trap_seen.cr2, TEST_PAGE(PF_RO_IDX) + 8);
    check_eq("pf-write-protect-memory", p2[2], 0);
    set_test_pte(PF_MAP_IDX, 0);
}

/* -------------------------------------------------------------- ring 3 */

static volatile struct trap_seen user_seen[8];
static volatile unsigned int user_seen_n;

/* Where this host's KVM may raise #UD instead of exiting (trap32.h). */
static const struct host_ud_site user_prog_sites[] = {
    { user_int81_insn, "user-int-dpl0-gate-gp" },
    { user_int80_insn, "user-int80" },
    { user_exit_insn, "user-exit-to-kernel" },
    { NULL, NULL },
};
static const struct host_ud_site user_upcall_sites[] = {
    { user_upcall_exit_insn, "upcall-in-ring3" },
    { NULL, NULL },
};

static const struct {
    const uint8_t *insn, *next;
} user_fixups[] = {
    { user_ud2_insn, user_ud2_next },
    { user_cli_insn, user_cli_next },
    { user_int81_insn, user_int81_next },
    { user_pf_insn, user_pf_next },
};

/* #UD, #GP and #PF from ring 3 during test_user(): record and skip. */
static void user_fault_handler(struct trap_frame *f)
{
    unsigned int i, n = sizeof(user_fixups) / sizeof(user_fixups[0]);

    if (!(f->cs & 3)) {
        trap_default_handler(f);
        return;
    }
    if (user_seen_n < 8)
        trap_record(&user_seen[user_seen_n++], f);
    for (i = 0; i < n && f->eip != (uint32_t)user_fixups[i].insn; i++)
        ;
    if (i == n)
        test_abort("unexpected-exception: vector %u error %#x at %04x:%08x "
                   "(ring 3)", f->vector, f->error, f->cs, f->eip);
    f->eip = (uint32_t)user_fixups[i].next;
}

static void check_user_fault(const char *name, unsigned int i,
                             unsigned int vector, uint32_t error,
                             const void *eip)
{
    volatile struct trap_seen *t = &user_seen[i];
    /* Ring 3 -> 0 pushes SS, ESP, EFLAGS, CS, EIP, error on the TSS stack. */
    uint32_t want_frame = (uint32_t)trap_stack_top - 24;

    if (i >= user_seen_n) {
        check(name, 0, "got no exception expected vector %u error %#x at "
              "%04x:%08x", vector, error, SEL_UCODE, (uint32_t)eip);
        return;
    }
    check(name, t->vector == vector && t->error == error &&
          t->eip == (uint32_t)eip && t->cs == SEL_UCODE &&
          t->ss == SEL_UDATA && t->esp == USER_STACK_TOP &&
          (t->eflags & EFLAGS_IF) && t->frame == want_frame,
          "got vector %u error %#x at %04x:%08x, stack %04x:%08x, eflags %#x, "
          "frame %#x expected vector %u error %#x at %04x:%08x, stack "
          "%04x:%08x, IF, frame %#x", t->vector, t->error, t->cs, t->eip,
          t->ss, t->esp, t->eflags, t->frame, vector, error, SEL_UCODE,
          (uint32_t)eip, SEL_UDATA, USER_STACK_TOP, want_frame);
}

static void test_user(void)
{
    volatile struct trap_frame *f;
    unsigned int i = 0;
    uint32_t r;

    memset((void *)&sys_return, 0, sizeof(sys_return));
    memset((void *)&sys_exit, 0, sizeof(sys_exit));
    user_seen_n = 0;
    user_pf_addr = mode == MODE_FLAT ? 0 : TEST_PAGE(PF_SUPER_IDX) + 4;
    trap_set_handler(VEC_UD, user_fault_handler);
    trap_set_handler(VEC_GP, user_fault_handler);
    trap_set_handler(VEC_PF, user_fault_handler);
    host_ud_watch(user_prog_sites);

    r = run_user(user_prog, (void *)USER_STACK_TOP);

    host_ud_watch_end();
    trap_set_handler(VEC_UD, NULL);
    trap_set_handler(VEC_GP, NULL);
    trap_set_handler(VEC_PF, NULL);

    /* A host #UD (trap32.h) skips the rest of the ring-3 program and the
     * checks that need it. */
    check_user_fault("user-ud2", i++, VEC_UD, 0, user_ud2_insn);
    check_user_fault("user-cli-gp", i++, VEC_GP, 0, user_cli_insn);
    if (host_ud_passed("user-int-dpl0-gate-gp", user_int81_insn))
        check_user_fault("user-int-dpl0-gate-gp", i, VEC_GP,
                         IDT_ERRCODE(0x81), user_int81_insn);
    i++;
    if (mode != MODE_FLAT &&
        host_ud_passed("user-pf-supervisor-page", user_pf_insn)) {
        check_user_fault("user-pf-supervisor-page", i, VEC_PF, 0x5,
                         user_pf_insn);
        check_eq("user-pf-supervisor-page-cr2", user_seen[i].cr2,
                 user_pf_addr);
    }
    if (mode != MODE_FLAT)
        i++;
    if (host_ud_passed("user-fault-count", user_pf_insn))
        check_eq("user-fault-count", user_seen_n, i);

    f = &sys_return.f;
    if (host_ud_passed("user-int80", user_int80_insn))
        check("user-int80", sys_return.count == 1 && f->cs == SEL_UCODE &&
              f->eip == (uint32_t)user_int80_next && f->ss == SEL_UDATA &&
              f->esp == USER_STACK_TOP && (f->eflags & EFLAGS_IF) &&
              sys_return.frame_end == (uint32_t)trap_stack_top,
              "got %u calls from %04x:%08x, stack %04x:%08x, eflags %#x, "
              "frame end %#x expected 1 from %04x:%08x, stack %04x:%08x, IF, "
              "frame end %#x (TSS.ESP0)", sys_return.count, f->cs, f->eip,
              f->ss, f->esp, f->eflags, sys_return.frame_end, SEL_UCODE,
              (uint32_t)user_int80_next, SEL_UDATA, USER_STACK_TOP,
              (uint32_t)trap_stack_top);

    f = &sys_exit.f;
    if (host_ud_passed("user-iret-to-ring3", user_exit_insn))
        check("user-iret-to-ring3", sys_exit.count == 1 &&
              f->esi == USER_RETVAL && f->ecx == SEL_UCODE &&
              f->edx == SEL_UDATA && (f->edi & EFLAGS_IF) &&
              f->ebp == USER_STACK_TOP && f->esp == USER_STACK_TOP,
              "got %u exits, eax %#x, cs %#x, ss %#x, eflags %#x, esp %#x/%#x "
              "expected 1 exit, eax %#x, cs %#x, ss %#x, IF, esp %#x",
              sys_exit.count, f->esi, f->ecx, f->edx, f->edi, f->ebp, f->esp,
              USER_RETVAL, SEL_UCODE, SEL_UDATA, USER_STACK_TOP);
    if (host_ud_passed("user-exit-to-kernel", user_exit_insn))
        check("user-exit-to-kernel", r == 1 && !(read_eflags() & EFLAGS_IF),
              "got run_user %#x, IF %u expected 1, IF 0", r,
              !!(read_eflags() & EFLAGS_IF));
}

/* ----------------------------------------------------------- cmpxchg8b */

static void test_cmpxchg8b(void)
{
    static volatile uint64_t val __attribute__((aligned(8)));
    const uint64_t a = 0x1122334455667788ull, b = 0x99aabbccddeeff00ull;
    uint64_t old;
    uint8_t z;

    val = a;
    old = a;
    asm volatile("lock cmpxchg8b %1\n\tsetz %2"
                 : "+A"(old), "+m"(val), "=q"(z)
                 : "b"((uint32_t)b), "c"((uint32_t)(b >> 32))
                 : "memory", "cc");
    check("cmpxchg8b-success", z == 1 && val == b && old == a,
          "got ZF %u, memory %#llx, edx:eax %#llx expected ZF 1, %#llx, %#llx",
          z, val, old, b, a);

    old = a;                    /* stale: memory now holds b */
    asm volatile("lock cmpxchg8b %1\n\tsetz %2"
                 : "+A"(old), "+m"(val), "=q"(z)
                 : "b"((uint32_t)a), "c"((uint32_t)(a >> 32))
                 : "memory", "cc");
    check("cmpxchg8b-failure", z == 0 && val == b && old == b,
          "got ZF %u, memory %#llx, edx:eax %#llx expected ZF 0, %#llx, %#llx",
          z, val, old, b, b);

    old = b;                    /* without LOCK */
    asm volatile("cmpxchg8b %1\n\tsetz %2"
                 : "+A"(old), "+m"(val), "=q"(z)
                 : "b"((uint32_t)a), "c"((uint32_t)(a >> 32))
                 : "memory", "cc");
    check("cmpxchg8b-nolock", z == 1 && val == a && old == b,
          "got ZF %u, memory %#llx, edx:eax %#llx expected ZF 1, %#llx, %#llx",
          z, val, old, a, b);
}

/* ------------------------------------------------------ event channels */

#define EVTCHNOP_bind_ipi 7
#define EVTCHNOP_unmask   9

struct evtchn_bind_ipi {
    uint32_t vcpu;
    uint32_t port;              /* OUT */
};

struct evtchn_unmask {
    uint32_t port;
};

static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
static struct shared_info *const sh = (struct shared_info *)shinfo_page;
static uint32_t ipi_port;
static int upcall_ready;
static volatile uint32_t upcall_count, ipi_hits, other_hits;
static volatile uint32_t upcall_cs, upcall_eflags, upcall_handler_eflags;

static void upcall_handler(struct trap_frame *f)
{
    struct vcpu_info *v = &sh->vcpu_info[0];
    uint32_t sel, bits;
    unsigned int w, b;

    upcall_count++;
    upcall_cs = f->cs;
    upcall_eflags = f->eflags;
    upcall_handler_eflags = read_eflags();
    v->evtchn_upcall_pending = 0;
    barrier();
    sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        w = __builtin_ctz(sel);
        sel &= sel - 1;
        bits = sh->evtchn_pending[w] & ~sh->evtchn_mask[w];
        __atomic_fetch_and(&sh->evtchn_pending[w], ~bits, __ATOMIC_SEQ_CST);
        while (bits) {
            b = __builtin_ctz(bits);
            bits &= bits - 1;
            if (w * 32 + b == ipi_port) {
                ipi_hits++;
                if (f->cs & 3)
                    upcall_user_hits++;
            } else {
                other_hits++;
            }
        }
    }
}

static long evtchn_unmask(uint32_t port)
{
    struct evtchn_unmask u = { .port = port };

    return event_channel_op(EVTCHNOP_unmask, &u);
}

static void upcall_setup(void)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint32_t)shinfo_page >> 12,
    };
    struct evtchn_bind_ipi bind = { .vcpu = 0, .port = 0 };
    const uint64_t cb = (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | UPCALL_VECTOR;
    long rc;

    if (!xen_cpuid_base) {
        skip("upcall-setup", "Xen not present");
        return;
    }
    trap_set_handler(UPCALL_VECTOR, upcall_handler);
    rc = memory_op(XENMEM_add_to_physmap, &xatp);
    check_eq("shared-info-map", rc, 0);
    if (rc)
        return;
    sh->vcpu_info[0].evtchn_upcall_mask = 0;
    rc = hvm_set_param(HVM_PARAM_CALLBACK_IRQ, cb);
    check_eq("callback-irq-vector", rc, 0);
    if (rc)
        return;
    rc = event_channel_op(EVTCHNOP_bind_ipi, &bind);
    check("evtchn-bind-ipi", rc == 0 && bind.port > 0 && bind.port < 1024,
          "got rc %ld port %u expected rc 0 and a port in 1..1023", rc,
          bind.port);
    if (rc || bind.port == 0 || bind.port >= 1024)
        return;
    ipi_port = bind.port;
    rc = evtchn_unmask(ipi_port);
    check_eq("evtchn-unmask", rc, 0);
    printf("INFO ipi port %u, upcall vector %#x\n", ipi_port, UPCALL_VECTOR);
    upcall_ready = rc == 0;
}

/* Waits with IF=1 until *ctr reaches target or the TSC budget is spent. */
static void wait_count(volatile uint32_t *ctr, uint32_t target, uint64_t cycles)
{
    uint64_t t0 = rdtsc();

    asm volatile("sti" ::: "memory");
    while (*ctr < target && rdtsc() - t0 < cycles)
        cpu_relax();
    asm volatile("cli" ::: "memory");
}

static void test_upcalls(void)
{
    struct vcpu_info *v = &sh->vcpu_info[0];
    volatile uint32_t *pend, *mask;
    uint32_t w = ipi_port / 32, bit = 1u << (ipi_port % 32), h, u, r;
    long rc;

    if (!upcall_ready) {
        skip("upcall", "no event channel to use");
        return;
    }
    pend = &sh->evtchn_pending[w];
    mask = &sh->evtchn_mask[w];

    /* 1. IF=1: the upcall arrives once the send hypercall returns. */
    h = ipi_hits;
    asm volatile("sti" ::: "memory");
    rc = evtchn_send(ipi_port);
    wait_count(&ipi_hits, h + 1, WAIT_LONG);
    check("upcall-send", rc == 0 && ipi_hits == h + 1,
          "got rc %ld, %u upcalls expected rc 0, 1 upcall", rc, ipi_hits - h);
    check("upcall-frame", upcall_cs == SEL_KCODE &&
          (upcall_eflags & EFLAGS_IF) && !(upcall_handler_eflags & EFLAGS_IF),
          "got cs %#x, eflags %#x, handler eflags %#x expected cs %#x, IF "
          "set, handler IF clear", upcall_cs, upcall_eflags,
          upcall_handler_eflags, SEL_KCODE);
    check("upcall-pending-cleared", !(*pend & bit), "got evtchn_pending[%u] "
          "%#x expected bit %#x clear", w, *pend, bit);

    /* 2. IF=0: the event stays pending; sti;hlt takes it. */
    h = ipi_hits;
    rc = evtchn_send(ipi_port);
    for (r = 0; r < 1000; r++)
        cpu_relax();
    check("upcall-held-while-cli", rc == 0 && ipi_hits == h && (*pend & bit) &&
          (v->evtchn_pending_sel & (1u << w)) && v->evtchn_upcall_pending,
          "got rc %ld, %u upcalls, pending %#x, sel %#x, upcall_pending %u "
          "expected rc 0, none, bit %#x, bit %#x, 1", rc, ipi_hits - h, *pend,
          v->evtchn_pending_sel, v->evtchn_upcall_pending, bit, 1u << w);
    if (v->evtchn_upcall_pending) {
        asm volatile("sti; hlt; cli" ::: "memory");
        check("upcall-wakes-hlt", ipi_hits == h + 1, "got %u upcalls "
              "expected 1", ipi_hits - h);
    } else {
        check("upcall-wakes-hlt", 0, "got evtchn_upcall_pending 0 expected 1 "
              "(not halting)");
    }

    /* 3. Masked port: pending, no upcall; EVTCHNOP_unmask delivers it. */
    h = ipi_hits;
    __atomic_fetch_or(mask, bit, __ATOMIC_SEQ_CST);
    asm volatile("sti" ::: "memory");
    rc = evtchn_send(ipi_port);
    wait_count(&ipi_hits, h + 1, WAIT_SHORT);
    check("upcall-masked-port", rc == 0 && ipi_hits == h && (*pend & bit),
          "got rc %ld, %u upcalls, pending %#x expected rc 0, none, bit %#x",
          rc, ipi_hits - h, *pend, bit);
    asm volatile("sti" ::: "memory");
    rc = evtchn_unmask(ipi_port);
    wait_count(&ipi_hits, h + 1, WAIT_LONG);
    check("upcall-unmask", rc == 0 && ipi_hits == h + 1 && !(*mask & bit),
          "got rc %ld, %u upcalls, mask %#x expected rc 0, 1 upcall, bit %#x "
          "clear", rc, ipi_hits - h, *mask, bit);

    /* 4. Pending with IF=0, then IRET to ring 3 with IF=1: taken in ring 3. */
    h = ipi_hits;
    u = upcall_user_hits;
    memset((void *)&sys_exit, 0, sizeof(sys_exit));
    rc = evtchn_send(ipi_port);
    host_ud_watch(user_upcall_sites);
    r = run_user(user_upcall_prog, (void *)USER_STACK_TOP);
    host_ud_watch_end();
    if (!host_ud_passed("upcall-in-ring3", user_upcall_exit_insn)) {
        /* SKIPped: what the ring 3 part saw before its exit #UD. */
        printf("INFO upcall-in-ring3%s: before the #UD: send rc %ld, %u "
               "upcall(s), %u from ring 3, last from cs %#x\n", test_suffix,
               rc, ipi_hits - h, upcall_user_hits - u, upcall_cs);
        return;
    }
    check("upcall-in-ring3", rc == 0 && r == 1 && ipi_hits == h + 1 &&
          upcall_user_hits == u + 1 && upcall_cs == SEL_UCODE,
          "got rc %ld, exit %#x, %u upcalls (%u from ring 3), cs %#x expected "
          "rc 0, exit 1, 1 upcall from ring 3, cs %#x", rc, r, ipi_hits - h,
          upcall_user_hits - u, upcall_cs, SEL_UCODE);
}

/* ----------------------------------------------------------------- main */

static void run_mode(enum mode m, const char *suffix)
{
    test_suffix = suffix;
    if (m != MODE_FLAT && !paging_on(m)) {
        printf("SKIP mode%s: the host's KVM refused CR0.PG in 32-bit protected mode "
               "(#GP at the MOV to CR0), so this phase cannot run here\n", suffix);
        test_suffix = "";
        return;
    }
    printf("INFO mode %s: cr0 %#x cr4 %#x\n", suffix + 1, read_cr0(),
           read_cr4());
    test_kernel_traps();
    if (m != MODE_FLAT)
        test_page_faults();
    test_user();
    test_cmpxchg8b();
    test_upcalls();
    if (m != MODE_FLAT)
        paging_off();
    test_suffix = "";
}

int guest_main(const struct hvm_start_info *si)
{
    uint32_t a, b, c, d;

    (void)si;
    test_guest = "trap-test";
    printf("trap-test: starting\n");

    trap_init();
    gdt[GDT_FIRST_FREE] = seg_desc(0, 0xfffff, DESC_DATA_K & ~DESC_PRESENT,
                                   DESC_FLAGS_32);
    idt_set_gate(0x80, 3, 1);
    idt_set_gate(0x82, 0, 0);
    trap_set_handler(0x80, int80_handler);
    upcall_setup();

    cpuid(1, 0, &a, &b, &c, &d);
    run_mode(MODE_FLAT, "/nopaging");
    if (d & (1u << 3))
        run_mode(MODE_PSE, "/paging32");
    else
        skip("paging32", "CPUID.1:EDX.PSE is clear");
    if (d & (1u << 6))
        run_mode(MODE_PAE, "/pae");
    else
        skip("pae", "CPUID.1:EDX.PAE is clear");

    return test_summary();
}
