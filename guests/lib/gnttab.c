/*
 * Grant tables for the test guests: the table version, grant-table frame 0
 * placed in a .bss page with XENMEM_add_to_physmap (XENMAPSPACE_grant_table;
 * paging is off, so the page's address is its GFN shifted left by 12), and
 * writing and revoking v1/v2 entries in it.  One frame holds 512 v1 or 256
 * v2 entries; refs below GNTTAB_NR_RESERVED_ENTRIES are the toolstack's.
 */
#include "guest.h"

static uint8_t frame0[4096] __attribute__((aligned(4096)));
static unsigned int version;

long gnttab_set_version(uint32_t v)
{
    struct gnttab_set_version op = { .version = v };
    long rc = gnttab_op(GNTTABOP_set_version, &op, 1);

    if (rc == 0)
        version = op.version;
    return rc;
}

long gnttab_get_version(uint16_t dom, uint32_t *v)
{
    struct gnttab_get_version op = { .dom = dom };
    long rc = gnttab_op(GNTTABOP_get_version, &op, 1);

    if (rc == 0 && v)
        *v = op.version;
    return rc;
}

long gnttab_query_size(uint32_t *nr_frames, uint32_t *max_frames, int16_t *status)
{
    struct gnttab_query_size op = { .dom = DOMID_SELF };
    long rc = gnttab_op(GNTTABOP_query_size, &op, 1);

    if (nr_frames)
        *nr_frames = op.nr_frames;
    if (max_frames)
        *max_frames = op.max_nr_frames;
    if (status)
        *status = op.status;
    return rc;
}

long gnttab_map_frame(uint32_t idx, void *page)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = idx,
        .gpfn = (uint32_t)page >> 12,
    };

    return memory_op(XENMEM_add_to_physmap, &xatp);
}

long gnttab_init(uint32_t v)
{
    uint32_t cur = 0;
    long rc;

    if (gnttab_get_version(DOMID_SELF, &cur) == 0 && cur == v)
        version = v;
    else if ((rc = gnttab_set_version(v)) != 0)
        return rc;
    version = v;
    /* (Re)place frame 0: after a version change its layout differs. */
    return gnttab_map_frame(0, frame0);
}

unsigned int gnttab_version(void)
{
    return version;
}

unsigned int gnttab_entries(void)
{
    return version == 2 ? 4096 / sizeof(union grant_entry_v2)
                        : 4096 / sizeof(struct grant_entry_v1);
}

void gnttab_grant(uint32_t ref, uint16_t domid, uint32_t gfn, int readonly)
{
    uint16_t flags = GTF_permit_access | (readonly ? GTF_readonly : 0);

    if (ref >= gnttab_entries())
        return;
    if (version == 2) {
        volatile union grant_entry_v2 *e = (volatile void *)frame0;

        e[ref].full_page.frame = gfn;
        e[ref].hdr.domid = domid;
        barrier();      /* the entry before the flags that validate it */
        e[ref].hdr.flags = flags;
    } else {
        volatile struct grant_entry_v1 *e = (volatile void *)frame0;

        e[ref].frame = gfn;
        e[ref].domid = domid;
        barrier();
        e[ref].flags = flags;
    }
}

uint16_t gnttab_revoke(uint32_t ref)
{
    volatile uint16_t *flags;

    if (ref >= gnttab_entries())
        return 0;
    if (version == 2)
        flags = &((volatile union grant_entry_v2 *)frame0)[ref].hdr.flags;
    else
        flags = &((volatile struct grant_entry_v1 *)frame0)[ref].flags;
    /* Returns what was there (GTF_reading/GTF_writing show use in v1). */
    return __atomic_exchange_n(flags, 0, __ATOMIC_SEQ_CST);
}

int16_t gnttab_copy1(uint32_t src, uint16_t src_dom, uint16_t src_off,
                     uint32_t dst, uint16_t dst_dom, uint16_t dst_off,
                     uint16_t len, uint16_t flags, long *rc)
{
    struct gnttab_copy op = {
        .source = { .u = src, .domid = src_dom, .offset = src_off },
        .dest = { .u = dst, .domid = dst_dom, .offset = dst_off },
        .len = len, .flags = flags, .status = 1,
    };
    long r = gnttab_op(GNTTABOP_copy, &op, 1);

    if (rc)
        *rc = r;
    return op.status;
}

const char *gntst_name(int status)
{
    static const char *const names[] = {
        "GNTST_okay", "GNTST_general_error", "GNTST_bad_domain",
        "GNTST_bad_gntref", "GNTST_bad_handle", "GNTST_bad_virt_addr",
        "GNTST_bad_dev_addr", "GNTST_no_device_space",
        "GNTST_permission_denied", "GNTST_bad_page", "GNTST_bad_copy_arg",
        "GNTST_address_too_big", "GNTST_eagain", "GNTST_no_space",
    };

    if (status <= 0 && status > -(int)(sizeof(names) / sizeof(names[0])))
        return names[-status];
    return "GNTST_?";
}
