/*
 * 32-bit protected-mode exception plumbing for the trap test guests
 * (trap-test, iret-bad): a GDT with ring-0/ring-3 segments and a TSS, an
 * IDT whose 256 entries point at per-vector stubs (trap32-stubs.S), a C
 * dispatcher with "expect one exception here" support, ring-3 entry and
 * exit, and the PASS/FAIL bookkeeping the guests print.
 */
#ifndef GUESTS_TRAP32_H
#define GUESTS_TRAP32_H

#include "guest.h"

/* GDT layout (selectors). Entries from GDT_FIRST_FREE on are for tests. */
#define SEL_KCODE   0x08        /* 32-bit code, DPL 0 */
#define SEL_KDATA   0x10        /* data, DPL 0 */
#define SEL_UCODE   0x1b        /* 32-bit code, DPL 3 (index 3, RPL 3) */
#define SEL_UDATA   0x23        /* data, DPL 3 (index 4, RPL 3) */
#define SEL_TSS     0x28        /* 32-bit TSS */
#define GDT_FIRST_FREE 6
#define GDT_ENTRIES 16

/* Descriptor access bytes (present, DPL, S, type with the accessed bit). */
#define DESC_CODE32_K 0x9b      /* execute/read code, DPL 0 */
#define DESC_DATA_K   0x93      /* read/write data, DPL 0 */
#define DESC_CODE32_U 0xfb
#define DESC_DATA_U   0xf3
#define DESC_TSS32    0x89      /* available 32-bit TSS */
#define DESC_PRESENT  0x80
#define DESC_FLAGS_32 0xc       /* G=1, D/B=1 */

#define EFLAGS_CF 0x001
#define EFLAGS_ZF 0x040
#define EFLAGS_IF 0x200
#define EFLAGS_OF 0x800

/* Exception vectors. */
#define VEC_BP  3
#define VEC_UD  6
#define VEC_NP  11
#define VEC_SS  12
#define VEC_GP  13
#define VEC_PF  14

/* Error code an event through IDT entry v pushes when the gate itself is
 * the problem (gate DPL < CPL for INT n, gate not present): IDT bit set. */
#define IDT_ERRCODE(v) (((uint32_t)(v) << 3) | 2)

/* What the stubs leave on the stack; trap_dispatch() gets a pointer to it.
 * esp/ss exist only when the event came from CPL 3 ((cs & 3) != 0). */
struct trap_frame {
    uint32_t es, ds;
    uint32_t edi, esi, ebp, esp_pushal, ebx, edx, ecx, eax;
    uint32_t vector, error;     /* error is 0 for vectors without one */
    uint32_t eip, cs, eflags;
    uint32_t esp, ss;
};

struct tss32 {
    uint16_t link, rsvd0;
    uint32_t esp0;
    uint16_t ss0, rsvd1;
    uint32_t esp1;
    uint16_t ss1, rsvd2;
    uint32_t esp2;
    uint16_t ss2, rsvd3;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, rsvd4, cs, rsvd5, ss, rsvd6, ds, rsvd7, fs, rsvd8, gs, rsvd9;
    uint16_t ldt, rsvd10, trap, iomap;
};

typedef void (*trap_handler_t)(struct trap_frame *f);

extern uint64_t gdt[GDT_ENTRIES];
extern struct tss32 tss;
extern uint8_t trap_stack_top[];       /* TSS.ESP0 (trap32-stubs.S) */

/* The stub for vector v is at trap_stubs + 16 * v (trap32-stubs.S). */
extern const uint8_t trap_stubs[];

uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned int access,
                  unsigned int flags);
/* Installs GDT, segments, TSS (ltr) and an IDT with a DPL-0 interrupt gate
 * for every vector. Call once. */
void trap_init(void);
/* Rewrites IDT entry v as an interrupt gate to its stub. */
void idt_set_gate(unsigned int v, unsigned int dpl, int present);
/* NULL restores the default handler (expected-exception logic). */
void trap_set_handler(unsigned int v, trap_handler_t h);

/*
 * Expecting an exception: arm with expect_trap(); when that vector arrives
 * the default handler records it in trap_seen, calls fix (if any), sets
 * EIP to resume (if nonzero; else the instruction is retried) and IRETs.
 * Any other exception is fatal: FAIL line, summary, SHUTDOWN_crash.
 */
struct trap_seen {
    uint32_t count, vector, error, eip, cs, eflags, esp, ss, cr2;
    uint32_t frame;             /* address of the frame's error code word */
};
extern volatile struct trap_seen trap_seen;

void expect_trap(unsigned int vector, const void *eip, const void *resume,
                 void (*fix)(struct trap_frame *f));
/* Cancels an expect_trap() whose exception did not come. */
void disarm_trap(void);
/* Prints PASS/FAIL for the armed exception: exactly one, with this vector,
 * error code, EIP and CS. Returns nonzero on PASS. */
int check_trap(const char *name, unsigned int vector, uint32_t error,
               const void *eip, uint32_t cs);
/* The same for a record of one's own (count must be 1). */
int check_trap_rec(const char *name, const volatile struct trap_seen *t,
                   unsigned int vector, uint32_t error, const void *eip,
                   uint32_t cs);
/* Fills *t from a frame (count++, CR2 for #PF). */
void trap_record(volatile struct trap_seen *t, const struct trap_frame *f);
/* What vectors without a handler get; custom handlers may fall back to it. */
void trap_default_handler(struct trap_frame *f);

/*
 * Ring 3: run_user() enters CPL 3 at eip with stack esp (EFLAGS.IF set,
 * DS/ES = SEL_UDATA) and returns, at CPL 0 with IF clear, the value a
 * handler passes to resume_kernel(), which abandons the handler's frame.
 * kernel_saved_esp is where run_user() left the kernel stack (callee-saved
 * registers pushed as ebp, ebx, esi, edi); helpers that want to be resumed
 * by resume_kernel() save it the same way.
 */
uint32_t run_user(const void *eip, void *esp);
void __attribute__((noreturn)) resume_kernel(uint32_t value);
extern uint32_t kernel_saved_esp;

/*
 * A limit of this host, not of the hypervisor: at CPL 3 its KVM doesn't
 * exit to the hypervisor for INT n, INT3, INTO or IRET but injects #UD at
 * the instruction (docs/ARCHITECTURE.md), so the hypervisor can't complete
 * it.  Before running ring-3 code a guest lists, with host_ud_watch(), the
 * ring-3 instructions of that kind and the check each one belongs to
 * (a table ended by { NULL, NULL }).  trap_dispatch() takes a #UD from
 * CPL 3 at a listed EIP whose bytes are one of those instructions (CD xx,
 * CC, CE, CF) before any handler: it records it in host_ud, prints
 *
 *   SKIP <check>: the host's KVM raised #UD for <insn> at CPL3 instead of
 *   exiting to the hypervisor (see docs)
 *
 * (an INFO line instead when check is NULL: the caller reports the
 * outcome), disarms expect_trap() and returns to the kernel the way a
 * ring-3 SYS_EXIT does, with resume_kernel(HOST_UD_RESUMED): the rest of
 * the ring-3 code is skipped.  Every other exception is handled as before.
 */
#define HOST_UD_RESUMED 0x4f5du  /* what run_user() etc. then return */

struct host_ud_site {
    const void *insn;
    const char *check;
};
struct host_ud {
    unsigned int count;
    uint32_t eip, cs;
    const char *check;
    char insn[16];              /* "int $0x80", "iret", ... */
    struct trap_frame f;        /* the ring-3 registers at the #UD */
};
extern struct host_ud host_ud;

/* Watch sites from now on and clear host_ud; _end() stops watching and
 * keeps host_ud for host_ud_passed(). */
void host_ud_watch(const struct host_ud_site *sites);
void host_ud_watch_end(void);
/*
 * For a check that needs the ring-3 code to have got past insn (the ring-3
 * programs are straight-line code): 1 if no host #UD stopped it at or
 * before insn.  Otherwise 0, after a "SKIP <name>: not run: ..." line
 * (none when name is the check the #UD itself skipped).
 */
int host_ud_passed(const char *name, const void *insn);

/* Results (check, skip, test_summary, test_abort) are declared in guest.h. */
void check_eq(const char *name, uint32_t got, uint32_t want);

static inline uint32_t read_cr0(void)
{
    uint32_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr2(void)
{
    uint32_t v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr4(void)
{
    uint32_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_eflags(void)
{
    uint32_t v;
    asm volatile("pushf; pop %0" : "=r"(v));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#endif
