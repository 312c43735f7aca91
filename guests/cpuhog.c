/*
 * A CPU-bound guest for scheduler tests and benchmarks.
 *
 * Command line (space-separated key=value):
 *   seconds=N   spin for N seconds of system time (default 5)
 *   ring=3|0    where to spin (default 3)
 *
 * ring=3: sets up GDT/TSS/IDT (trap32), enters CPL 3 with flat segments
 * and spins there, counting loops; every 2^16 loops it reads the pvclock
 * (vcpu_info is plain guest memory, readable at CPL 3 without paging) and
 * stops at the deadline with a UD2, whose #UD handler returns to ring 0.
 * On a host whose KVM emulates CPL 0 (docs/ARCHITECTURE.md) only CPL 3
 * runs at native speed, so this is the default.
 * ring=0: the same loop at CPL 0 (for comparison: emulated on such hosts).
 *
 * Then, at ring 0, it asks for its runstate (VCPUOP_get_runstate_info) and
 * prints one line
 *
 *   cpuhog: loops=<n> elapsed_ns=<e> runstate running_ns=<r> runnable_ns=<q> blocked_ns=<b> ring=<k>
 *
 * and powers off.  loops is proportional to the CPU time the vCPU got.
 */
#include "trap32.h"

#define VCPUOP_get_runstate_info 4
#define CHECK_EVERY (1u << 16)

/* struct vcpu_runstate_info, i386 layout: uint64_t is 4-aligned (44 bytes). */
struct runstate_info {
    int32_t state;
    uint64_t state_entry_time;
    uint64_t time[4];
} __attribute__((packed));

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static volatile uint64_t deadline_ns;
static volatile uint64_t loops;

/* Spins until deadline_ns; runs at CPL 3 (or CPL 0 for ring=0). */
static void __attribute__((noinline)) spin(void)
{
    uint64_t n = 0, end = deadline_ns;

    for (;;) {
        uint32_t i = CHECK_EVERY;
        asm volatile("1: dec %0\n\tjnz 1b" : "+r"(i));
        n += CHECK_EVERY;
        if (xen_now_ns() >= end)
            break;
    }
    loops = n;
}

static void __attribute__((noreturn, used)) user_main(void)
{
    spin();
    asm volatile("ud2");
    for (;;)
        ;
}

static void ud_handler(struct trap_frame *f)
{
    if ((f->cs & 3) == 3)
        resume_kernel(1);
    trap_default_handler(f);
}

int guest_main(const struct hvm_start_info *si)
{
    struct runstate_info rs;
    uint64_t seconds, start, elapsed;
    unsigned int ring;
    long rc;

    cmdline_init(si);
    seconds = cmdline_ull("seconds", 5);
    ring = (unsigned int)cmdline_ull("ring", 3);
    if (evtchn_init()) {
        printf("cpuhog: evtchn_init failed\n");
        return 1;
    }
    trap_init();
    trap_set_handler(VEC_UD, ud_handler);

    start = xen_now_ns();
    deadline_ns = start + seconds * 1000000000ull;
    printf("cpuhog: spinning %u s at ring %u\n", (unsigned int)seconds, ring);
    if (ring == 0)
        spin();
    else if (run_user((const void *)user_main, user_stack + sizeof(user_stack)) != 1) {
        printf("cpuhog: ring 3 did not come back\n");
        return 1;
    }
    elapsed = xen_now_ns() - start;

    memset(&rs, 0, sizeof(rs));
    rc = vcpu_op(VCPUOP_get_runstate_info, 0, &rs);
    if (rc)
        printf("cpuhog: get_runstate_info: %ld\n", rc);
    printf("cpuhog: loops=%llu elapsed_ns=%llu runstate running_ns=%llu "
           "runnable_ns=%llu blocked_ns=%llu ring=%u\n",
           (unsigned long long)loops, (unsigned long long)elapsed,
           (unsigned long long)rs.time[0], (unsigned long long)rs.time[1],
           (unsigned long long)rs.time[2], ring);
    return rc ? 1 : 0;
}
