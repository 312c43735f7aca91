/*
 * A hostile guest: fires random event_channel_op and grant_table_op
 * hypercalls (commands 0..20, argument structures of random words, random
 * counts) and random XENMEM_add_to_physmap calls for grant-table frames.
 * Every call must return (with any value); the hypervisor must survive it
 * and so must the other domains.
 *
 * Options: seed=<n> (default 1), iterations=<n> (default 20000),
 * targets=<id>,<id>... (other domains' ids to aim at; ids near its own,
 * 0, DOMID_SELF and random ones are used anyway), progress=<n> (an INFO
 * line every n calls, default 5000).
 *
 * The guest must not hurt itself, so every random word is kept away from
 * its own image (text, data, stack, hypercall page) and from the special
 * pages (console ring, XenStore ring), both as an address and as a frame
 * number.  "Good" pointers and frames lie in a scratch area of RAM above
 * the image; "bad" ones lie outside RAM (or wrap around 4 GiB).  Huge
 * counts are used only with bad pointers that don't wrap, or with arrays
 * that start in the last page of RAM and so run off its end.  The console's event channel is
 * never closed and EVTCHNOP_reset is never aimed at itself, so its output
 * still reaches the console.
 *
 * Output:
 *   INFO hostile-fuzz seed=<s> iterations=<m> ...
 *   INFO <n> calls                                 (progress)
 *   INFO results: ...                              (return values seen)
 *   hostile-fuzz: <m> calls done
 *   PASS image-intact                              (text/rodata/data checksum)
 *   hostile-fuzz: <P> passed, <F> failed
 * then SHUTDOWN_poweroff (F == 0) or SHUTDOWN_crash.
 */
#include "guest.h"

#define KB 1024u
#define MB (1024u * 1024u)
#define WINDOW_SIZE   (64 * KB)     /* argument structures and arrays */
#define TARGET_SIZE   (64 * KB)     /* frames for add_to_physmap and copies */
#define SPECIAL_START 0xFEFF0000u   /* console/XenStore pages and around */
#define SPECIAL_END   0xFF001000u
#define MAX_TARGETS   8

extern char __bss_start[], __bss_end[];

static uint64_t rng;
static uint32_t self, ram_end, image_end, scratch, window, target;
static uint32_t console_port, store_port;
static uint16_t targets[MAX_TARGETS];
static unsigned int nr_targets;

/* Result counters: 0, -EFAULT, -EINVAL, -ENOSYS, -EPERM, -ESRCH, other. */
static unsigned int n_zero, n_efault, n_einval, n_enosys, n_eperm, n_esrch,
    n_other, n_positive;
static long other_rc[8];
static unsigned int other_n[8];

static uint32_t rnd(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

/* Must a word not be used, as an address or as a frame number? */
static int protected_word(uint32_t v)
{
    uint32_t img_pfn_end = (image_end >> 12) + 1;

    if (v >= 0x100000u && v < image_end + 0x1000)
        return 1;                               /* the image, as an address */
    if (v >= 0x100u && v <= img_pfn_end)
        return 1;                               /* ... as a frame number */
    if (v >= SPECIAL_START && v < SPECIAL_END)
        return 1;                               /* special pages, address */
    if (v >= (SPECIAL_START >> 12) && v < (SPECIAL_END >> 12))
        return 1;                               /* ... frame number */
    return 0;
}

static uint32_t sanitize(uint32_t v)
{
    while (protected_word(v))
        v = rnd();
    return v;
}

static uint16_t rand_domid(void)
{
    switch (below(10)) {
    case 0: return 0;
    case 1: return DOMID_SELF;
    case 2: return self;
    case 3: return self + 1;
    case 4: return self - 1;
    case 5: return nr_targets ? targets[below(nr_targets)] : self + 2;
    case 6: return nr_targets ? targets[below(nr_targets)] : 1;
    case 7: return DOMID_FIRST_RESERVED + below(16);   /* IO, XEN, ... */
    case 8: return below(64);
    default: return rnd();
    }
}

static uint32_t good_ptr(void)
{
    return window + below(WINDOW_SIZE - 256);
}

static uint32_t good_pfn(void)
{
    return (below(2) ? target + below(TARGET_SIZE) : good_ptr()) >> 12;
}

static uint32_t bad_ptr(void)
{
    switch (below(4)) {
    case 0: return ram_end + below(SPECIAL_START - ram_end);
    case 1: return SPECIAL_END + below(0 - SPECIAL_END);
    case 2: return 0xFFFFFFFFu - below(64);         /* wraps at 4 GiB */
    default: return sanitize(0x80000000u | rnd());
    }
}

static uint32_t bad_pfn(void)
{
    switch (below(4)) {
    case 0: return (ram_end >> 12) + below((SPECIAL_START - ram_end) >> 12);
    case 1: return 0x100000u + rnd() % 0x7FF00000u;    /* above 4 GiB */
    case 2: return 0xFFFFFFFFu - below(4);
    default: return sanitize(rnd());
    }
}

/* A word that an honest caller might pass: a small port/ref/count, a
 * likely domid, a frame or pointer in the scratch area. */
static uint32_t plausible_word(void)
{
    switch (below(8)) {
    case 0: return below(8);
    case 1: return below(64);
    case 2: {
        static const uint16_t ids[] = { DOMID_SELF, 0 };
        uint32_t k = below(4);

        return k < 2 ? ids[k] : k == 2 ? self
             : nr_targets ? targets[below(nr_targets)] : self + 1;
    }
    case 3: return good_pfn();
    case 4: return good_ptr();
    case 5: return below(4097);                     /* offsets, lengths */
    case 6: return below(2) ? GNTCOPY_source_gref | GNTCOPY_dest_gref : 1;
    default: return below(1024);
    }
}

static int plausible;               /* this call's arguments look honest */

static uint32_t any_word(void)
{
    switch (below(16)) {
    case 0: return 0;
    case 1: return 1;
    case 2:
    case 3: return below(64);
    case 4: return rand_domid() | (below(2) ? (uint32_t)rand_domid() << 16 : 0);
    case 5: return good_ptr();
    case 6: return good_pfn();
    case 7: return bad_ptr();
    case 8: return bad_pfn();
    case 9: return 0xFFFFFFFFu - below(16);
    case 10: return sanitize(0x80000000u | rnd());
    case 11: return below(1100);                     /* ports, refs */
    case 12: return 1u << below(32);
    default: return rnd();
    }
}

/* Every word goes through sanitize(): small values such as a port below
 * 1100 or a 16-bit domid can be a frame number of the image, too. */
static uint32_t rand_word(void)
{
    return sanitize(plausible ? plausible_word() : any_word());
}

/* Random words from addr on: every 4-byte field of a structure that starts
 * at addr is one of them.  (This guest's code may run emulated, so it does
 * as little work per call as it can.) */
static void fill(uint32_t addr, uint32_t len)
{
    uint8_t *p = (uint8_t *)addr;

    for (uint32_t i = 0; i < len; i += 4) {
        uint32_t w = rand_word();

        if (i + 4 <= len) {
            memcpy(p + i, &w, 4);
        } else {
            for (uint32_t b = 0; i + b < len; b++)
                p[i + b] = (uint8_t)(w >> (8 * b));
        }
    }
}

/* An argument pointer and how many elements may follow it.  Arrays that
 * start in the window are short; huge counts go with bad pointers or with
 * pointers in the last page of RAM, whose arrays run off RAM's end. */
static uint32_t rand_arg(uint32_t *count, int array)
{
    uint32_t kind = below(20), p, c;

    c = below(4) ? 1 + below(8) : below(2) ? 0 : rnd();
    if (!array)
        c = 1;
    if (kind < 14) {
        p = good_ptr();
        if (below(4) == 0)
            p &= ~3u;
        if (c > 8)
            c = 1 + below(8);
        fill(p, 32 + c * 32);
    } else if (kind < 16) {
        p = ram_end - 1 - below(256);               /* straddles RAM's end */
        fill(p, ram_end - p);
        if (array && below(2))
            c = 0x1000 + rnd();
    } else if (kind < 19) {
        p = bad_ptr();
        /* An array that wraps around 4 GiB continues at 0, towards the image. */
        if (p >= 0xFFFFF000u && c > 8)
            c = 1 + below(8);
    } else {
        p = below(4096);                            /* page 0: unused */
        if (c > 8)
            c = 1 + below(8);
    }
    *count = c;
    return p;
}

static void tally(long rc)
{
    if (rc == 0)
        n_zero++;
    else if (rc == -XEN_EFAULT)
        n_efault++;
    else if (rc == -XEN_EINVAL)
        n_einval++;
    else if (rc == -XEN_ENOSYS)
        n_enosys++;
    else if (rc == -XEN_EPERM)
        n_eperm++;
    else if (rc == -XEN_ESRCH)
        n_esrch++;
    else if (rc > 0)
        n_positive++;
    else {
        n_other++;
        for (unsigned int i = 0; i < 8; i++) {
            if (other_n[i] && other_rc[i] != rc)
                continue;
            other_rc[i] = rc;
            other_n[i]++;
            break;
        }
    }
}

/* Keeps its own console working: never close its port, never reset itself. */
static void defuse_evtchn(unsigned int cmd, uint32_t arg)
{
    if (arg < window || arg >= window + WINDOW_SIZE)
        return;                 /* outside RAM: nothing to defuse */
    if (cmd == EVTCHNOP_close || cmd == EVTCHNOP_bind_vcpu) {
        uint32_t *port = (uint32_t *)arg;

        if (*port == console_port || *port == store_port)
            *port = 2000 + below(1000);
    }
    if (cmd == EVTCHNOP_reset || cmd == 14 /* reset_cont */) {
        uint16_t *dom = (uint16_t *)arg;

        if (*dom == DOMID_SELF || *dom == self)
            *dom = self + 1 + below(4);
    }
}

static void fuzz_evtchn(void)
{
    unsigned int cmd = below(21);
    uint32_t count, arg = rand_arg(&count, 0);

    defuse_evtchn(cmd, arg);
    tally(event_channel_op(cmd, (void *)arg));
}

static void fuzz_gnttab(void)
{
    unsigned int cmd = below(21);
    uint32_t count, arg = rand_arg(&count, 1);

    tally(gnttab_op(cmd, (void *)arg, count));
}

static void fuzz_physmap(void)
{
    struct xen_add_to_physmap *x;
    uint32_t count, arg = rand_arg(&count, 0);
    uint32_t r = below(20);

    if (arg >= window && arg < window + WINDOW_SIZE) {
        x = (struct xen_add_to_physmap *)arg;
        x->domid = below(4) ? DOMID_SELF : rand_domid();
        x->space = r < 17 ? XENMAPSPACE_grant_table
                 : r < 18 ? XENMAPSPACE_shared_info
                 : 6 + below(100);              /* not a space */
        x->idx = below(2) ? below(8) : below(2) ? XENMAPIDX_grant_table_status | below(8)
                 : rand_word();
        /* Frames land in the target area or outside RAM (never the image);
         * shared_info only outside RAM, so the window never changes under
         * a call. */
        if (x->space == XENMAPSPACE_shared_info || below(3) == 0)
            x->gpfn = bad_pfn();
        else
            x->gpfn = (target + below(TARGET_SIZE)) >> 12;
    }
    tally(memory_op(XENMEM_add_to_physmap, (void *)arg));
}

static uint32_t checksum(uint32_t from, uint32_t to)
{
    uint32_t h = 2166136261u;

    for (const uint8_t *p = (const uint8_t *)from; p < (const uint8_t *)to; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The end of the RAM entry that holds the image. */
static uint32_t find_ram_end(const struct hvm_start_info *si)
{
    const struct hvm_memmap_table_entry *m;
    uint32_t i;

    if (si && si->magic == XEN_HVM_START_MAGIC_VALUE && si->version >= 1 &&
        si->memmap_paddr && si->memmap_paddr < (1ull << 32)) {
        m = (const void *)(uint32_t)si->memmap_paddr;
        for (i = 0; i < si->memmap_entries && i < 64; i++) {
            uint64_t end = m[i].addr + m[i].size;

            if (m[i].type == XEN_HVM_MEMMAP_TYPE_RAM && m[i].addr <= 0x100000 &&
                end > 0x100000)
                return end > 0xC0000000ull ? 0xC0000000u : (uint32_t)end;
        }
    }
    return 0;
}

static void parse_targets(void)
{
    char buf[128];
    const char *p = buf;

    if (cmdline_str("targets", buf, sizeof(buf)) < 0)
        return;
    while (*p && nr_targets < MAX_TARGETS) {
        uint32_t v = 0;
        int digits = 0;

        for (; *p >= '0' && *p <= '9'; p++, digits++)
            v = v * 10 + (*p - '0');
        if (digits)
            targets[nr_targets++] = v;
        if (*p)
            p++;
    }
}

int guest_main(const struct hvm_start_info *si)
{
    uint32_t seed, iterations, progress, i, sum_before, sum_after;
    uint64_t v;

    cmdline_init(si);
    test_guest = "hostile-fuzz";
    seed = cmdline_ull("seed", 1);
    iterations = cmdline_ull("iterations", 20000);
    progress = cmdline_ull("progress", 5000);
    parse_targets();
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    self = xen_domid();
    rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 17) ^ seed;
    if (!rng)
        rng = 1;

    image_end = ((uint32_t)__bss_end + 0xFFF) & ~0xFFFu;
    ram_end = find_ram_end(si);
    scratch = (image_end + MB - 1) & ~(MB - 1);
    if (scratch < 4 * MB)
        scratch = 4 * MB;
    window = scratch;
    target = scratch + WINDOW_SIZE;
    if (!ram_end || target + TARGET_SIZE + 8192 > ram_end)
        test_abort("ram: got RAM up to %#x, image up to %#x: need at least "
                   "%#x", ram_end, image_end, target + TARGET_SIZE + 8192);
    if (hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &v) == 0)
        console_port = v;
    if (hvm_get_param(HVM_PARAM_STORE_EVTCHN, &v) == 0)
        store_port = v;
    printf("INFO hostile-fuzz seed=%u iterations=%u self=%u targets=%u "
           "image_end=%#x ram_end=%#x window=%#x console_port=%u\n",
           seed, iterations, self, nr_targets, image_end, ram_end, window,
           console_port);

    sum_before = checksum(0x100000, (uint32_t)__bss_start);

    for (i = 0; i < iterations; i++) {
        uint32_t r = below(20);

        plausible = below(2);
        if (r < 9)
            fuzz_evtchn();
        else if (r < 18)
            fuzz_gnttab();
        else
            fuzz_physmap();
        if (progress && (i + 1) % progress == 0 && i + 1 < iterations)
            printf("INFO %u calls\n", i + 1);
    }

    sum_after = checksum(0x100000, (uint32_t)__bss_start);
    printf("INFO results: 0: %u, >0: %u, -EFAULT: %u, -EINVAL: %u, -ENOSYS: %u, "
           "-EPERM: %u, -ESRCH: %u, other: %u\n", n_zero, n_positive, n_efault,
           n_einval, n_enosys, n_eperm, n_esrch, n_other);
    for (i = 0; i < 8 && other_n[i]; i++)
        printf("INFO other result %ld: %u times\n", other_rc[i], other_n[i]);
    printf("hostile-fuzz: %u calls done\n", iterations);
    check("image-intact", sum_before == sum_after,
          "got checksum %#x expected %#x over %#x..%p", sum_after, sum_before,
          0x100000, __bss_start);
    return test_summary();
}
