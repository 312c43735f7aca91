/*
 * Exercises the hypercalls and CPUID leaves a PVH guest relies on, with
 * Xen's semantics as the reference.  Output, one line per check:
 *
 *   PASS <name>
 *   FAIL <name>: got <X> expected <Y>
 *   SKIP <name>: <reason>
 *   INFO <text>                         (informational, not a check)
 *   hypercall-test: <P> passed, <F> failed
 *
 * then SCHEDOP_shutdown with SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.
 */
#include "guest.h"

#define BAD_ADDR 0xF0000000u      /* guest-physical address outside RAM */
#define AP_MAGIC 0x5a5a1234u



static void check_eq(const char *name, long got, long want)
{
    check(name, got == want, "got %ld expected %ld", got, want);
}

/* ---------------------------------------------------------------- CPUID */

static uint32_t domid;

static void test_cpuid(void)
{
    uint32_t base = xen_cpuid_base, a, b, c, d, ver;

    cpuid(base, 0, &a, &b, &c, &d);
    check("cpuid-signature", b == XEN_CPUID_SIG_EBX && c == XEN_CPUID_SIG_ECX &&
          d == XEN_CPUID_SIG_EDX, "got %08x %08x %08x expected XenVMMXenVMM",
          b, c, d);
    check("cpuid-max-leaf", a >= base + 4, "got %#x expected >= %#x", a, base + 4);

    cpuid(base + 1, 0, &ver, &b, &c, &d);
    printf("INFO cpuid base %#x, version %u.%u\n", base, ver >> 16, ver & 0xffff);

    cpuid(base + 4, 0, &a, &b, &c, &d);
    printf("INFO cpuid leaf base+4: eax=%#x ebx=%u ecx=%u\n", a, b, c);
    check("cpuid-hvm-flags", (a & XEN_HVM_CPUID_VCPU_ID_PRESENT) &&
          (a & XEN_HVM_CPUID_DOMID_PRESENT),
          "got eax %#x expected VCPU_ID_PRESENT|DOMID_PRESENT (%#x)", a,
          XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT);
    check_eq("cpuid-vcpu-id", b, 0);
    domid = c;
    check("cpuid-domid", c > 0 && c < DOMID_FIRST_RESERVED,
          "got %u expected a domU id in 1..%u", c, DOMID_FIRST_RESERVED - 1);
}

/*
 * UMIP: when CPUID.7.0:ECX[2] says the CPU has it, the guest may set CR4.UMIP (bit 11) and
 * reads it back set. When it is absent, say so (the host decides; XenSharp passes it through).
 */
static void test_umip(void)
{
    uint32_t a, b, c, d, cr4;

    cpuid(7, 0, &a, &b, &c, &d);
    if (!(c & (1u << 2))) {
        skip("cr4-umip", "CPUID.7.0:ECX.UMIP is clear on this host");
        return;
    }
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1u << 11;
    asm volatile("mov %0, %%cr4" :: "r"(cr4));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    check("cr4-umip", (cr4 >> 11) & 1, "got cr4 %#x expected UMIP (bit 11) set", cr4);
    cr4 &= ~(1u << 11);
    asm volatile("mov %0, %%cr4" :: "r"(cr4));
}

/* ----------------------------------------------------------- start_info */

static uint64_t memmap_ram_bytes;

static const struct hvm_memmap_table_entry *memmap(const struct hvm_start_info *si)
{
    return (const void *)(uint32_t)si->memmap_paddr;
}

static int test_start_info(const struct hvm_start_info *si)
{
    const struct hvm_memmap_table_entry *e;
    unsigned int i, ram = 0;

    check("start-info-magic", si && si->magic == XEN_HVM_START_MAGIC_VALUE,
          "got %#x expected %#x", si ? si->magic : 0, XEN_HVM_START_MAGIC_VALUE);
    if (!si || si->magic != XEN_HVM_START_MAGIC_VALUE)
        return -1;
    printf("INFO start_info at %p, flags %#x, %u modules, rsdp %#llx\n", si,
           si->flags, si->nr_modules, si->rsdp_paddr);
    check("start-info-version", si->version >= 1, "got %u expected >= 1",
          si->version);

    if (si->cmdline_paddr && si->cmdline_paddr < (1ull << 32)) {
        const char *cmd = (const char *)(uint32_t)si->cmdline_paddr;
        size_t n = strnlen(cmd, 4096);

        printf("INFO cmdline: \"%s\"\n", n < 4096 ? cmd : "(unterminated)");
        check("start-info-cmdline", n < 4096, "got unterminated string at %#llx"
              " expected a NUL within 4096 bytes", si->cmdline_paddr);
    } else {
        printf("INFO cmdline: (none, cmdline_paddr %#llx)\n", si->cmdline_paddr);
        check("start-info-cmdline", si->cmdline_paddr == 0,
              "got cmdline_paddr %#llx expected below 4 GiB", si->cmdline_paddr);
    }

    if (si->version < 1 || !si->memmap_entries || !si->memmap_paddr) {
        check("start-info-memmap", 0, "got %u entries expected >= 1 RAM entry",
              si->version >= 1 ? si->memmap_entries : 0);
        return -1;
    }
    e = memmap(si);
    for (i = 0; i < si->memmap_entries; i++) {
        printf("INFO memmap[%u]: addr=%#llx size=%#llx type=%u\n", i,
               e[i].addr, e[i].size, e[i].type);
        if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM) {
            ram++;
            memmap_ram_bytes += e[i].size;
        }
    }
    check("start-info-memmap", ram >= 1, "got %u RAM entries expected >= 1", ram);
    return 0;
}

/* ---------------------------------------------------------- xen_version */

static void test_xen_version(void)
{
    static char extra[16], caps[1024];
    struct xen_feature_info fi = { .submap_idx = 0 };
    uint32_t a, b, c, d;
    long v, rc;

    v = xen_version(XENVER_version, NULL);
    printf("INFO XENVER_version: %ld.%ld\n", v >> 16, v & 0xffff);
    check("xenver-version", v >= 0 && (v >> 16) >= 4, "got %#lx expected major >= 4", v);
    cpuid(xen_cpuid_base + 1, 0, &a, &b, &c, &d);
    check("xenver-version-cpuid", (uint32_t)v == a, "got %#lx expected %#x (cpuid)",
          v, a);

    rc = xen_version(XENVER_extraversion, extra);
    extra[15] = '\0';
    printf("INFO XENVER_extraversion: \"%s\"\n", extra);
    check_eq("xenver-extraversion", rc, 0);

    rc = xen_version(XENVER_capabilities, caps);
    caps[1023] = '\0';
    printf("INFO XENVER_capabilities: \"%s\"\n", caps);
    check("xenver-capabilities", rc == 0 && strstr(caps, "hvm-3.0-x86_32"),
          "got rc %ld \"%s\" expected rc 0 containing hvm-3.0-x86_32", rc, caps);

    rc = xen_version(XENVER_get_features, &fi);
    printf("INFO XENVER_get_features submap 0: %#x\n", fi.submap);
    check("xenver-features", rc == 0 &&
          (fi.submap & (1u << XENFEAT_auto_translated_physmap)) &&
          (fi.submap & (1u << XENFEAT_hvm_callback_vector)),
          "got rc %ld submap %#x expected auto_translated_physmap|"
          "hvm_callback_vector (%#x)", rc, fi.submap,
          (1u << XENFEAT_auto_translated_physmap) |
          (1u << XENFEAT_hvm_callback_vector));

    check_eq("xenver-pagesize", xen_version(XENVER_pagesize, NULL), 4096);
    check_eq("xenver-unknown-cmd", xen_version(1000, NULL), -XEN_ENOSYS);
    check_eq("xenver-efault", xen_version(XENVER_extraversion, (void *)BAD_ADDR),
             -XEN_EFAULT);
}

/* ------------------------------------------------- console, misc, sched */

static void test_console_and_sched(void)
{
    static const char msg[] = "INFO direct CONSOLEIO_write\n";
    long rc;

    rc = console_io(CONSOLEIO_write, sizeof(msg) - 1, msg);
    check("console-io-write", rc >= 0, "got %ld expected >= 0", rc);
    check_eq("console-io-efault", console_io(CONSOLEIO_write, 16, (void *)BAD_ADDR),
             -XEN_EFAULT);
    check_eq("console-io-unknown-cmd", console_io(99, 0, NULL), -XEN_ENOSYS);

    check_eq("hypercall-unknown-50", hypercall(50, 0, 0, 0, 0, 0), -XEN_ENOSYS);
    check_eq("hypercall-unknown-63", hypercall(63, 0, 0, 0, 0, 0), -XEN_ENOSYS);

    check_eq("sched-yield", sched_op(SCHEDOP_yield, NULL), 0);
    check_eq("sched-unknown-cmd", sched_op(100, NULL), -XEN_ENOSYS);
}

/* --------------------------------------------------------------- hvm_op */

static void test_hvm_params(void)
{
    static const struct { const char *name; uint32_t index; } params[] = {
        { "hvm-param-store-pfn", HVM_PARAM_STORE_PFN },
        { "hvm-param-store-evtchn", HVM_PARAM_STORE_EVTCHN },
        { "hvm-param-console-pfn", HVM_PARAM_CONSOLE_PFN },
        { "hvm-param-console-evtchn", HVM_PARAM_CONSOLE_EVTCHN },
    };
    const uint64_t cb = (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | 0xf3;
    uint64_t v;
    unsigned int i;
    long rc;

    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        v = 0;
        rc = hvm_get_param(params[i].index, &v);
        printf("INFO HVM param %u = %#llx\n", params[i].index, v);
        check(params[i].name, rc == 0 && v != 0,
              "got rc %ld value %#llx expected rc 0 and a nonzero value", rc, v);
    }

    rc = hvm_set_param(HVM_PARAM_CALLBACK_IRQ, cb);
    check_eq("hvm-set-param-callback-irq", rc, 0);
    v = 0;
    rc = hvm_get_param(HVM_PARAM_CALLBACK_IRQ, &v);
    check("hvm-get-param-callback-irq", rc == 0 && v == cb,
          "got rc %ld value %#llx expected rc 0 value %#llx", rc, v, cb);
    hvm_set_param(HVM_PARAM_CALLBACK_IRQ, 0);   /* no event delivery wanted */

    check_eq("hvm-get-param-invalid", hvm_get_param(1000, &v), -XEN_EINVAL);
    check_eq("hvm-op-efault", hvm_op(HVMOP_get_param, (void *)BAD_ADDR), -XEN_EFAULT);
}

/* ------------------------------------------------------------ memory_op */

static struct e820_entry e820[128];
static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));

static void test_memory(const struct hvm_start_info *si, int have_memmap)
{
    struct xen_memory_domain dom = { .domid = DOMID_SELF };
    struct xen_memory_map map = { .nr_entries = 128, .buffer = (uint32_t)e820 };
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint32_t)shinfo_page >> 12,
    };
    const volatile struct shared_info *sh = (const void *)shinfo_page;
    uint32_t ram_pages = memmap_ram_bytes >> 12;
    long cur, max, rc;
    unsigned int i, same;

    cur = memory_op(XENMEM_current_reservation, &dom);
    printf("INFO current_reservation %ld pages, memmap RAM %u pages\n", cur,
           ram_pages);
    check("mem-current-reservation", cur > 0 && (uint32_t)cur >= ram_pages,
          "got %ld expected >= %u (RAM pages in memmap)", cur, ram_pages);
    max = memory_op(XENMEM_maximum_reservation, &dom);
    check("mem-maximum-reservation", max >= cur, "got %ld expected >= %ld", max, cur);

    rc = memory_op(XENMEM_memory_map, &map);
    for (i = 0; rc == 0 && i < map.nr_entries && i < 128; i++)
        printf("INFO e820[%u]: addr=%#llx size=%#llx type=%u\n", i,
               e820[i].addr, e820[i].size, e820[i].type);
    if (!have_memmap) {
        check_eq("mem-memory-map", rc, 0);
    } else {
        const struct hvm_memmap_table_entry *e = memmap(si);

        same = rc == 0 && map.nr_entries == si->memmap_entries;
        for (i = 0; same && i < map.nr_entries; i++)
            same = e820[i].addr == e[i].addr && e820[i].size == e[i].size &&
                   e820[i].type == e[i].type;
        check("mem-memory-map", same, "got rc %ld, %u entries expected rc 0,"
              " %u entries identical to start_info memmap", rc,
              map.nr_entries, si->memmap_entries);
    }

    /* Done after the reservation checks: in Xen the RAM page previously
     * at the gpfn is freed, lowering the reservation by one. */
    rc = memory_op(XENMEM_add_to_physmap, &xatp);
    check_eq("mem-add-to-physmap-shared-info", rc, 0);
    if (rc == 0) {
        uint32_t wc = sh->wc_version;

        printf("INFO shared_info: vcpu0 upcall_pending=%u upcall_mask=%u "
               "wc_version=%u wc_sec=%u\n", sh->vcpu_info[0].evtchn_upcall_pending,
               sh->vcpu_info[0].evtchn_upcall_mask, wc, sh->wc_sec);
        check("shared-info-wc-version", (wc & 1) == 0, "got %u expected even", wc);
    }
}

/* -------------------------------------------------------------- vcpu_op */

static volatile uint32_t ap_magic, ap_vcpu_id = ~0u;
static uint8_t ap_stack[4096] __attribute__((aligned(16)));
static uint8_t vcpu_info_page[4096] __attribute__((aligned(4096)));

void ap_entry(void);
void __attribute__((used, noreturn)) ap_main(void);

/* vCPU 1 starts here with the stack set by VCPUOP_initialise. */
asm(".pushsection .text\n"
    ".globl ap_entry\n"
    "ap_entry:\n"
    "    call ap_main\n"
    "1:  cli; hlt; jmp 1b\n"
    ".popsection");

void ap_main(void)
{
    uint32_t a, b, c, d;

    cpuid(xen_cpuid_base + 4, 0, &a, &b, &c, &d);
    ap_vcpu_id = (a & XEN_HVM_CPUID_VCPU_ID_PRESENT) ? b : ~0u;
    barrier();
    ap_magic = AP_MAGIC;
    /* Stay up (VCPUOP_is_up keeps reporting 1); events stay undelivered
     * because interrupts are off. */
    for (;;)
        sched_op(SCHEDOP_block, NULL);
}

static void init_ap_context(struct vcpu_hvm_context *ctx)
{
    struct vcpu_hvm_x86_32 *r = &ctx->cpu_regs.x86_32;

    memset(ctx, 0, sizeof(*ctx));
    ctx->mode = VCPU_HVM_MODE_32B;
    r->eip = (uint32_t)ap_entry;
    r->esp = (uint32_t)(ap_stack + sizeof(ap_stack));
    r->eflags = 0x2;                        /* reserved bit 1, IF clear */
    r->cr0 = 0x11;                          /* PE | ET */
    r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = 0xffffffff;
    r->cs_ar = 0xc9b;                       /* code, read, accessed, 32-bit, 4K */
    r->ds_ar = r->ss_ar = r->es_ar = 0xc93; /* data, write, accessed, 32-bit */
    r->tr_limit = 0x67;
    r->tr_ar = 0x8b;                        /* busy 32-bit TSS, present */
}

static void test_vcpus(void)
{
    struct vcpu_register_vcpu_info vi = {
        .mfn = (uint32_t)vcpu_info_page >> 12, .offset = 0,
    };
    static struct vcpu_hvm_context ctx;
    unsigned int nr, i;
    long rc;

    check_eq("vcpu-is-up-0", vcpu_op(VCPUOP_is_up, 0, NULL), 1);
    check_eq("vcpu-register-vcpu-info", vcpu_op(VCPUOP_register_vcpu_info, 0, &vi), 0);

    for (nr = 1; nr < 256 && vcpu_op(VCPUOP_is_up, nr, NULL) != -XEN_ENOENT; nr++)
        ;
    printf("INFO domain has %u vCPUs\n", nr);

    rc = vcpu_op(VCPUOP_is_up, 1, NULL);
    if (rc == -XEN_ENOENT) {
        skip("vcpu-smp", "only one vCPU (VCPUOP_is_up(1) = -ENOENT)");
    } else {
        check_eq("vcpu-is-up-1-before", rc, 0);
        init_ap_context(&ctx);
        check_eq("vcpu-initialise-1", vcpu_op(VCPUOP_initialise, 1, &ctx), 0);
        check_eq("vcpu-up-1", vcpu_op(VCPUOP_up, 1, NULL), 0);
        /* Wait for vCPU 1, yielding instead of spinning. */
        for (i = 0; i < 100000 && ap_magic != AP_MAGIC; i++)
            sched_yield();
        printf("INFO vCPU 1 seen after %u yields\n", i);
        check("vcpu-1-ran", ap_magic == AP_MAGIC, "got magic %#x expected %#x",
              ap_magic, AP_MAGIC);
        check_eq("vcpu-1-cpuid-vcpu-id", (long)ap_vcpu_id, 1);
        check_eq("vcpu-is-up-1-after", vcpu_op(VCPUOP_is_up, 1, NULL), 1);
    }

    init_ap_context(&ctx);
    check_eq("vcpu-initialise-out-of-range", vcpu_op(VCPUOP_initialise, nr, &ctx),
             -XEN_ENOENT);
    check_eq("vcpu-is-up-1000", vcpu_op(VCPUOP_is_up, 1000, NULL), -XEN_ENOENT);
}

/* ----------------------------------------------------------------- main */

int guest_main(const struct hvm_start_info *si)
{
    int have_memmap;

    printf("hypercall-test: starting\n");
    if (!xen_cpuid_base) {
        check("cpuid-signature", 0, "got none expected XenVMMXenVMM in "
              "0x40000000-0x4000ff00");
        printf("hypercall-test: %u passed, %u failed\n", tests_passed, tests_failed);
        return 1;
    }

    test_cpuid();
    test_umip();
    have_memmap = test_start_info(si) == 0;
    test_xen_version();
    test_console_and_sched();
    test_hvm_params();
    test_memory(si, have_memmap);
    test_vcpus();

    printf("hypercall-test: %u passed, %u failed\n", tests_passed, tests_failed);
    return tests_failed != 0;
}
