/*
 * IRET frames that must fault, in 32-bit protected mode with paging off.
 * Each case builds a frame, executes IRET at CPL 0 (one case at CPL 3),
 * and checks the vector, error code, faulting EIP/CS and that the fault
 * frame sits right below the untouched IRET frame.  A few valid IRETs
 * check the other side.  Output as in trap-test:
 *
 *   PASS <name> / FAIL <name>: got <X> expected <Y> / INFO <text>
 *   SKIP <name>: <reason>
 *   iret-bad: <P> passed, <F> failed
 *
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.  A host whose KVM
 * raises #UD for INT n or IRET at CPL 3 gets SKIPs for the ring-3 checks
 * (trap32.h).
 */
#include "trap32.h"

#define SYS_EXIT 2              /* keep in sync with iret-bad-asm.S */

/* Test descriptors. */
#define SEL_CODE_NP     0x30    /* 32-bit code, DPL 0, not present */
#define SEL_CODE_DPL3   0x38    /* 32-bit code, DPL 3, non-conforming */
#define SEL_DATA_K2     0x40    /* data, DPL 0 */
#define SEL_DATA_U_NP   0x48    /* data, DPL 3, not present */
#define SEL_CODE_SMALL  0x50    /* 32-bit code, DPL 0, limit 0xfff bytes */
#define SEL_CODE_CONF3  0x58    /* conforming code, DPL 3 */
#define SEL_DATA_U_RO   0x60    /* read-only data, DPL 3 */

/* iret-bad-asm.S */
uint32_t try_iret(const uint32_t *frame, unsigned int words);
extern const uint8_t try_iret_insn[], try_iret_landing[], try_iret_resume[];
extern const uint8_t user_report[], user_iret_to_ring0[], user_iret_insn[];
extern const uint8_t user_iret_resume[], user_report_exit_insn[];
extern const uint8_t user_iret_exit_insn[];
extern uint32_t iret_esp, landing_esp, landing_eflags;

static uint8_t user_stack[4096] __attribute__((aligned(16)));
#define USER_STACK_TOP ((uint32_t)(user_stack + sizeof(user_stack)))

static volatile struct {
    uint32_t count;
    struct trap_frame f;
} sys_exit;

static void int80_handler(struct trap_frame *f)
{
    sys_exit.count++;
    memcpy((void *)&sys_exit.f, f, sizeof(*f));
    resume_kernel(f->eax == SYS_EXIT ? 2 : 0xbad);
}

static const char *outcome(uint32_t r)
{
    return r == 0 ? "" : r == 1 ? "IRET completed (ring 0); " :
           r == 2 ? "IRET completed (ring 3); " :
           r == HOST_UD_RESUMED ? "IRET completed (ring 3, whose int $0x80 "
                                  "then raised #UD on this host); " : "?; ";
}

/*
 * Ring-3 instructions where this host's KVM may raise #UD instead of
 * exiting to the hypervisor (trap32.h).  An IRET that must fault but
 * reaches ring 3 fails its check, so that site skips nothing.
 */
static const struct host_ud_site outer_level_sites[] = {
    { user_report_exit_insn, "iret-outer-level" },
    { NULL, NULL },
};
static const struct host_ud_site bad_iret_sites[] = {
    { user_report_exit_insn, NULL },
    { NULL, NULL },
};
static const struct host_ud_site ring3_iret_sites[] = {
    { user_iret_insn, "iret-ring3-cs-rpl-below-cpl" },
    { user_iret_exit_insn, "iret-ring3-frame-kept" },
    { NULL, NULL },
};

/* One faulting IRET at CPL 0 (frame of 3 words, or 5 for an outer return). */
static void bad_iret(const char *name, uint32_t eip, uint32_t cs,
                     uint32_t eflags, uint32_t esp, uint32_t ss,
                     unsigned int vector, uint32_t error)
{
    const uint32_t frame[5] = { eip, cs, eflags, esp, ss };
    volatile struct trap_seen *t = &trap_seen;
    uint32_t r, want_frame;

    host_ud_watch(bad_iret_sites);
    expect_trap(vector, try_iret_insn, try_iret_resume, NULL);
    r = try_iret(frame, (cs & 3) ? 5 : 3);
    host_ud_watch_end();
    /* Same-privilege fault: EFLAGS, CS, EIP, error pushed below the frame. */
    want_frame = iret_esp - 16;
    check(name, r == 0 && t->count == 1 && t->vector == vector &&
          t->error == error && t->eip == (uint32_t)try_iret_insn &&
          t->cs == SEL_KCODE && t->frame == want_frame,
          "got %s%u x vector %u error %#x at %04x:%08x frame %#x expected "
          "vector %u error %#x at %04x:%08x frame %#x", outcome(r), t->count,
          t->vector, t->error, t->cs, t->eip, t->frame, vector, error,
          SEL_KCODE, (uint32_t)try_iret_insn, want_frame);
}

static void test_bad_irets(void)
{
    const uint32_t land = (uint32_t)try_iret_landing;
    const uint32_t user = (uint32_t)user_report;
    const uint32_t ustk = USER_STACK_TOP;

    /* Return code segment checks (SDM IRET, protected-mode return). */
    bad_iret("iret-null-cs", land, 0, 0x2, 0, 0, VEC_GP, 0);
    bad_iret("iret-cs-past-gdt-limit", land, 0xfff8, 0x2, 0, 0, VEC_GP, 0xfff8);
    bad_iret("iret-cs-ldt-null-ldtr", land, 0x0c, 0x2, 0, 0, VEC_GP, 0x0c);
    bad_iret("iret-cs-is-data", land, SEL_DATA_K2, 0x2, 0, 0, VEC_GP,
             SEL_DATA_K2);
    bad_iret("iret-cs-dpl3-rpl0", land, SEL_CODE_DPL3, 0x2, 0, 0, VEC_GP,
             SEL_CODE_DPL3);
    bad_iret("iret-cs-conforming-dpl3-rpl0", land, SEL_CODE_CONF3, 0x2, 0, 0,
             VEC_GP, SEL_CODE_CONF3);
    bad_iret("iret-cs-not-present", land, SEL_CODE_NP, 0x2, 0, 0, VEC_NP,
             SEL_CODE_NP);
    /* EIP past the limit (if the IRET wrongly completes, it still lands). */
    bad_iret("iret-eip-past-cs-limit", land, SEL_CODE_SMALL, 0x2, 0, 0,
             VEC_GP, 0);

    /* Return to CPL 3: stack segment checks. */
    bad_iret("iret-outer-null-ss", user, SEL_UCODE, 0x202, ustk, 0, VEC_GP, 0);
    bad_iret("iret-outer-ss-past-gdt-limit", user, SEL_UCODE, 0x202, ustk,
             0xfffb, VEC_GP, 0xfff8);
    bad_iret("iret-outer-ss-rpl0", user, SEL_UCODE, 0x202, ustk,
             SEL_UDATA & ~3, VEC_GP, SEL_UDATA & ~3);
    bad_iret("iret-outer-ss-dpl0", user, SEL_UCODE, 0x202, ustk,
             SEL_KDATA | 3, VEC_GP, SEL_KDATA);
    bad_iret("iret-outer-ss-is-code", user, SEL_UCODE, 0x202, ustk,
             SEL_UCODE, VEC_GP, SEL_UCODE & ~3);
    bad_iret("iret-outer-ss-read-only", user, SEL_UCODE, 0x202, ustk,
             SEL_DATA_U_RO | 3, VEC_GP, SEL_DATA_U_RO);
    /* A not-present stack segment: #SS(selector), as the SDM's IRET pseudo-code and the
     * AMD APM say (the SDM's IRET exception list says #NP; loading SS always gives #SS). */
    bad_iret("iret-outer-ss-not-present", user, SEL_UCODE, 0x202, ustk,
             SEL_DATA_U_NP | 3, VEC_SS, SEL_DATA_U_NP);
}

static void test_good_irets(void)
{
    const uint32_t flags = 0x2 | EFLAGS_CF | EFLAGS_OF;
    uint32_t frame[5] = { (uint32_t)try_iret_landing, SEL_KCODE, flags, 0, 0 };
    volatile struct trap_frame *f = &sys_exit.f;
    uint32_t r;

    /* Same privilege: pops EIP, CS, EFLAGS and nothing else. */
    r = try_iret(frame, 3);
    check("iret-same-level", r == 1 && (landing_eflags & 0xfff) == flags &&
          landing_esp == iret_esp + 12,
          "got %sresult %u, eflags %#x, esp %#x expected landing, eflags "
          "%#x, esp %#x", outcome(r), r, landing_eflags, landing_esp, flags,
          iret_esp + 12);

    /*
     * Outer level with DS/FS/GS holding a DPL-0 data segment and ES a DPL-3
     * one: the IRET nulls DS, FS and GS and keeps ES.
     */
    frame[0] = (uint32_t)user_report;
    frame[1] = SEL_UCODE;
    frame[2] = 0x202;
    frame[3] = USER_STACK_TOP;
    frame[4] = SEL_UDATA;
    memset((void *)&sys_exit, 0, sizeof(sys_exit));
    host_ud_watch(outer_level_sites);
    asm volatile("mov %0, %%es; mov %1, %%fs; mov %1, %%gs"
                 :: "r"(SEL_UDATA), "r"(SEL_KDATA) : "memory");
    r = try_iret(frame, 5);
    asm volatile("mov %0, %%es; mov %1, %%fs; mov %1, %%gs"
                 :: "r"(SEL_KDATA), "r"(0) : "memory");
    host_ud_watch_end();
    if (!host_ud_passed("iret-outer-level", user_report_exit_insn)) {
        /* SKIPped: what user_report saw in ring 3 before the #UD. */
        f = &host_ud.f;
        printf("INFO iret-outer-level: before the #UD: cs %#x ss:esp "
               "%04x:%08x ds %#x es %#x fs %#x gs %#x\n", host_ud.cs,
               f->edi, f->ebp, f->ebx, f->ecx, f->edx, f->esi);
        host_ud_passed("iret-outer-nulls-dpl0-segments",
                       user_report_exit_insn);
        return;
    }
    check("iret-outer-level", r == 2 && sys_exit.count == 1 &&
          f->edi == SEL_UDATA && f->ebp == USER_STACK_TOP &&
          f->cs == SEL_UCODE,
          "got %sresult %u, ss:esp %04x:%08x, exit from cs %#x expected "
          "ring 3 with ss:esp %04x:%08x", outcome(r), r, f->edi, f->ebp,
          f->cs, SEL_UDATA, USER_STACK_TOP);
    check("iret-outer-nulls-dpl0-segments", r == 2 && f->ebx < 4 &&
          f->ecx == SEL_UDATA && f->edx < 4 && f->esi < 4,
          "got ds %#x es %#x fs %#x gs %#x expected ds, fs, gs null and es "
          "%#x", f->ebx, f->ecx, f->edx, f->esi, SEL_UDATA);
}

static void test_ring3_iret(void)
{
    volatile struct trap_frame *f = &sys_exit.f;
    uint32_t r;

    /* At CPL 3, IRET to a CS with RPL 0 < CPL: #GP(selector). */
    memset((void *)&sys_exit, 0, sizeof(sys_exit));
    host_ud_watch(ring3_iret_sites);
    expect_trap(VEC_GP, user_iret_insn, user_iret_resume, NULL);
    r = run_user(user_iret_to_ring0, (void *)USER_STACK_TOP);
    host_ud_watch_end();
    if (host_ud_passed("iret-ring3-cs-rpl-below-cpl", user_iret_insn))
        check_trap("iret-ring3-cs-rpl-below-cpl", VEC_GP, SEL_KCODE,
                   user_iret_insn, SEL_UCODE);
    if (!host_ud_passed("iret-ring3-frame-kept", user_iret_exit_insn))
        return;
    check("iret-ring3-frame-kept", r == 2 && sys_exit.count == 1 &&
          f->ebp == f->edi && f->ebp == USER_STACK_TOP - 12 &&
          trap_seen.ss == SEL_UDATA && trap_seen.esp == USER_STACK_TOP - 12,
          "got %sresult %u, esp before %#x after %#x, fault stack %04x:%08x "
          "expected exit 2, esp %#x unchanged in ring 3 and in the fault "
          "frame (ss %#x)", outcome(r), r, f->ebp, f->edi, trap_seen.ss,
          trap_seen.esp, USER_STACK_TOP - 12, SEL_UDATA);
}

int guest_main(const struct hvm_start_info *si)
{
    (void)si;
    test_guest = "iret-bad";
    printf("iret-bad: starting\n");

    trap_init();
    gdt[SEL_CODE_NP >> 3] = seg_desc(0, 0xfffff,
                                     DESC_CODE32_K & ~DESC_PRESENT,
                                     DESC_FLAGS_32);
    gdt[SEL_CODE_DPL3 >> 3] = seg_desc(0, 0xfffff, DESC_CODE32_U,
                                       DESC_FLAGS_32);
    gdt[SEL_DATA_K2 >> 3] = seg_desc(0, 0xfffff, DESC_DATA_K, DESC_FLAGS_32);
    gdt[SEL_DATA_U_NP >> 3] = seg_desc(0, 0xfffff,
                                       DESC_DATA_U & ~DESC_PRESENT,
                                       DESC_FLAGS_32);
    gdt[SEL_CODE_SMALL >> 3] = seg_desc(0, 0xfff, DESC_CODE32_K, 0x4);
    gdt[SEL_CODE_CONF3 >> 3] = seg_desc(0, 0xfffff, 0xff, DESC_FLAGS_32);
    gdt[SEL_DATA_U_RO >> 3] = seg_desc(0, 0xfffff, 0xf1, DESC_FLAGS_32);
    idt_set_gate(0x80, 3, 1);
    trap_set_handler(0x80, int80_handler);

    test_good_irets();
    test_bad_irets();
    test_ring3_iret();

    return test_summary();
}
